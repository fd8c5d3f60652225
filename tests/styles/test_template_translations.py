"""A style's name and description in each language, edited side by side; the prompt untouched."""

import io
import re

import pytest
from django.core.management import call_command
from django.urls import reverse
from rest_framework.test import APIClient

from styles.models import StyleTemplate
from tests.factories import StyleTemplateFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_the_name_falls_back_to_the_default_language_where_none_is_written():
    template = StyleTemplateFactory(title="Film noir", description="Hard light.",
                                    translations={"zh-hans": {"title": "黑色电影"}})

    assert template.translated("title", "zh-hans") == "黑色电影"
    assert template.translated("description", "zh-hans") == "Hard light."
    assert template.translated("title", "en") == "Film noir"


def test_the_gallery_style_page_and_api_show_the_visitors_language(client):
    template = StyleTemplateFactory(title="Film noir", description="Hard light.",
                                    translations={"zh-hans": {"title": "黑色电影", "description": "硬朗的光线。"}})

    gallery = client.get(reverse("styles:gallery"), HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    detail = client.get(reverse("styles:detail", args=[template.slug]), HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    english = client.get(reverse("styles:gallery"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    api = APIClient().get("/api/v1/templates/", HTTP_ACCEPT_LANGUAGE="zh-CN").json()

    assert "黑色电影" in gallery and "Film noir" not in gallery
    assert "黑色电影" in detail and "硬朗的光线。" in detail
    assert "Film noir" in english and "黑色电影" not in english
    [listed] = api["results"]
    assert (listed["title"], listed["description"]) == ("黑色电影", "硬朗的光线。")


def test_the_admin_edits_both_languages_side_by_side_and_leaves_the_prompt_alone(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    template = StyleTemplateFactory(title="Film noir")
    url = reverse("admin:styles_styletemplate_change", args=[template.pk])

    page = client.get(url).content.decode()
    # One form row holds the English field and its Chinese twin.
    row = re.search(r'<div class="form-row[^"]*field-title field-title_zh_hans[^"]*">', page)
    assert row, "the title and its Chinese translation are not in one row"
    assert 'name="description_zh_hans"' in page

    data = {field: getattr(template, field) for field in (
        "title", "slug", "description", "category", "audience", "sort_order", "prompt", "negative_prompt",
        "img2img_strength", "guidance_scale", "steps", "width", "height", "seed_policy", "seed",
        "likeness_weight", "beauty_weight", "face_strength", "output_long_side", "hires_strength",
    )}
    data.update({
        "title_zh_hans": "黑色电影", "description_zh_hans": "硬朗的光线。",
        "examples-TOTAL_FORMS": "0", "examples-INITIAL_FORMS": "0",
    })
    response = client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    template.refresh_from_db()
    assert template.translations == {"zh-hans": {"title": "黑色电影", "description": "硬朗的光线。"}}
    assert template.prompt == StyleTemplateFactory._meta.declarations["prompt"]


def test_the_seeded_gallery_has_natural_chinese_names_and_english_prompts():
    call_command("seed_likeness", stdout=io.StringIO())

    for template in StyleTemplate.objects.all():
        chinese = template.translations["zh-hans"]
        assert re.search(r"[\u4e00-\u9fff]", chinese["title"]) and re.search(r"[\u4e00-\u9fff]", chinese["description"])
        assert not re.search(r"[\u4e00-\u9fff]", template.prompt)
    assert StyleTemplate.objects.get(slug="hanfu").translated("title", "zh-hans") == "汉服园林"
