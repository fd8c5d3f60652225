"""Prompts that fit the model: the admin counts a template's prompts with the configured
model's tokenizer, shows the counts, and refuses a prompt that CLIP would cut at 77 tokens."""

import pytest
from django.urls import reverse

from avatars.engine.families.sd15 import CLIP_MAX_TOKENS
from avatars.engine.prompts import prompt_token_count
from avatars.engine.rendering import resolve_prompt
from avatars.gpu.engine_config import engine_spec
from styles.admin.forms import WIDEST_IDENTITY
from styles.management.commands.seed_likeness import NEGATIVE_PROMPT, PROMPT_OPENING, TEMPLATES
from styles.models import StyleTemplate
from tests.factories import StyleTemplateFactory, UserFactory

pytestmark = pytest.mark.django_db

FORM_FIELDS = (
    "title", "slug", "description", "category", "audience", "sort_order", "prompt", "negative_prompt",
    "img2img_strength", "guidance_scale", "steps", "width", "height", "seed_policy", "seed",
    "likeness_weight", "beauty_weight", "face_strength", "output_long_side", "hires_strength",
)


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def _tokens(text: str) -> int:
    return prompt_token_count(engine_spec(), text)


def _prompt_of(tokens: int) -> str:
    """A template prompt that counts `tokens` once the widest identity is in it."""
    words = []
    while _tokens(resolve_prompt("photo of {identity} " + " ".join(words), **WIDEST_IDENTITY)) < tokens:
        words.append("portrait")
    prompt = "photo of {identity} " + " ".join(words)
    assert _tokens(resolve_prompt(prompt, **WIDEST_IDENTITY)) == tokens
    return prompt


def _post_change(client, template, **changes):
    data = {field: getattr(template, field) for field in FORM_FIELDS}
    # The example results' inline, left empty.
    examples_inline = {"examples-TOTAL_FORMS": "0", "examples-INITIAL_FORMS": "0"}
    return client.post(
        reverse("admin:styles_styletemplate_change", args=[template.pk]), {**data, **examples_inline, **changes}
    )


def test_the_admin_refuses_a_prompt_that_the_model_would_cut(staff_client):
    template = StyleTemplateFactory()
    original = template.prompt
    too_long = _prompt_of(CLIP_MAX_TOKENS + 1)

    response = _post_change(staff_client, template, prompt=too_long + ", natural skin texture")

    page = response.content.decode()
    assert response.status_code == 200
    assert "the model reads 77" in page and "would silently drop" in page
    assert "natural skin texture" in page
    template.refresh_from_db()
    assert template.prompt == original


def test_the_identity_counts_at_its_widest_and_a_prompt_of_77_tokens_is_accepted(staff_client):
    template = StyleTemplateFactory()
    fits = _prompt_of(CLIP_MAX_TOKENS)
    # Unexpanded, "{identity}" is 3 tokens: the longest avatar identity is 7.
    assert _tokens(fits) < CLIP_MAX_TOKENS

    response = _post_change(staff_client, template, prompt=fits)

    assert response.status_code == 302
    template.refresh_from_db()
    assert template.prompt == fits
    response = _post_change(staff_client, template, prompt=_prompt_of(CLIP_MAX_TOKENS + 1))
    assert response.status_code == 200


def test_the_admin_refuses_a_negative_prompt_that_would_be_cut(staff_client):
    template = StyleTemplateFactory()

    response = _post_change(staff_client, template, negative_prompt=", ".join(["blurry"] * 40))

    assert response.status_code == 200
    assert "The negative prompt is 81 tokens" in response.content.decode()


def test_the_change_page_shows_both_counts(staff_client):
    template = StyleTemplateFactory(negative_prompt="blurry, lowres")
    prompt_count = _tokens(resolve_prompt(template.prompt, **WIDEST_IDENTITY))

    page = staff_client.get(reverse("admin:styles_styletemplate_change", args=[template.pk])).content.decode()

    assert f"{prompt_count} of 77 tokens, with the avatar" in page
    assert "6 of 77 tokens" in page


def test_the_new_pass_settings_are_edited_in_the_admin(staff_client):
    template = StyleTemplateFactory()

    response = _post_change(staff_client, template, face_strength=0.5, output_long_side=1536, hires_strength=0.25)

    assert response.status_code == 302
    template.refresh_from_db()
    assert (template.face_strength, template.output_long_side, template.hires_strength) == (0.5, 1536, 0.25)
    assert _post_change(staff_client, template, face_strength=0.95).status_code == 200


def test_every_seeded_prompt_fits_the_model():
    counts = {slug: _tokens(resolve_prompt(PROMPT_OPENING + look, **WIDEST_IDENTITY)) for slug, *_, look, _ in TEMPLATES}
    assert max(counts.values()) <= CLIP_MAX_TOKENS, counts
    assert _tokens(NEGATIVE_PROMPT) <= CLIP_MAX_TOKENS
    assert StyleTemplate._meta.get_field("face_strength").default == 0.4
