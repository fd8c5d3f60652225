"""Issue 30 in Chromium at 375 and 1280 px, in English and in Chinese: the pages it changed read
entirely in the reader's language (covers, step names, form labels included: tests/browser/
language_check.py), Chinese headings keep their words whole, buttons never touch, the style
checkboxes leave the cover's words clear, and the admin is the site's own. Every page leaves a
screenshot under test-artifacts/screenshots/."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.test import Client
from django.utils import timezone
from playwright.sync_api import expect

from avatars.models import Avatar, RenderJob, TrainingJob
from orders.models import Order
from styles.management.commands.seed_likeness import style_card_png
from tests.factories import (
    AvatarFactory,
    OrderFactory,
    RenderJobFactory,
    StyleTemplateFactory,
    TemplateRequestFactory,
    TrainingJobFactory,
    UserFactory,
)

from .language_check import english_words

pytestmark = pytest.mark.browser

LANGUAGES = ["en", "zh-hans"]
# This test's data that is the customers' own words, shown as written: an e-mail address, an
# avatar's name, a style request's title.
CUSTOMERS_WORDS = ("lin@example.com", "Lin", "Rainy Tokyo street")


@pytest.fixture(params=LANGUAGES)
def language(request) -> str:
    return request.param


def sign_in_as(page, user) -> None:
    """The person's session in the browser, as signing in would leave it."""
    client = Client()
    client.force_login(user)
    page.context.add_cookies([{
        "name": settings.SESSION_COOKIE_NAME, "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
        "url": page.url,
    }])


def open_signed_in(page, user, path: str) -> None:
    page.goto("/")
    sign_in_as(page, user)
    page.goto(path)


def styles() -> list:
    passport = StyleTemplateFactory(
        title="Passport & ID photo", slug="passport-id", category="professional", sort_order=1,
        translations={"zh-hans": {"title": "证件照", "description": "正面、光线均匀、背景素净。"}},
        description="Front-facing, evenly lit, plain background.",
        cover_image=ContentFile(style_card_png(colours=("#d9dde2", "#9aa4ae")), name="c.png"),
    )
    noir = StyleTemplateFactory(
        title="Film noir", slug="film-noir", category="cinematic", sort_order=2,
        translations={"zh-hans": {"title": "黑色电影", "description": "黑白影调、硬朗光线。"}},
        description="Black and white, hard light.", published_at=timezone.now() - timedelta(days=2),
    )
    return [passport, noir]


def customer(language: str):
    user = UserFactory(language=language, time_zone="Asia/Shanghai", email="lin@example.com")
    collecting = AvatarFactory(user=user, name="Lin", subject_class=Avatar.SubjectClass.WOMAN)
    training = AvatarFactory(user=user, name="Lin 2", status=Avatar.Status.TRAINING)
    return user, collecting, training


def check_page(page, screenshot, language: str, name: str) -> None:
    if language == "zh-hans":
        expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
        assert english_words(page, also_allowed=CUSTOMERS_WORDS) == [], f"English left on {page.url}"
        # A heading breaks between words: each line of a Chinese h1 ends where a word ends.
        for heading in page.locator("main h1").all():
            assert heading.evaluate("h => getComputedStyle(h).wordBreak") == "keep-all"
    screenshot(page, f"{language}-{page.viewport_name}-{name}")


def test_the_customers_pages_read_in_the_readers_language(page, screenshot, language):
    passport, noir = styles()
    user, collecting, training = customer(language)
    TrainingJobFactory(avatar=training, status=TrainingJob.Status.SUCCEEDED, progress=100)
    RenderJobFactory(avatar=training, template=passport, status=RenderJob.Status.RUNNING, progress=40)
    RenderJobFactory(avatar=training, template=noir, kind=RenderJob.Kind.INITIAL)
    TemplateRequestFactory(title="Rainy Tokyo street", author=user)
    order = OrderFactory(user=user, avatar=collecting, status=Order.Status.AWAITING_PAYMENT)

    open_signed_in(page, user, "/")
    check_page(page, screenshot, language, "landing")

    page.goto("/styles/")
    # Covers: the words are page text over the picture, in the reader's language.
    cover = page.locator(".style-card", has=page.locator(".style-cover-picture")).locator(".style-cover-words")
    expect(cover).to_contain_text("证件照" if language == "zh-hans" else "Passport & ID photo")
    # "New" marks the style published two days ago, not the other.
    expect(page.locator(".style-new")).to_have_count(1)
    expect(page.locator(".style-card", has_text="证件照" if language == "zh-hans" else "Passport").locator(".style-new")).to_have_count(0)
    check_page(page, screenshot, language, "styles")

    page.goto("/styles/passport-id/")
    use, all_styles = page.locator("main .button").first, page.locator("main a", has_text="全部风格" if language == "zh-hans" else "All styles")
    assert all_styles.bounding_box()["y"] >= use.bounding_box()["y"] + use.bounding_box()["height"] + 8, "buttons touch"
    check_page(page, screenshot, language, "style")

    page.goto("/styles/requests/")
    check_page(page, screenshot, language, "requests")

    page.goto(f"/avatars/{collecting.public_id}/")
    # At phone width a ticked box sits on the cover's picture, never on its words.
    choice = page.locator(".style-choice").first
    box, words = choice.locator("input").bounding_box(), choice.locator(".style-cover-words").bounding_box()
    assert box["y"] + box["height"] <= words["y"] or box["x"] + box["width"] <= words["x"]
    check_page(page, screenshot, language, "upload")

    page.goto(f"/avatars/{training.public_id}/")
    steps = page.locator("#job-list li > span:first-child")
    expect(steps.nth(1)).to_have_text("首批写真：证件照" if language == "zh-hans" else "First portraits: Passport & ID photo")
    check_page(page, screenshot, language, "progress")

    page.goto("/accounts/my-data/")
    check_page(page, screenshot, language, "my-data")

    page.goto(f"/orders/{order.public_id}/local-pay/")
    pay, back = page.locator("main button.button"), page.locator("main a", has_text="返回订单" if language == "zh-hans" else "Back to the order")
    assert back.bounding_box()["y"] >= pay.bounding_box()["y"] + pay.bounding_box()["height"] + 8, "buttons touch"
    check_page(page, screenshot, language, "local-pay")


def test_the_admin_is_the_sites_own_and_warns_while_the_operator_is_a_placeholder(page_desktop, screenshot, language):
    page = page_desktop
    passport, _noir = styles()
    staff = UserFactory(is_staff=True, is_superuser=True, language=language, email="operator@example.com")
    user, collecting, training = customer("en")
    RenderJobFactory(avatar=training, template=passport, status=RenderJob.Status.QUEUED)
    OrderFactory(user=user, avatar=collecting, status=Order.Status.PAID, paid_at=timezone.now())
    TemplateRequestFactory(title="Rainy Tokyo street", author=user,
                           reference_image=ContentFile(style_card_png(colours=("#223344", "#8899aa")), name="r.png"))

    open_signed_in(page, staff, "/admin/")
    expect(page.locator("#site-name")).to_have_text("Likeness 管理后台" if language == "zh-hans" else "Likeness administration")
    screenshot(page, f"{language}-admin-index")

    page.goto("/admin/dashboard/")
    expect(page.locator("#operator-unset")).to_contain_text("LIKENESS_OPERATOR_NAME")
    expect(page.locator("#styles-without-examples")).to_contain_text("证件照" if language == "zh-hans" else "Passport & ID photo")
    # The GPU bars stay inside their block.
    block = page.locator("section", has=page.locator("#gpu-days")).bounding_box()
    for bar in page.locator("#gpu-days meter").all():
        box = bar.bounding_box()
        assert box["x"] + box["width"] <= block["x"] + block["width"]
    screenshot(page, f"{language}-admin-dashboard")

    for name, path in [("orders", "/admin/orders/order/"), ("render-jobs", "/admin/avatars/renderjob/"),
                       ("requests", "/admin/styles/templaterequest/")]:
        page.goto(path)
        # The list fits 1280 px: nothing runs off the right edge.
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280, f"{name} is wider than the screen"
        screenshot(page, f"{language}-admin-{name}")

