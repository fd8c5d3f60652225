"""Issue 16 in Chromium, at both sizes: the customer's pages lead with pictures, and the bugs seen
on the way stay fixed (the operator's pages: test_operator_pages.py)."""

import io
import re
import zipfile

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone
from PIL import Image
from playwright.sync_api import expect

from avatars.models import Avatar, Portrait, RenderJob
from orders.models import Order
from styles.models import StyleTemplate, TemplateRequest
from tests.browser.test_accounts import sign_in
from tests.factories import (
    AvatarFactory,
    OrderFactory,
    PortraitFactory,
    RenderJobFactory,
    StyleTemplateFactory,
    TemplateRequestFactory,
    TemplateVoteFactory,
    UserFactory,
)

pytestmark = pytest.mark.browser

PASSWORD = "a long enough passphrase 7"
TINY = "tiny engine: not a real model"


@pytest.fixture
def worker_settings() -> dict:
    return {"LIKENESS_MIN_PHOTOS": 3}


def png(colour, size=(64, 80)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


def portrait_of(avatar, template, colour, **fields) -> Portrait:
    portrait = PortraitFactory(avatar=avatar, template=template, width=64, height=80, engine_label=TINY, **fields)
    portrait.image.save("portrait.png", ContentFile(png(colour)))
    return portrait


def customer(**avatar_fields):
    user = UserFactory(password=PASSWORD)
    return user, AvatarFactory(user=user, **avatar_fields)


def finished_avatar():
    """A trained avatar with two styles, the first in two versions ("more like me")."""
    user, avatar = customer(status=Avatar.Status.READY, engine_label=TINY, subject_class=Avatar.SubjectClass.MAN)
    noir = StyleTemplateFactory(title="Film noir", sort_order=1)
    studio = StyleTemplateFactory(title="Studio white", sort_order=2)
    first = portrait_of(avatar, noir, (40, 40, 60), likeness_score=61.0, parameters={"lora_scale": 1.0})
    second = portrait_of(avatar, noir, (90, 60, 50), likeness_score=74.0, version=2, more_like_me_of=first,
                         take=Portrait.Take.MORE_LIKE_ME,
                         parameters={"lora_scale": 1.2})
    portrait_of(avatar, studio, (200, 200, 190), likeness_score=68.0)
    for template in (noir, studio):
        RenderJobFactory(avatar=avatar, template=template, status="succeeded", progress=100, stage="done")
    return user, avatar, first, second


def test_the_upload_page_keeps_its_pay_box_buttons_and_styles_up_to_date(page, screenshot, faces_dir, tmp_path):
    user, avatar = customer(subject_class=Avatar.SubjectClass.MAN)
    StyleTemplateFactory(title="Studio white", sort_order=1)
    StyleTemplateFactory(title="Qipao, old Shanghai", audience=StyleTemplate.Audience.WOMEN, sort_order=2)
    StyleTemplateFactory(title="Film noir", sort_order=3, description="Hard light, deep shadows, 1940s.")
    sign_in(page, user.email, PASSWORD)
    page.goto(f"/avatars/{avatar.public_id}/")
    screenshot(page, "upload-empty")

    # Bug 4: a style for women is not offered to an avatar of a man. Covers: placeholders that say what they are.
    expect(page.locator(".style-choice")).to_have_count(2)
    expect(page.locator("#styles")).not_to_contain_text("Qipao")
    expect(page.locator(".style-choice .style-cover-placeholder").first).to_contain_text("Studio white")
    expect(page.locator(".style-choice", has_text="Film noir").locator(".placeholder-words")).to_have_text(
        "Hard light, deep shadows, 1940s.")
    expect(page.get_by_role("checkbox", name="Film noir")).not_to_be_checked()
    # Do/don't examples and a file button that looks like one.
    expect(page.locator(".guide-donts li")).to_have_count(4)
    expect(page.locator("label.file-button")).to_have_text("Choose photos")

    # Bug 2: the pay box follows every upload, and each new photo can be removed at once.
    page.locator("#photo-input").set_input_files([faces_dir / "obama" / "obama-1.jpg"])
    expect(page.locator("#readiness-text")).to_contain_text("2 more needed", timeout=60_000)
    expect(page.locator("#pay")).to_contain_text("Add 2 more good photos", use_inner_text=True)
    expect(page.locator("#photo-grid .photo-card").first.get_by_role("button", name="Remove")).to_be_visible()

    page.locator("#photo-input").set_input_files([
        faces_dir / "obama" / "obama-2.jpg", faces_dir / "obama" / "obama-3.jpg",
        faces_dir / "multi" / "obama_and_biden.jpg",
    ])
    expect(page.locator("#upload-status")).to_have_text("All photos checked.", timeout=90_000)
    expect(page.locator("#readiness-text")).to_contain_text("ready to train")
    expect(page.locator("#pay")).to_contain_text("Pick at least one style", use_inner_text=True)
    # A refused photo shows why, with its own small picture, apart from the good ones, below them.
    refused = page.locator("#refused-grid .photo-card.rejected")
    expect(refused).to_have_count(1)
    expect(refused.get_by_role("img", name="obama_and_biden.jpg")).to_be_visible()
    expect(page.locator("#refused-count")).to_have_text("(1)")
    expect(page.locator("#photo-grid .photo-card.rejected")).to_have_count(0)
    expect(page.locator("#photo-grid .photo-card.accepted img")).to_have_count(3)
    refused_thumbnail = page.request.get(refused.locator("img").get_attribute("src"))
    with Image.open(io.BytesIO(refused_thumbnail.body())) as small:
        assert small.size == (128, 128)
    assert page.locator("#photo-grid").bounding_box()["y"] < page.locator("#refused-grid").bounding_box()["y"]
    # Bug 10: thumbnails are squares cropped around the face.
    thumbnail = page.request.get(page.locator("#photo-grid .photo-card.accepted img").first.get_attribute("src"))
    with Image.open(io.BytesIO(thumbnail.body())) as square:
        assert square.size == (320, 320)
    screenshot(page, "upload-verdicts")
    page.get_by_role("button", name="Clear these").click()
    expect(page.locator("#refused-photos")).to_be_hidden()
    expect(page.locator("#photo-grid .photo-card.accepted")).to_have_count(3)

    # A stretched copy of an accepted photo is refused, among the refused, beside the thumbnail of the photo it copies.
    with Image.open(faces_dir / "obama" / "obama-1.jpg") as original:
        stretched = original.convert("RGB").resize((round(original.width * 1.25), original.height))
    stretched.save(tmp_path / "obama-wide.jpg", quality=90)
    page.locator("#photo-input").set_input_files([tmp_path / "obama-wide.jpg"])
    copy = page.locator("#refused-grid .photo-card", has_text="obama-wide.jpg")
    expect(copy.locator(".duplicate-match")).to_have_text("Same shot as obama-1.jpg", timeout=60_000)
    expect(copy.locator(".duplicate-match img")).to_be_visible()
    copy.scroll_into_view_if_needed()
    screenshot(page, "upload-duplicate-match")

    # Bug 2: ticking a style saves it, says so, keeps the page where it is and opens the pay step.
    page.locator("#styles").scroll_into_view_if_needed()
    scrolled = page.evaluate("window.scrollY")
    page.locator(".style-choice label", has_text="Film noir").click()
    expect(page.locator("#styles-status")).to_have_text("Styles saved: 1 chosen.")
    expect(page.get_by_role("button", name="Pay and train")).to_be_visible()
    assert page.evaluate("window.scrollY") == scrolled
    assert [t.title for t in Avatar.objects.get(pk=avatar.pk).templates.all()] == ["Film noir"]
    if page.viewport_name == "phone":
        page.evaluate("window.scrollTo(0, 0)")
        # The pay action stays on screen while the cards scroll by.
        expect(page.get_by_role("button", name="Pay and train")).to_be_in_viewport()
    screenshot(page, "upload-style-picked")


def test_my_avatars_says_how_many_photos_and_shows_each_best_portrait(page, screenshot):
    user = UserFactory(password=PASSWORD)
    sign_in(page, user.email, PASSWORD)
    page.goto("/avatars/")
    # Bug 3: the number comes from LIKENESS_MIN_PHOTOS.
    expect(page.locator(".avatar-list")).to_contain_text("it takes 3 or more selfies")
    screenshot(page, "my-avatars-empty")

    avatar = AvatarFactory(user=user, status=Avatar.Status.READY, name="Me in black and white")
    template = StyleTemplateFactory()
    portrait_of(avatar, template, (10, 10, 10), likeness_score=50.0)
    best = portrait_of(avatar, template, (250, 10, 10), likeness_score=80.0)
    page.reload()
    expect(page.locator(".avatar-thumb img")).to_have_attribute("src", f"/avatars/portraits/{best.public_id}/image/")
    expect(page.locator(".avatar-item")).to_contain_text("2 portraits")
    screenshot(page, "my-avatars")


def test_the_finished_avatar_opens_on_its_portraits_and_downloads_them_all(page, screenshot):
    user, avatar, first, second = finished_avatar()
    StyleTemplateFactory(title="Qipao, old Shanghai", audience=StyleTemplate.Audience.WOMEN)
    StyleTemplateFactory(title="Graduation gown", sort_order=3)
    sign_in(page, user.email, PASSWORD)
    page.goto(f"/avatars/{avatar.public_id}/")

    # The first portrait is on the first screen, the steps folded away, in words.
    expect(page.locator("#portrait-grid .portrait-card img").first).to_be_in_viewport()
    expect(page.locator(".job-details")).not_to_have_attribute("open", "")
    expect(page.locator("#progress-summary")).to_have_text("All done: your portraits are below")
    page.locator(".job-details summary").click()
    expect(page.locator("#job-list")).to_contain_text("Done")
    expect(page.locator("#job-list")).not_to_contain_text("succeeded")
    # Render more: style cards, and only the styles for this avatar (bug 4).
    expect(page.locator("#render-more .style-choice")).to_have_count(1)
    expect(page.locator("#render-more")).to_contain_text("Graduation gown")
    screenshot(page, "avatar-finished")

    with page.expect_download() as download_info:
        page.get_by_role("link", name=re.compile("Download all")).click()
    download = download_info.value
    assert download.suggested_filename.endswith("-portraits.zip")
    with zipfile.ZipFile(download.path()) as archive:
        names = sorted(archive.namelist())
        assert names == sorted([
            f"likeness-tiny-engine-{first.template.slug}-original-1-likeness-61.png",
            f"likeness-tiny-engine-{first.template.slug}-more-like-me-1-likeness-74.png",
            f"likeness-tiny-engine-{avatar.portraits.get(template__title='Studio white').template.slug}-original-1-likeness-68.png",
        ])
        for name in names:
            with Image.open(io.BytesIO(archive.read(name))) as image:
                assert image.size == (64, 80)  # full size, as stored
                assert image.text["Comment"] == f"Engine: {TINY}"
        with Image.open(io.BytesIO(archive.read(f"likeness-tiny-engine-{first.template.slug}-more-like-me-1-likeness-74.png"))) as v2:
            assert v2.convert("RGB").getpixel((5, 5)) == (90, 60, 50)


def test_the_portrait_page_shows_it_large_full_screen_and_beside_its_versions(page, screenshot):
    user, avatar, first, second = finished_avatar()
    sign_in(page, user.email, PASSWORD)
    page.goto(f"/avatars/portraits/{second.public_id}/")

    expect(page.get_by_role("heading", level=1)).to_have_text("Film noir")
    # Bug 10: no jargon.
    expect(page.locator("main")).not_to_contain_text("avatar weight")
    cards = page.locator(".version-row .version-card")
    expect(cards).to_have_count(2)
    expect(cards.nth(0)).to_contain_text("likeness 61/100")
    expect(cards.nth(1)).to_contain_text("likeness 74/100")
    expect(cards.nth(1).locator(".likeness-change.up")).to_have_text("+13 over the one before")
    first_box, second_box = cards.nth(0).bounding_box(), cards.nth(1).bounding_box()
    assert abs(first_box["y"] - second_box["y"]) < 2 and second_box["x"] > first_box["x"], "side by side"
    screenshot(page, "portrait")

    page.get_by_role("button", name="Show full screen").click()
    viewer = page.locator("#viewer")
    expect(viewer).to_be_visible()
    box = page.locator("#viewer-image").bounding_box()
    size = page.viewport_size
    assert box["width"] >= size["width"] - 2 and box["height"] >= size["height"] * 0.6
    # Every portrait of the avatar, in the order of its page (each style's closest first),
    # each with its caption, its download and the engine that made it.
    studio = avatar.portraits.get(template__title="Studio white")
    expected = [
        (second, "Film noir, more like me 1, likeness 74/100"),
        (first, "Film noir, original 1, likeness 61/100"),
        (studio, "Studio white, original 1, likeness 68/100"),
        (second, "Film noir, more like me 1, likeness 74/100"),
    ]
    for step, (shown, caption) in enumerate(expected):
        if step:
            page.keyboard.press("ArrowRight")
        expect(page.locator("#viewer-image")).to_have_attribute("src", f"/avatars/portraits/{shown.public_id}/image/")
        expect(page.locator("#viewer-caption")).to_have_text(caption)
        expect(page.locator("#viewer-download")).to_have_attribute("href", f"/avatars/portraits/{shown.public_id}/download/")
        expect(page.locator("#viewer-engine")).to_have_text("tiny engine: not a real model")
        if step == 0:
            screenshot(page, "portrait-full-screen")
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#viewer-position")).to_have_text("3 / 3")
    with page.expect_download() as download_info:
        page.locator("#viewer-download").click()
    assert download_info.value.suggested_filename == f"likeness-tiny-engine-{studio.template.slug}-original-1-likeness-68.png"
    page.keyboard.press("Escape")
    expect(viewer).to_be_hidden()
    # With the viewer closed the arrow keys walk the portrait pages.
    page.keyboard.press("ArrowRight")
    expect(page).to_have_url(re.compile(f"/avatars/portraits/{first.public_id}/$"))
    page.wait_for_load_state()  # viewer.js is deferred: it listens once the page has loaded
    page.keyboard.press("ArrowLeft")
    expect(page).to_have_url(re.compile(f"/avatars/portraits/{second.public_id}/$"))

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete this portrait").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("deleted")
    assert not Portrait.objects.filter(pk=second.pk).exists()


def test_after_paying_the_order_page_and_the_progress_say_where_things_stand(page, screenshot):
    # Bug 5: paid long ago and trained: the order page leads to the portraits, not "queued for training".
    user, avatar, first, second = finished_avatar()
    order = OrderFactory(user=user, avatar=avatar, status=Order.Status.PAID, paid_at=timezone.now())
    sign_in(page, user.email, PASSWORD)
    page.goto(f"/orders/{order.public_id}/")
    expect(page.locator(".order-status")).not_to_contain_text("queued for training")
    expect(page.get_by_role("link", name="See my portraits")).to_be_visible()
    # Bug 10: one price format, an order reference instead of a UUID.
    expect(page.locator(".lede")).to_contain_text("¥9.90")
    expect(page.locator("main")).not_to_contain_text(str(order.public_id))
    screenshot(page, "order-paid")

    # Bug 5: a trained avatar whose first portraits still wait is not "Ready".
    waiting = AvatarFactory(user=user, status=Avatar.Status.READY)
    RenderJobFactory(avatar=waiting, template=first.template, kind=RenderJob.Kind.INITIAL, status="queued")
    page.goto(f"/avatars/{waiting.public_id}/")
    expect(page.locator("#progress-summary")).to_contain_text("waiting for a free GPU")
    expect(page.locator("#progress-summary")).not_to_contain_text("Ready")
    screenshot(page, "progress-waiting")


def test_style_requests_warn_once_and_show_what_shipped(page, screenshot):
    user = UserFactory(password=PASSWORD)
    wanted = TemplateRequestFactory(title="Wes Anderson pastel")
    TemplateVoteFactory(user=user, request=wanted)
    shipped_style = StyleTemplateFactory(title="Rainy Tokyo night")
    TemplateRequestFactory(title="Tokyo in the rain", status=TemplateRequest.Status.SHIPPED, template=shipped_style)
    sign_in(page, user.email, PASSWORD)
    page.goto("/styles/requests/")
    # Bug 8: a request that shipped is listed with a link to its style.
    expect(page.get_by_role("link", name="Rainy Tokyo night")).to_have_attribute(
        "href", f"/styles/{shipped_style.slug}/")

    page.get_by_label("Title").fill("wes anderson  PASTEL")
    page.get_by_role("button", name="Propose").click()
    # Bug 8: said once, and no "Vote instead" for someone who already voted.
    expect(page.get_by_text("has already been requested")).to_have_count(1)
    expect(page.get_by_role("button", name=re.compile("Vote for"))).to_have_count(0)
    expect(page.locator(".request-duplicate")).to_contain_text("your vote for it is counted")
    screenshot(page, "requests-duplicate")


def test_a_style_page_shows_its_examples_or_a_placeholder_that_names_it(page, screenshot):
    from styles.models import StyleExample

    bare = StyleTemplateFactory(title="Harbour at dawn", category=StyleTemplate.Category.OUTDOOR,
                                description="Mist, soft light, fishing boats.")
    shown = StyleTemplateFactory(title="Film noir")
    for index, colour in enumerate([(30, 30, 30), (120, 120, 120)]):
        example = StyleExample(template=shown, caption=f"Studio sitter {index + 1}", sort_order=index)
        example.image.save("example.png", ContentFile(png(colour)), save=True)
    page.goto(f"/styles/{shown.slug}/")
    expect(page.locator(".example-grid img")).to_have_count(2)
    expect(page.get_by_role("img", name="Studio sitter 2")).to_be_visible()
    screenshot(page, "style-with-examples")
    page.goto(f"/styles/{bare.slug}/")
    expect(page.get_by_role("img", name="Harbour at dawn, Outdoor style")).to_contain_text("Mist, soft light")
    screenshot(page, "style-placeholder")
    page.goto("/styles/")
    screenshot(page, "gallery")
