"""A newcomer goes from the landing page to portraits and back out, in Chromium, with real workers.

Sign up -> upload one person's photos plus a stranger's and a group photo -> see those two
refused -> pay in local test mode -> watch progress to the end -> see portraits -> "more like
me" -> download -> a second account reaches none of it -> delete everything -> receipt.
Runs at desktop and phone sizes; every step leaves a screenshot under test-artifacts/.
"""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from avatars.models import Avatar, Portrait
from orders.models import Order
from tests.factories import StyleTemplateFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "a long enough passphrase 7"
# The tiny engine at 64 px with two training steps: the flow is real, only small.
JOURNEY_SETTINGS = {
    "LIKENESS_MIN_PHOTOS": 3,
    "LIKENESS_TRAIN_MAX_SAMPLES": 8,
    "LIKENESS_VALIDATE_EVERY": 0,
    "LIKENESS_CANDIDATES_PER_TEMPLATE": 1,
    "LIKENESS_MAX_REROLLS": 0,
    "LIKENESS_PORTRAITS_PER_STYLE": 4,
    "LIKENESS_HEARTBEAT_STALE_SECONDS": 600,
}
WORK_TIMEOUT_MS = 240_000


@pytest.fixture
def worker_settings() -> dict:
    return JOURNEY_SETTINGS


def open_nav(page):
    page.wait_for_load_state()  # site.js folds the menu as the page loads
    toggle = page.get_by_role("button", name="Menu")
    if toggle.is_visible():
        toggle.click()


def sign_up(page, email: str) -> None:
    page.goto("/accounts/signup/")
    page.get_by_label("Email address").fill(email)
    page.locator("#id_password1").fill(PASSWORD)
    page.locator("#id_password2").fill(PASSWORD)
    page.get_by_label("I have read and accept the terms and the privacy notice.").check()
    page.get_by_role("button", name="Create account").click()
    # Signing up signs no one in (it must not tell whether the address has an account); the
    # password does, before the address is confirmed. The journey confirms it before paying.
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your inbox")
    page.goto("/accounts/login/")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/avatars/$"))


def verification_link(email: str) -> str:
    sent = [message for message in mail.outbox if message.to == [email]]
    return re.search(r"https?://\S+/accounts/verify-email/\S+/", sent[-1].body).group(0)


def test_from_sign_up_to_portraits_and_out_again(page, browser, live_site, q_workers, screenshot, faces_dir):
    StyleTemplateFactory(title="Studio white", steps=2,
                        # no high-resolution pass: four portraits per style on a shared CPU
                        output_long_side=64)
    StyleTemplateFactory(title="Film noir", steps=2, output_long_side=64)
    email = f"journey-{page.viewport_size['width']}@example.com"

    page.goto("/")
    screenshot(page, "landing")
    page.get_by_role("link", name="Create my avatar").click()
    sign_up(page, email)
    screenshot(page, "my-avatars-empty")

    page.get_by_label("Name").fill("Me, mostly")
    page.get_by_label("The photos are of").select_option("man")
    page.get_by_role("button", name="Start uploading photos").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your photos for “Me, mostly”")
    page.get_by_label("Yes, I agree to this use of my photos for this avatar.").check()
    page.get_by_role("button", name="Continue to the photos").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Me, mostly")
    screenshot(page, "intake-empty")

    good = [faces_dir / "obama" / name for name in ("obama-1.jpg", "obama-2.jpg", "obama-3.jpg")]
    stranger = faces_dir / "biden" / "biden-2.jpg"
    group = faces_dir / "multi" / "obama_and_biden.jpg"
    page.locator("#photo-input").set_input_files([*good, stranger, group])
    # The pay step follows the set as it grows, without a reload.
    expect(page.locator("#upload-status")).to_have_text("All photos checked.", timeout=90_000)
    expect(page.locator(".pay")).to_contain_text("Pick at least one style", use_inner_text=True)
    cards = page.locator("#photo-grid .photo-card, #refused-grid .photo-card")
    expect(cards).to_have_count(5)
    expect(page.locator("#photo-grid .photo-card.accepted")).to_have_count(3)
    expect(cards.filter(has_text="biden-2.jpg")).to_have_class(re.compile("rejected"))
    expect(cards.filter(has_text="biden-2.jpg").locator(".verdict")).to_contain_text("different person")
    expect(cards.filter(has_text="obama_and_biden.jpg").locator(".verdict")).to_contain_text("one person")
    expect(page.locator("#readiness-text")).to_contain_text("ready to train")
    screenshot(page, "intake-verdicts")

    page.get_by_label("Studio white").check()
    page.get_by_label("Film noir").check()
    expect(page.locator("#styles-status")).to_have_text("Styles saved: 2 chosen.")
    # The address is confirmed first: paying waits for it.
    page.goto(verification_link(email))
    expect(page.get_by_role("heading", level=1)).to_have_text("Your address is confirmed")
    page.goto(f"/avatars/{Avatar.objects.get(user__email=email).public_id}/")
    page.get_by_role("button", name="Pay and train").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Test payment — no real money")
    screenshot(page, "local-payment")
    page.get_by_role("button", name=re.compile(r"^Pay ")).click()
    expect(page.locator("#order-status")).to_have_text("Paid")
    screenshot(page, "order-paid")

    page.get_by_role("link", name="Watch the progress").click()
    expect(page.locator("#progress")).to_be_visible()
    # Every word the avatar's badge shows while the page watches, kept across the reload that
    # brings the portraits in.
    page.evaluate("""() => {
        const badge = document.getElementById("avatar-badge");
        const note = () => sessionStorage.setItem("badges",
            JSON.stringify([...JSON.parse(sessionStorage.getItem("badges") || "[]"), badge.textContent]));
        note();
        new MutationObserver(note).observe(badge, { childList: true, characterData: true, subtree: true });
    }""")
    screenshot(page, "progress")
    expect(page.locator("#portrait-grid .portrait-card")).to_have_count(8, timeout=WORK_TIMEOUT_MS)
    expect(page.locator(".likeness").first).to_be_visible()
    seen = page.evaluate("JSON.parse(sessionStorage.getItem('badges'))")
    badges = [text for index, text in enumerate(seen) if index == 0 or text != seen[index - 1]]
    assert len(badges) >= 2 and badges[-1] in ("Rendering portraits", "Ready"), badges
    assert set(badges) <= {"Paid, waiting for training", "Training", "Rendering portraits", "Ready"}, badges
    expect(page.locator("#avatar-badge")).to_have_text("Ready")
    # Four portraits per style, shown together, each named.
    for style in ("Studio white", "Film noir"):
        section = page.locator(".style-portraits", has=page.get_by_role("heading", name=re.compile(style)))
        expect(section.locator(".take-name")).to_have_text([f"original {n}" for n in (1, 2, 3, 4)])
    screenshot(page, "portraits")

    avatar = Avatar.objects.get(user__email=email)
    assert avatar.status == Avatar.Status.READY
    assert not avatar.photos.exclude(image="").exists(), "photos must be gone once the avatar is trained"
    assert Order.objects.get(avatar=avatar).status == "paid"

    first = page.locator("#portrait-grid .portrait-card").first
    first.get_by_role("button", name="More like me").click()
    expect(page.locator("#portrait-grid .portrait-card")).to_have_count(9, timeout=WORK_TIMEOUT_MS)
    improved = Portrait.objects.get(avatar=avatar, version=2)
    assert improved.parameters["lora_scale"] > improved.more_like_me_of.parameters["lora_scale"]
    page.goto(f"/avatars/portraits/{improved.public_id}/")
    expect(page.locator(".version-row .version-card")).to_have_count(2)
    screenshot(page, "more-like-me-versions")

    with page.expect_download() as download_info:
        page.locator(".version-row .version-card.current").get_by_role("link", name="Download").click()
    download = download_info.value
    assert re.search(r"-more-like-me-1(-likeness-\d+)?\.png$", download.suggested_filename), download.suggested_filename
    with open(download.path(), "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"

    private_urls = [
        f"/avatars/{avatar.public_id}/",
        f"/avatars/{avatar.public_id}/progress.json",
        f"/avatars/portraits/{improved.public_id}/",
        f"/avatars/portraits/{improved.public_id}/image/",
        f"/avatars/portraits/{improved.public_id}/download/",
        f"/orders/{Order.objects.get(avatar=avatar).public_id}/",
    ]
    stranger_context = browser.new_context(base_url=live_site.url, viewport=page.viewport_size)
    try:
        stranger_page = stranger_context.new_page()
        sign_up(stranger_page, f"stranger-{page.viewport_size['width']}@example.com")
        for url in private_urls:
            response = stranger_page.goto(url)
            assert response.status == 404, url
        screenshot(stranger_page, "stranger-sees-404")
    finally:
        stranger_context.close()

    open_nav(page)
    page.get_by_role("link", name="My data", exact=True).click()
    screenshot(page, "my-data")
    page.get_by_role("link", name=re.compile("Delete everything")).click()
    page.get_by_label("Type your email address to confirm").fill(email)
    page.get_by_role("button", name="Delete everything").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Everything is deleted")
    expect(page.locator(".receipt-lines li", has_text="ortrait").first).to_contain_text("9")
    screenshot(page, "receipt")

    assert not Avatar.objects.filter(pk=avatar.pk).exists()
    assert not Portrait.objects.filter(avatar_id=avatar.pk).exists()
    assert Order.objects.filter(user__isnull=True, status="paid").count() == 1
