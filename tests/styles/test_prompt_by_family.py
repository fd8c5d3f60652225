"""A template's wording per model family: CLIP's tags stay the default, a language-model family
(Z-Image, FLUX.2 klein) may have sentences of its own, counted with that family's tokenizer
against its own limit, rendered for avatars of that family, and seeded for the starter styles."""

import io

import pytest
from django.core.management import call_command
from django.urls import reverse

from avatars.engine.families import PROMPT_WORDING_FAMILIES, family
from avatars.engine.rendering import resolve_prompt
from avatars.services import render_job_plan
from styles.admin.forms import WIDEST_IDENTITY
from styles.management.commands.seed_likeness import NEGATIVE_PROMPT, SENTENCES
from styles.models import StyleTemplate
from tests.factories import AvatarFactory, RenderJobFactory, StyleTemplateFactory, UserFactory
from tests.styles.test_prompt_length import _post_change

pytestmark = pytest.mark.django_db

ZIMAGE, FLUX2_KLEIN = family("zimage"), family("flux2_klein")
SENTENCE = "A realistic photograph of {identity} by a window in soft daylight, natural skin texture."


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def _zimage_prompt_of(tokens: int) -> str:
    """A Z-Image wording that counts `tokens` with Z-Image's tokenizer, the widest identity in it."""
    prompt = "A photograph of {identity}, "
    while ZIMAGE.prompt_token_count(resolve_prompt(prompt, **WIDEST_IDENTITY)) < tokens:
        prompt += "a" if prompt.endswith(("a", " ")) else " "
    assert ZIMAGE.prompt_token_count(resolve_prompt(prompt, **WIDEST_IDENTITY)) == tokens
    return prompt


def test_the_language_model_families_are_the_ones_worded_separately():
    assert {member.name for member in PROMPT_WORDING_FAMILIES} == {"zimage", "flux2_klein"}
    assert (ZIMAGE.prompt_token_limit, FLUX2_KLEIN.prompt_token_limit) == (512, 512)


def test_the_admin_saves_a_wording_per_family_beside_the_default(staff_client):
    template = StyleTemplateFactory()

    response = _post_change(staff_client, template, prompt_zimage=SENTENCE, negative_prompt_zimage="blurry",
                            prompt_flux2_klein="")

    assert response.status_code == 302
    template.refresh_from_db()
    assert template.prompt_by_family == {"zimage": {"prompt": SENTENCE, "negative_prompt": "blurry"}}
    page = staff_client.get(reverse("admin:styles_styletemplate_change", args=[template.pk])).content.decode()
    assert "Prompt (Z-Image)" in page and "Prompt (FLUX.2 klein 4B)" in page
    assert "Negative prompt (FLUX.2 klein 4B)" not in page  # a distilled model takes none
    assert "Blank: the default prompt and negative prompt are used." in page


def test_a_family_wording_is_counted_with_that_familys_tokenizer(staff_client):
    template = StyleTemplateFactory(prompt_by_family={"zimage": {"prompt": SENTENCE}})
    # Far past CLIP's 77, within Z-Image's 512: accepted.
    fits = _zimage_prompt_of(512)
    assert _post_change(staff_client, template, prompt_zimage=fits).status_code == 302
    template.refresh_from_db()
    assert template.prompt_by_family["zimage"]["prompt"] == fits

    response = _post_change(staff_client, template, prompt_zimage=_zimage_prompt_of(512) + " by the sea")

    page = response.content.decode()
    assert response.status_code == 200
    assert "is 523 tokens for Z-Image; its text encoder reads 512" in page and "drop “by the sea”" in page
    template.refresh_from_db()
    assert template.prompt_by_family["zimage"]["prompt"] == fits


def test_a_family_wording_needs_the_identity(staff_client):
    template = StyleTemplateFactory()

    response = _post_change(staff_client, template, prompt_flux2_klein="A photograph of a person.")

    assert response.status_code == 200
    assert "must contain {identity}" in response.content.decode()
    template.refresh_from_db()
    assert template.prompt_by_family == {}


def test_a_family_without_a_wording_renders_the_default_and_a_distilled_one_no_negative_prompt():
    template = StyleTemplateFactory(prompt_by_family={"zimage": {"prompt": SENTENCE}})

    assert template.wording_for(family("sd15")) == (template.prompt, template.negative_prompt)
    assert template.wording_for(ZIMAGE) == (SENTENCE, "")
    assert template.wording_for(FLUX2_KLEIN) == (template.prompt, "")


def test_a_render_job_takes_the_wording_of_its_avatars_family():
    template = StyleTemplateFactory(prompt_by_family={"flux2_klein": {"prompt": SENTENCE, "negative_prompt": "x"}})
    flux_job = RenderJobFactory(avatar=AvatarFactory(engine_family="flux2_klein"), template=template)
    sd_job = RenderJobFactory(avatar=AvatarFactory(engine_family="sd15"), template=template)

    flux = render_job_plan(job=flux_job).parameters
    sd = render_job_plan(job=sd_job).parameters

    assert (flux["prompt"], flux["negative_prompt"]) == (SENTENCE, "")
    assert (sd["prompt"], sd["negative_prompt"]) == (template.prompt, template.negative_prompt)


def test_the_seeded_styles_have_sentences_for_each_family_within_its_limit():
    call_command("seed_likeness", stdout=io.StringIO())

    templates = StyleTemplate.objects.filter(slug__in=SENTENCES)
    assert templates.count() == len(SENTENCES) == 14
    for template in templates:
        for member in PROMPT_WORDING_FAMILIES:
            prompt, negative_prompt = template.wording_for(member)
            assert prompt != template.prompt and "{identity}" in prompt and "plastic" in prompt
            widest = resolve_prompt(prompt, **WIDEST_IDENTITY)
            assert member.prompt_token_count(widest) <= member.prompt_token_limit, (template.slug, member)
            assert negative_prompt == (NEGATIVE_PROMPT if member.takes_negative_prompt else "")


def test_the_seed_adds_the_wordings_to_an_existing_install_and_keeps_the_operators():
    call_command("seed_likeness", stdout=io.StringIO())
    StyleTemplate.objects.update(prompt_by_family={})
    mine = {"zimage": {"prompt": SENTENCE}}
    StyleTemplate.objects.filter(slug="film-noir").update(prompt_by_family=mine)

    out = io.StringIO()
    call_command("seed_likeness", stdout=out)

    assert "14 given prompts worded" in out.getvalue()
    noir = StyleTemplate.objects.get(slug="film-noir")
    assert noir.prompt_by_family["zimage"] == mine["zimage"] and "flux2_klein" in noir.prompt_by_family
    assert all(t.prompt_by_family.keys() == {"zimage", "flux2_klein"} for t in StyleTemplate.objects.all())
    again = io.StringIO()
    call_command("seed_likeness", stdout=again)
    assert "0 given prompts worded" in again.getvalue()
