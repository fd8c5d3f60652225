"""Four portraits per style, each told apart, and the viewer, in both languages at both sizes:
the names on the page, the viewer's caption, download and engine label, the arrow keys, and no
English left in the headings, buttons, captions or viewer of a Chinese page."""

import io
import re

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from PIL import Image
from playwright.sync_api import expect

from avatars.models import Avatar, Photo, Portrait
from tests.browser.conftest import _close_page, _open_page
from tests.factories import AvatarFactory, PhotoFactory, PortraitFactory, StyleTemplateFactory, UserFactory

pytestmark = pytest.mark.browser

TINY = "tiny engine: not a real model"
WORDS = {
    "en": {"original": "original {n}", "reroll": "re-roll {n}", "likeness": "likeness {score}/100",
           "engine": TINY, "closest": "closest to you", "refused": "Refused photos"},
    "zh-hans": {"original": "原版 {n}", "reroll": "重新生成 {n}", "likeness": "相似度 {score}/100",
                "engine": "微型引擎：并非真实模型", "closest": "最像你", "refused": "未通过的照片"},
}
# Names the customer or the operator typed, and words every language writes the same.
KEPT_AS_IS = re.compile(r"Me, mostly|Likeness|English|JPEG|PNG|WebP|HEIC|px|Film noir|Studio white|obama[\w-]*\.jpg")
PAGE_WORDS = ("main h1, main h2, main h3, main button, main .button, main .take-name, main .likeness, "
              "#viewer-caption, #viewer-engine, #viewer-download")


def png(colour) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 80), colour).save(out, format="PNG")
    return out.getvalue()


def english_left(page) -> list[str]:
    texts = [text for text in page.locator(PAGE_WORDS).all_inner_texts() if text.strip()]
    return [text for text in texts if re.search(r"[A-Za-z]{3,}", KEPT_AS_IS.sub("", text))]


@pytest.fixture
def open_page(browser, live_site, request):
    opened = []

    def open_page(viewport: str, language: str, user):
        context, page = _open_page(browser, live_site, viewport, locale="zh-CN" if language == "zh-hans" else "en-US")
        client = Client()
        client.force_login(user)
        context.add_cookies([
            {"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_site.url},
            {"name": "django_language", "value": language, "url": live_site.url},
        ])
        opened.append((context, page))
        return page

    yield open_page
    for context, page in opened:
        _close_page(context, page, request)


def avatar_with_four_portraits_per_style(language: str):
    user = UserFactory(language=language)
    avatar = AvatarFactory(user=user, name="Me, mostly", status=Avatar.Status.READY, engine_label=TINY)
    noir = StyleTemplateFactory(title="Film noir", sort_order=1, translations={"zh-hans": {"title": "黑色电影"}})
    studio = StyleTemplateFactory(title="Studio white", sort_order=2, translations={"zh-hans": {"title": "白色影棚"}})
    portraits = {}
    for template, scores in ((noir, (58, 81, 66, 73)), (studio, (70, 62, 77, 59))):
        ranked = sorted(scores, reverse=True)
        for score in scores:
            portrait = PortraitFactory(avatar=avatar, template=template, width=64, height=80, engine_label=TINY,
                                       likeness_score=score, take_number=ranked.index(score) + 1)
            portrait.image.save("portrait.png", ContentFile(png((score * 3, 40, 255 - score * 3))))
            portraits.setdefault(template.pk, []).append(portrait)
    reroll = PortraitFactory(avatar=avatar, template=studio, width=64, height=80, engine_label=TINY,
                             likeness_score=64, take=Portrait.Take.REROLL, take_number=1)
    reroll.image.save("portrait.png", ContentFile(png((10, 200, 10))))
    return avatar, noir, studio


@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_four_portraits_per_style_told_apart_and_paged_through_in_the_viewer(open_page, screenshot, viewport, language):
    words = WORDS[language]
    avatar, noir, studio = avatar_with_four_portraits_per_style(language)
    page = open_page(viewport, language, avatar.user)

    page.goto(f"/avatars/{avatar.public_id}/")
    noir_cards = page.locator(f"#style-{noir.slug} .portrait-card")
    studio_cards = page.locator(f"#style-{studio.slug} .portrait-card")
    expect(noir_cards).to_have_count(4)
    expect(studio_cards).to_have_count(5)
    # Shown together, the closest first, each named by its take and likeness.
    expect(noir_cards.locator(".take-name")).to_have_text([words["original"].format(n=n) for n in (1, 2, 3, 4)])
    expect(noir_cards.locator(".likeness")).to_have_text([words["likeness"].format(score=s) for s in (81, 73, 66, 58)])
    expect(studio_cards.locator(".take-name")).to_have_text(
        [words["original"].format(n=1), words["original"].format(n=2), words["reroll"].format(n=1),
         words["original"].format(n=3), words["original"].format(n=4)])
    expect(noir_cards.first.locator(".badge")).to_have_text(words["closest"])
    if viewport == "desktop":
        first, second = noir_cards.nth(0).bounding_box(), noir_cards.nth(1).bounding_box()
        assert abs(first["y"] - second["y"]) < 2, "a style's portraits sit side by side"
    assert language == "en" or english_left(page) == []
    screenshot(page, f"avatar-{language}")

    noir_cards.nth(1).locator(".favourite-toggle").click()
    expect(page.locator(f"#style-{noir.slug} .portrait-card.favourite")).to_have_count(1)
    expect(page.locator("#download-favourites")).to_be_visible()

    best = Portrait.objects.get(template=noir, likeness_score=81)
    page.goto(f"/avatars/portraits/{best.public_id}/")
    page.wait_for_load_state()
    page.locator(".portrait-stage .viewer-open").click()
    expect(page.locator("#viewer")).to_be_visible()
    order = [("黑色电影" if language == "zh-hans" else "Film noir", words["original"].format(n=n), s)
             for n, s in ((1, 81), (2, 73), (3, 66), (4, 58))]
    for step, (style, take, score) in enumerate(order):
        if step:
            page.keyboard.press("ArrowRight")
        separator = "，" if language == "zh-hans" else ", "
        expect(page.locator("#viewer-caption")).to_have_text(
            separator.join([style, take, words["likeness"].format(score=score)]))
        expect(page.locator("#viewer-engine")).to_have_text(words["engine"])
        expect(page.locator("#viewer-position")).to_have_text(f"{step + 1} / 9")
        if step == 0:
            assert language == "en" or english_left(page) == []
            screenshot(page, f"viewer-{language}")
    page.keyboard.press("ArrowRight")
    expect(page.locator("#viewer-caption")).to_contain_text("白色影棚" if language == "zh-hans" else "Studio white")
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#viewer-position")).to_have_text("4 / 9")
    with page.expect_download() as download:
        page.locator("#viewer-download").click()
    assert download.value.suggested_filename == f"likeness-tiny-engine-{noir.slug}-original-4-likeness-58.png"
    with Image.open(download.value.path()) as image:
        assert image.text["Title"].startswith("黑色电影，原版 4" if language == "zh-hans" else "Film noir, original 4")
    page.keyboard.press("Escape")
    expect(page.locator("#viewer")).to_be_hidden()
    screenshot(page, f"portrait-{language}")


@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_the_upload_page_shows_good_photos_first_and_refused_ones_with_their_pictures(
    open_page, screenshot, faces_dir, viewport, language
):
    from accounts.consent import photo_consent_give

    user = UserFactory(language=language)
    avatar = AvatarFactory(user=user, name="Me, mostly")
    photo_consent_give(user=user, avatar=avatar)
    for name in ("obama-1.jpg", "obama-2.jpg"):
        photo = PhotoFactory(avatar=avatar, status=Photo.Status.ACCEPTED, original_name=name)
        photo.image.save("photo.jpg", ContentFile((faces_dir / "obama" / name).read_bytes()))
    small = io.BytesIO()
    Image.open(faces_dir / "multi" / "obama_and_biden.jpg").convert("RGB").resize((128, 128)).save(small, format="JPEG")
    PhotoFactory(avatar=avatar, status=Photo.Status.REJECTED, original_name="obama_and_biden.jpg",
                 reason_code="several_faces", reason_details={"faces": 2}, refused_thumbnail=small.getvalue())
    page = open_page(viewport, language, user)

    page.goto(f"/avatars/{avatar.public_id}/")
    expect(page.locator("#photo-grid .photo-card.accepted")).to_have_count(2)
    expect(page.locator("#refused-grid .photo-card img")).to_have_count(1)
    expect(page.locator("#refused-heading")).to_contain_text(WORDS[language]["refused"])
    assert language == "en" or english_left(page) == []
    screenshot(page, f"upload-{language}")
