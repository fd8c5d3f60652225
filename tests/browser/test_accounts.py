"""An account's whole life in a real browser, at desktop and phone sizes."""

import re

import pytest
from django.core import mail
from django.core.files.base import ContentFile
from playwright.sync_api import expect

from accounts.models import DeletionReceipt, User
from orders.models import Order
from tests.factories import AvatarFactory, OrderFactory, PortraitFactory, StyleTemplateFactory

pytestmark = pytest.mark.browser

EMAIL = "ada@example.com"
PASSWORD = "a long enough passphrase 7"
NEW_PASSWORD = "another long passphrase 8"


def open_nav(page):
    """On a phone the navigation sits behind the Menu button."""
    toggle = page.get_by_role("button", name="Menu")
    if toggle.is_visible():
        toggle.click()


def sign_in(page, email: str, password: str):
    page.goto("/accounts/login/")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_sign_up_sign_in_reset_password_see_my_data_and_delete_everything(page, screenshot):
    StyleTemplateFactory(title="Window light", is_published=True)
    StyleTemplateFactory(title="Graduation gown", is_published=True)

    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Portraits that look like you")
    expect(page.locator(".price")).to_have_text("¥9.90")
    expect(page.locator(".cover-card")).to_have_count(2)
    expect(page.locator(".engine-banner")).to_be_visible()
    screenshot(page, "landing")

    page.get_by_role("link", name="Create my avatar").click()
    expect(page).to_have_url(re.compile(r"/accounts/signup/$"))
    page.get_by_label("Email address").fill(EMAIL)
    page.locator("#id_password1").fill(PASSWORD)
    page.locator("#id_password2").fill("not the same")
    page.get_by_label("I have read and accept the terms and the privacy notice.").check()
    page.get_by_role("button", name="Create account").click()
    expect(page.locator(".errorlist")).to_contain_text("didn’t match")
    screenshot(page, "signup-error")
    page.locator("#id_password1").fill(PASSWORD)
    page.locator("#id_password2").fill(PASSWORD)
    page.get_by_label("I have read and accept the terms and the privacy notice.").check()
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your inbox")
    screenshot(page, "signup-check-your-inbox")
    # The link in the mail confirms the address and signs in.
    assert [message.to for message in mail.outbox] == [[EMAIL]]
    page.goto(re.search(r"https?://\S+/accounts/verify-email/\S+/", mail.outbox[0].body).group(0))
    expect(page.get_by_role("heading", level=1)).to_have_text("Your address is confirmed")
    page.get_by_role("link", name="Go to my avatars").click()
    expect(page).to_have_url(re.compile(r"/avatars/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("My avatars")

    open_nav(page)
    screenshot(page, "nav-signed-in")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/$"))
    open_nav(page)
    expect(page.get_by_role("link", name="Sign in")).to_be_visible()

    sign_in(page, EMAIL, "wrong password")
    expect(page.locator(".errorlist")).to_contain_text("correct email address and password")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")
    # The first mail was the sign-up's address check; the second is the reset link.
    assert len(mail.outbox) == 2 and mail.outbox[1].to == [EMAIL]
    reset_link = re.search(r"https?://\S+/password-reset/\S+/", mail.outbox[1].body).group(0)
    page.goto(reset_link)
    page.locator("#id_new_password1").fill(NEW_PASSWORD)
    page.locator("#id_new_password2").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Save the new password").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your password is changed")

    sign_in(page, EMAIL, NEW_PASSWORD)
    expect(page).to_have_url(re.compile(r"/avatars/$"))

    user = User.objects.get(email=EMAIL)
    avatar = AvatarFactory(user=user, name="Summer selfies", status="ready")
    avatar.lora_file.save("avatar.safetensors", ContentFile(b"\0" * 150_000))
    PortraitFactory.create_batch(3, avatar=avatar)
    OrderFactory(user=user, avatar=avatar, status=Order.Status.PAID, stripe_payment_intent_id="pi_123")

    open_nav(page)
    page.get_by_role("link", name="My data").first.click()
    data = page.locator(".avatar-data")
    expect(data).to_contain_text("Summer selfies")
    expect(data.locator(".facts")).to_contain_text("146.5 KB")
    expect(page.locator(".data-table")).to_contain_text("¥9.90")
    screenshot(page, "my-data")

    page.get_by_role("link", name="Delete everything…").click()
    page.get_by_label("Type your email address to confirm").fill("someone@example.com")
    page.get_by_role("button", name="Delete everything").click()
    expect(page.locator(".errorlist")).to_contain_text("not the email address of this account")
    assert User.objects.filter(email=EMAIL).exists()
    screenshot(page, "delete-everything-confirm")
    page.get_by_label("Type your email address to confirm").fill(EMAIL)
    page.get_by_role("button", name="Delete everything").click()

    receipt = DeletionReceipt.objects.get(scope="everything")
    expect(page).to_have_url(re.compile(rf"/accounts/receipts/{receipt.token}/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Everything is deleted")
    lines = page.locator(".receipt-lines li")
    expect(lines.filter(has_text="Portraits")).to_contain_text("3")
    expect(lines.filter(has_text="Avatar files")).to_contain_text("1")
    expect(lines.filter(has_text="Order records")).to_contain_text("1")
    screenshot(page, "receipt")
    assert not User.objects.filter(email=EMAIL).exists()
    assert Order.objects.get().user is None

    sign_in(page, EMAIL, NEW_PASSWORD)
    expect(page.locator(".errorlist")).to_contain_text("correct email address and password")
