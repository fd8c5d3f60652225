"""Examples for every style: the operator shows a finished portrait of a person who agreed, with
that consent written down; the example goes with the portrait; the dashboard names the styles
still without one; and "New" marks only styles published lately."""

import io
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from avatars.services import avatar_delete, portrait_delete
from styles.models import StyleExample, StyleTemplate
from styles.selectors import template_gallery_list
from styles.services import template_publish
from tests.factories import AvatarFactory, PortraitFactory, StyleTemplateFactory, UserFactory

pytestmark = pytest.mark.django_db

PORTRAITS = reverse("admin:avatars_portrait_changelist")


def png(colour) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 50), colour).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def operator(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True, email="operator@example.com"))
    return client


def finished_portrait(engine_label="/models/realvis-v5", colour=(200, 120, 90)):
    portrait = PortraitFactory(avatar=AvatarFactory(), template=StyleTemplateFactory(title="Film noir"),
                               engine_label=engine_label)
    portrait.image.save("p.png", ContentFile(png(colour)))
    return portrait


def show_as_example(client, portraits, **fields):
    return client.post(PORTRAITS, {
        "action": "show_as_style_example", "_selected_action": [p.pk for p in portraits], **fields,
    }, follow=True)


def test_the_operator_shows_a_consenting_persons_portrait_as_an_example_with_the_consent_recorded(operator):
    portrait = finished_portrait()

    asked = show_as_example(operator, [portrait]).content.decode()
    assert "How the person agreed to be shown" in asked and not StyleExample.objects.exists()
    unconfirmed = show_as_example(operator, [portrait], consent_note="Email of 3 Dec: yes").content.decode()
    assert "This field is required" in unconfirmed and not StyleExample.objects.exists()

    done = show_as_example(operator, [portrait], consent_note="Email of 3 Dec: yes", confirmed="on",
                           caption="Lin, in film noir")

    assert "Style examples made: 1." in done.content.decode()
    example = StyleExample.objects.get()
    assert (example.template, example.source_portrait, example.caption) == (portrait.template, portrait, "Lin, in film noir")
    assert example.consent_note == "Email of 3 Dec: yes" and example.consent_recorded_by == "operator@example.com"
    assert example.consent_recorded_at is not None
    with example.image.open("rb") as shown:
        assert shown.read() == png((200, 120, 90))
    page = operator.get(reverse("styles:detail", args=[portrait.template.slug])).content.decode()
    assert reverse("styles:example", args=[portrait.template.slug, example.pk]) in page


def test_the_tiny_engines_output_is_refused_as_an_example(operator):
    portrait = finished_portrait(engine_label="tiny engine: not a real model")

    done = show_as_example(operator, [portrait], consent_note="yes", confirmed="on").content.decode()

    assert "tiny engine" in done and not StyleExample.objects.exists()


@pytest.mark.parametrize("delete", ["portrait", "avatar"])
def test_an_example_goes_with_its_portrait_and_its_file_too(operator, delete, django_capture_on_commit_callbacks):
    portrait = finished_portrait()
    show_as_example(operator, [portrait], consent_note="yes", confirmed="on")
    example_file = StyleExample.objects.get().image.name
    storage = StyleExample.objects.get().image.storage

    with django_capture_on_commit_callbacks(execute=True):
        if delete == "portrait":
            summary = portrait_delete(portrait=portrait)
        else:
            summary = avatar_delete(avatar=portrait.avatar)

    assert not StyleExample.objects.exists()
    assert example_file in summary["files"] and not storage.exists(example_file)


def test_an_example_added_on_the_styles_page_needs_a_consent_note(operator):
    from tests.styles.test_curation import _change_form_data

    template = StyleTemplateFactory()
    url = reverse("admin:styles_styletemplate_change", args=[template.pk])
    upload = {"examples-0-image": ContentFile(png((1, 2, 3)), name="mine.png"), "examples-0-sort_order": "1"}
    data = {**_change_form_data(template), "examples-TOTAL_FORMS": "1"}

    refused = operator.post(url, {**data, **upload})
    assert refused.status_code == 200 and "agreed to be shown" in refused.content.decode()
    upload["examples-0-image"] = ContentFile(png((1, 2, 3)), name="mine.png")
    saved = operator.post(url, {**data, **upload, "examples-0-consent_note": "My own avatar"})

    assert saved.status_code == 302
    example = StyleExample.objects.get()
    assert example.consent_note == "My own avatar" and example.consent_recorded_by == "operator@example.com"


def test_new_marks_only_styles_published_in_the_last_30_days():
    seeded = StyleTemplateFactory(title="Seeded", is_published=True)
    template_publish(template=StyleTemplateFactory(title="Fresh", is_published=False))
    old = template_publish(template=StyleTemplateFactory(title="Old", is_published=False))
    StyleTemplate.objects.filter(pk=old.pk).update(published_at=timezone.now() - timedelta(days=31))

    marked = {template.title: template.is_new for template in template_gallery_list()}

    assert marked == {"Seeded": False, "Fresh": True, "Old": False}
    assert seeded.published_at is None


def test_the_gallery_says_new_only_on_the_new_style(client):
    StyleTemplateFactory(title="Seeded", is_published=True)
    template_publish(template=StyleTemplateFactory(title="Fresh", is_published=False))

    page = client.get(reverse("styles:gallery")).content.decode()

    assert page.count('class="badge style-new"') == 1


def test_the_persons_data_export_says_which_portrait_is_shown_and_on_what_consent(operator, client):
    import json
    import zipfile

    portrait = finished_portrait()
    show_as_example(operator, [portrait], consent_note="Email of 3 Dec: yes", confirmed="on")
    client.force_login(portrait.avatar.user)

    response = client.get(reverse("accounts:my_data_download"))

    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    [record] = [name for name in archive.namelist() if name.endswith(f"{portrait.public_id.hex[:8]}.json")]
    [shown] = json.loads(archive.read(record))["shown_as_style_example"]
    assert shown["consent"] == "Email of 3 Dec: yes" and shown["consent_recorded_at"]
