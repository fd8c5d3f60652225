"""Who owns what, in a real browser at desktop and phone sizes: sign-up with the terms, the
consent screen before the first upload, paying refused until the address is verified, a new
terms version asked for again, the download-my-data zip (its LoRA loaded into the tiny
pipeline with diffusers), and the deletion receipt as a file."""

import io
import json
import re
import zipfile
from pathlib import Path

import pytest
from django.core import mail
from django.core.files.base import ContentFile
from playwright.sync_api import expect

from accounts.models import PhotoConsent, TermsAcceptance, User
from avatars.models import Avatar
from orders.models import Order, Refund
from tests.factories import (
    PASSWORD,
    AvatarFactory,
    OrderFactory,
    PhotoFactory,
    PortraitFactory,
    StyleTemplateFactory,
    UserFactory,
)
from tests.tiny_lora import lora_output_change, tiny_avatar_lora

pytestmark = pytest.mark.browser

ACCEPT_TERMS = "I have read and accept the terms and the privacy notice."


def open_nav(page):
    toggle = page.get_by_role("button", name="Menu")
    if toggle.is_visible():
        toggle.click()


def sign_in(page, email: str):
    page.goto("/accounts/login/")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/avatars/$"))


def png_bytes(colour) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 80), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def test_the_terms_and_privacy_pages(page, screenshot, settings):
    settings.LIKENESS_OPERATOR_NAME = "Portrait Studio Ltd"
    settings.LIKENESS_OPERATOR_CONTACT = "privacy@studio.example"

    page.goto("/")
    page.get_by_role("link", name="Terms").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Terms, in plain words")
    expect(page.locator(".legal-operator")).to_contain_text("Portrait Studio Ltd")
    expect(page.locator(".legal")).to_contain_text(f"kept {settings.LIKENESS_FAILED_PHOTOS_KEEP_DAYS} days")
    screenshot(page, "terms")
    page.get_by_role("link", name="Privacy", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Privacy, in plain words")
    expect(page.locator(".legal-table")).to_contain_text(
        f"After a failed training: {settings.LIKENESS_FAILED_PHOTOS_KEEP_DAYS} days")
    screenshot(page, "privacy")


def test_sign_up_with_the_terms_consent_before_the_first_upload_and_pay_once_verified(page, screenshot, settings):
    settings.LIKENESS_MIN_PHOTOS = 2
    StyleTemplateFactory(title="Window light")
    email = f"owner-{page.viewport_name}@example.com"

    page.goto("/accounts/signup/")
    page.get_by_label("Email address").fill(email)
    page.locator("#id_password1").fill(PASSWORD)
    page.locator("#id_password2").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.locator(".terms-box .errorlist")).to_contain_text("Tick the box")
    screenshot(page, "signup-terms-not-ticked")
    page.locator("#id_password1").fill(PASSWORD)
    page.locator("#id_password2").fill(PASSWORD)
    page.get_by_label(ACCEPT_TERMS).check()
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your inbox")
    screenshot(page, "signup-check-your-inbox")
    # The password signs in before the address is confirmed; paying waits for it.
    page.goto("/accounts/login/")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/avatars/$"))
    user = User.objects.get(email=email)
    assert TermsAcceptance.objects.get(user=user).version == settings.LIKENESS_TERMS_VERSION
    expect(page.locator(".verify-banner")).to_contain_text("Confirm your email address to be able to pay")
    screenshot(page, "signed-up-unverified")

    page.get_by_label("Name").fill("Holiday me")
    page.get_by_role("button", name="Start uploading photos").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your photos for “Holiday me”")
    expect(page.locator(".consent-facts")).to_contain_text(f"{settings.LIKENESS_FAILED_PHOTOS_KEEP_DAYS} more days")
    page.get_by_text("What you agree to, word for word").click()
    expect(page.locator(".consent-statement")).to_contain_text("deleted as soon as the avatar is trained")
    screenshot(page, "photo-consent")
    page.get_by_role("button", name="Continue to the photos").click()
    expect(page.locator(".checkbox-row .errorlist")).to_contain_text("Tick the box")
    avatar = Avatar.objects.get(user=user)
    assert not PhotoConsent.objects.filter(avatar=avatar).exists()
    page.get_by_label("Yes, I agree to this use of my photos for this avatar.").check()
    page.get_by_role("button", name="Continue to the photos").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Holiday me")
    expect(page.locator("#upload-form")).to_be_visible()
    assert PhotoConsent.objects.get(avatar=avatar).user == user
    screenshot(page, "upload-page-after-consent")

    # The set as the intake would leave it (the intake itself is the customer journey's test).
    PhotoFactory.create_batch(2, avatar=avatar, image=ContentFile(_small_jpeg(), name="p.jpg"))
    page.reload()
    page.get_by_label("Window light").check()
    expect(page.locator("#styles-status")).to_have_text("Styles saved: 1 chosen.")
    page.get_by_role("button", name="Pay and train").click()
    expect(page).to_have_url(re.compile(r"/accounts/verify-email/\?next="))
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm your email address")
    expect(page.locator(".messages")).to_contain_text("Confirm your email address before paying")
    assert not Order.objects.filter(user=user).exists()
    screenshot(page, "paying-refused-until-verified")

    page.get_by_role("button", name="Send the link again").click()
    expect(page.locator(".messages")).to_contain_text("A new link is on its way")
    sent = [message for message in mail.outbox if message.to == [email]]
    assert len(sent) == 2
    link = re.search(r"https?://\S+/accounts/verify-email/\S+/", sent[-1].body).group(0)
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Your address is confirmed")
    expect(page.locator(".verify-banner")).to_have_count(0)
    screenshot(page, "verified")

    page.goto(f"/avatars/{avatar.public_id}/")
    page.get_by_role("button", name="Pay and train").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Test payment — no real money")
    assert Order.objects.get(user=user).status == Order.Status.AWAITING_PAYMENT
    screenshot(page, "paying-allowed")


def test_a_new_terms_version_asks_a_signed_in_person_again(page, screenshot, settings):
    user = UserFactory(email=f"returning-{page.viewport_name}@example.com")
    avatar = AvatarFactory(user=user, name="Still collecting")
    sign_in(page, user.email)

    settings.LIKENESS_TERMS_VERSION = "2099-01-01"
    page.goto(f"/avatars/{avatar.public_id}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("The terms changed")
    expect(page.locator(".terms-box")).to_contain_text("version 2099-01-01")
    screenshot(page, "terms-changed")
    page.get_by_label("I have read and accept the new terms and privacy notice.").check()
    page.get_by_role("button", name="Accept and continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Still collecting")
    assert TermsAcceptance.objects.filter(user=user, version="2099-01-01").exists()


def test_download_my_data_then_delete_everything_and_keep_the_receipt_file(page, screenshot, tmp_path):
    user = UserFactory(email=f"leaver-{page.viewport_name}@example.com")
    avatar = AvatarFactory(user=user, name="Summer me", status=Avatar.Status.READY,
                           engine_label="tiny engine: not a real model")
    avatar.lora_file.save("avatar.safetensors", ContentFile(tiny_avatar_lora()))
    for version, colour in ((1, (200, 120, 90)), (2, (90, 120, 200))):
        PortraitFactory(avatar=avatar, version=version, image=ContentFile(png_bytes(colour), name="p.png"),
                        width=64, height=80, parameters={"steps": 2, "lora_scale": 0.8 + version / 10})
    order = OrderFactory(user=user, avatar=avatar, status=Order.Status.PAID, stripe_payment_intent_id="pi_1")
    Refund.objects.create(order=order, amount=order.amount, currency=order.currency, reason="Test refund",
                          status=Refund.Status.PENDING)
    sign_in(page, user.email)

    open_nav(page)
    page.get_by_role("link", name="My data", exact=True).click()
    expect(page.locator(".take-it")).to_contain_text("Take it with you")
    screenshot(page, "my-data")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download my data").click()
    download = download_info.value
    assert re.fullmatch(r"likeness-my-data-\d{4}-\d{2}-\d{2}\.zip", download.suggested_filename)
    with zipfile.ZipFile(download.path()) as archive:
        names = archive.namelist()
        archive.extractall(tmp_path)
    folder = tmp_path / f"avatars/summer-me-{avatar.public_id.hex[:8]}"
    assert len(list((folder / "portraits").glob("*.png"))) == 2
    assert len(list((folder / "portraits").glob("*.json"))) == 2
    assert "load_lora_weights" in (folder / "lora" / "README.md").read_text()
    assert json.loads((tmp_path / "orders.json").read_text())[0]["refunds"][0]["reason"] == "Test refund"
    assert {"photo_consents.json", "terms_acceptances.json", "account.json", "README.txt"} <= set(names)
    assert lora_output_change(folder / "lora" / "avatar.safetensors") > 1e-3

    page.get_by_role("link", name="Delete everything…").click()
    page.get_by_label("Type your email address to confirm").fill(user.email)
    page.get_by_role("button", name="Delete everything").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Everything is deleted")
    screenshot(page, "receipt")
    with page.expect_download() as receipt_info:
        page.get_by_role("link", name="Download the receipt").click()
    receipt_file = receipt_info.value
    assert receipt_file.suggested_filename.startswith("likeness-deletion-receipt-")
    text = Path(receipt_file.path()).read_text()
    assert "Everything is deleted" in text and "Portraits" in text
    assert [line.split()[0] for line in text.splitlines() if line.strip().endswith("Portraits")] == ["2"]
    mailed = [message for message in mail.outbox if message.to == [user.email]]
    token = re.search(r"Receipt: (\S+)", text).group(1)
    assert len(mailed) == 1 and "Everything is deleted" in mailed[0].body and token in mailed[0].body
    assert not User.objects.filter(pk=user.pk).exists()


def _small_jpeg() -> bytes:
    """A plain JPEG, as the intake stores a photo's cleaned copy (its thumbnail is drawn from it)."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (96, 96), (180, 140, 120)).save(buffer, format="JPEG")
    return buffer.getvalue()
