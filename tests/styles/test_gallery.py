"""The style gallery and a style's page: pinned queries, the operator's order, categories, drafts, covers."""

import io

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from PIL import Image

from styles.models import StyleTemplate
from tests.factories import AvatarFactory, PortraitFactory, StyleTemplateFactory, UserFactory

pytestmark = pytest.mark.django_db


def _cover_png() -> bytes:
    encoded = io.BytesIO()
    Image.new("RGB", (8, 10), (200, 100, 50)).save(encoded, format="PNG")
    return encoded.getvalue()


def _with_cover(template: StyleTemplate) -> StyleTemplate:
    template.cover_image.save("cover.png", ContentFile(_cover_png()), save=True)
    return template


@pytest.mark.parametrize("count", [3, 30])
def test_gallery_query_count_is_pinned_whatever_the_number_of_templates(client, django_assert_num_queries, count):
    for template in StyleTemplateFactory.create_batch(count):
        PortraitFactory.create_batch(2, template=template)
    # The catalogue's version (the public-page cache key), then the templates with their usage.
    with django_assert_num_queries(2):
        response = client.get(reverse("styles:gallery"))
    assert response.status_code == 200
    assert len(response.context["templates"]) == count


def test_gallery_shows_published_templates_in_the_operators_order_with_distinct_users(client):
    second = StyleTemplateFactory(title="Second", sort_order=20)
    first = _with_cover(StyleTemplateFactory(title="First", sort_order=10))
    StyleTemplateFactory(title="Hidden draft", is_published=False)
    avatar = AvatarFactory()
    PortraitFactory.create_batch(3, template=first, avatar=avatar)
    PortraitFactory(template=first)
    body = client.get(reverse("styles:gallery")).content.decode()
    assert body.index("First") < body.index("Second")
    assert "Hidden draft" not in body
    assert "Used by 2 people" in body
    assert reverse("styles:cover", args=[first.slug]) in body
    assert reverse("styles:cover", args=[second.slug]) not in body
    assert 'style="' not in body and "<script>" not in body


def test_gallery_filters_by_category(client):
    StyleTemplateFactory(title="Noir", category=StyleTemplate.Category.CINEMATIC)
    StyleTemplateFactory(title="Headshot", category=StyleTemplate.Category.PROFESSIONAL)
    body = client.get(reverse("styles:gallery"), {"category": "cinematic"}).content.decode()
    assert "Noir" in body and "Headshot" not in body
    everything = client.get(reverse("styles:gallery"), {"category": "no-such"}).content.decode()
    assert "Noir" in everything and "Headshot" in everything


def test_style_page_shows_published_templates_and_hides_drafts_except_from_staff(client):
    published = StyleTemplateFactory(title="Summer beach", description="Sea & <b>sun</b>")
    draft = StyleTemplateFactory(title="Unfinished", is_published=False)
    response = client.get(reverse("styles:detail", args=[published.slug]))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Summer beach" in body and "Sea &amp; &lt;b&gt;sun&lt;/b&gt;" in body
    assert "Use this style" in body
    assert client.get(reverse("styles:detail", args=[draft.slug])).status_code == 404
    client.force_login(UserFactory(is_staff=True))
    assert client.get(reverse("styles:detail", args=[draft.slug])).status_code == 200


def test_covers_are_served_for_published_templates_only(client):
    published = _with_cover(StyleTemplateFactory())
    draft = _with_cover(StyleTemplateFactory(is_published=False))
    coverless = StyleTemplateFactory()
    response = client.get(reverse("styles:cover", args=[published.slug]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content) == _cover_png()
    assert client.get(reverse("styles:cover", args=[draft.slug])).status_code == 404
    assert client.get(reverse("styles:cover", args=[coverless.slug])).status_code == 404
