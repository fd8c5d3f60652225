"""The language switcher in a real browser, on a phone: it changes the language, and a signed-in
customer's choice comes back on another device after signing in again."""

import re

import pytest
from playwright.sync_api import expect

from accounts.models import User
from tests.browser.conftest import VIEWPORTS
from tests.factories import PASSWORD, StyleTemplateFactory, UserFactory

pytestmark = pytest.mark.browser


def phone(browser, live_site, **options):
    """A phone whose browser asks for English and lives in Shanghai's time zone."""
    context = browser.new_context(
        base_url=live_site.url, locale="en-US", timezone_id="Asia/Shanghai", **VIEWPORTS["phone"], **options
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda message: message.type == "error" and page.console_errors.append(message.text))
    page.on("pageerror", lambda error: page.console_errors.append(str(error)))
    return context, page


def sign_in(page, email: str):
    page.goto("/accounts/login/")
    page.locator("#id_username").fill(email)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("form button[type=submit]").last.click()


def sign_out(page):
    toggle = page.locator(".nav-toggle")
    if toggle.is_visible():
        toggle.click()
    page.locator('form[action="/accounts/logout/"] button').click()


def test_the_switcher_changes_the_language_and_the_account_keeps_it(browser, live_site, screenshot):
    StyleTemplateFactory(title="Hanfu garden", translations={"zh-hans": {"title": "汉服园林"}})
    user = UserFactory()
    context, page = phone(browser, live_site)

    page.goto("/styles/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator(".style-title")).to_have_text("Hanfu garden")
    switcher = page.locator(".language-switcher button[value=zh-hans]")
    expect(switcher).to_have_text("简体中文")
    expect(switcher).to_be_visible()  # on a phone too, outside the collapsed menu
    screenshot(page, "gallery-english")

    sign_in(page, user.email)
    page.goto("/styles/")
    page.locator(".language-switcher button[value=zh-hans]").click()

    expect(page).to_have_url(re.compile(r"/styles/$"))
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.locator(".style-title")).to_have_text("汉服园林")
    # Each language is named in itself, so a reader who can't read this one finds theirs.
    expect(page.locator(".language-switcher button[value=en]")).to_have_text("English")
    screenshot(page, "gallery-chinese")
    user.refresh_from_db()
    assert user.language == "zh-hans"
    # The page's script told the site the browser's zone; signing in kept it on the account.
    assert user.time_zone == "Asia/Shanghai"

    sign_out(page)
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.locator(".price")).to_have_text("9.90 元")
    screenshot(page, "landing-signed-out-chinese")
    assert page.console_errors == []
    context.close()

    # Another phone, never switched, whose browser asks for English: signing in brings the
    # account's language back.
    other, page = phone(browser, live_site)
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    sign_in(page, user.email)
    page.goto("/accounts/my-data/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.locator("#locale-language")).to_have_value("zh-hans")
    screenshot(page, "my-data-chinese")

    page.locator(".language-switcher button[value=en]").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    assert User.objects.get(pk=user.pk).language == "en"
    screenshot(page, "my-data-english-again")
    assert page.console_errors == []
    other.close()
