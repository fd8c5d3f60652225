"""`manage.py seed_likeness`: the style templates made once, operator edits left alone, the local staff user."""

import io
import re

import pytest
from django.core.management import call_command
from PIL import Image

from accounts.models import User
from styles.models import StyleTemplate

pytestmark = pytest.mark.django_db


def _seed() -> str:
    out = io.StringIO()
    call_command("seed_likeness", stdout=out)
    return out.getvalue()


def test_seed_twice_creates_the_templates_once_and_leaves_operator_edits_alone():
    first = _seed()
    count = StyleTemplate.objects.count()
    assert count >= 12
    assert f"{count} created" in first
    edited = StyleTemplate.objects.get(slug="film-noir")
    edited.title = "Noir, the operator's way"
    edited.save()

    second = _seed()
    assert StyleTemplate.objects.count() == count
    assert "0 created" in second
    assert StyleTemplate.objects.get(slug="film-noir").title == "Noir, the operator's way"


def test_seeded_templates_are_published_realistic_prompts_with_style_card_covers():
    _seed()
    slugs = set(StyleTemplate.objects.values_list("slug", flat=True))
    assert {"business-headshot", "graduation", "wedding", "hanfu", "film-noir", "hong-kong-90s",
            "studio-white", "summer-beach"} <= slugs
    for template in StyleTemplate.objects.all():
        assert template.is_published
        assert template.prompt.startswith("a realistic photo portrait of {identity}, ")
        assert re.search(r"\d+mm (vintage )?lens", template.prompt)
        assert "plastic skin" in template.negative_prompt and "cgi" in template.negative_prompt
        assert (template.likeness_weight, template.beauty_weight) == (7.5, 2.5)
        assert 25 <= template.steps <= 30
        with template.cover_image.open("rb") as cover, Image.open(cover) as image:
            assert image.format == "PNG" and image.size == (512, 640)


def test_seed_creates_the_local_staff_user_once_and_shows_the_password_once():
    first = _seed()
    password = re.search(r"Staff user admin@likeness\.local, password: (\S+) \(shown once\)", first).group(1)
    staff = User.objects.get(email="admin@likeness.local")
    assert staff.is_staff and staff.is_superuser and staff.check_password(password)

    second = _seed()
    assert password not in second
    assert "admin@likeness.local exists" in second
    assert User.objects.filter(email="admin@likeness.local").count() == 1


def test_seed_adds_no_staff_user_where_a_superuser_already_exists():
    User.objects.create_superuser(email="owner@example.com", password="x" * 20)
    assert "no local staff user created" in _seed()
    assert not User.objects.filter(email="admin@likeness.local").exists()


def test_the_seeded_staff_user_is_verified():
    # An unverified account is one with a confirmation link still to open: the staff's must not be.
    _seed()

    staff = User.objects.get(email="admin@likeness.local")
    assert staff.is_staff and staff.email_verified_at is not None


def test_redraw_covers_replaces_the_seeded_covers_with_wordless_cards_and_deletes_the_old_files(
    django_capture_on_commit_callbacks,
):
    from styles.management.commands.seed_likeness import TEMPLATES, style_card_png

    _seed()
    template = StyleTemplate.objects.get(slug="business-headshot")
    old_name = template.cover_image.name
    storage = template.cover_image.storage
    # A cover from an earlier release, with words drawn in.
    storage.delete(old_name)
    storage.save(old_name, io.BytesIO(b"an old card with English drawn into it"))

    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_likeness", "--redraw-covers", stdout=out)

    template.refresh_from_db()
    assert "Style covers: %d redrawn without words." % len(TEMPLATES) in out.getvalue()
    assert template.cover_image.name != old_name and not storage.exists(old_name)
    colours = next(row[-1] for row in TEMPLATES if row[0] == "business-headshot")
    with template.cover_image.open("rb") as cover:
        assert cover.read() == style_card_png(colours=colours)
