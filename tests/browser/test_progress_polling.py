"""The progress page's polling in a real browser: steady while watched, rare in a background tab."""

import pytest
from playwright.sync_api import expect

from avatars.models import Avatar, RenderJob, TrainingJob
from tests.browser.test_accounts import sign_in
from tests.factories import AvatarFactory, RenderJobFactory, StyleTemplateFactory, UserFactory

pytestmark = pytest.mark.browser

PASSWORD = "a long enough passphrase 7"


def set_tab_hidden(page, hidden: bool) -> None:
    """What the browser does when the person switches tabs (headless Chromium never does)."""
    page.evaluate(
        """hidden => {
            Object.defineProperty(document, "hidden", { configurable: true, get: () => hidden });
            Object.defineProperty(document, "visibilityState", {
                configurable: true, get: () => (hidden ? "hidden" : "visible") });
            document.dispatchEvent(new Event("visibilitychange"));
        }""",
        hidden,
    )


def is_progress_poll(request) -> bool:
    return "progress.json" in request.url


def test_a_background_tab_asks_rarely_and_asks_at_once_when_looked_at_again(page_desktop):
    page = page_desktop
    user = UserFactory(password=PASSWORD)
    avatar = AvatarFactory(user=user, status=Avatar.Status.TRAINING)
    TrainingJob.objects.create(avatar=avatar, status="running", progress=30, stage="training")
    polls = []
    page.on("request", lambda request: polls.append(request.url) if is_progress_poll(request) else None)

    sign_in(page, user.email, PASSWORD)
    page.goto(f"/avatars/{avatar.public_id}/")
    expect(page.locator("#progress")).to_be_visible()
    for _ in range(2):  # every two seconds while watched
        with page.expect_request(is_progress_poll, timeout=4000):
            pass

    set_tab_hidden(page, True)
    page.wait_for_timeout(500)  # a poll already on its way may still land
    asked_before = len(polls)
    page.wait_for_timeout(5000)
    assert len(polls) <= asked_before + 1  # at most the one scheduled before the tab went away

    with page.expect_request(is_progress_poll, timeout=1000):
        set_tab_hidden(page, False)


def test_polls_send_back_the_etag_get_304_while_nothing_changes_and_show_the_next_change(page_desktop):
    page = page_desktop
    user = UserFactory(password=PASSWORD)
    avatar = AvatarFactory(user=user, status=Avatar.Status.TRAINING)
    job = TrainingJob.objects.create(avatar=avatar, status="running", progress=30, stage="training")
    answers = []
    page.on("response", lambda response: answers.append(
        (response.status, response.request.headers.get("if-none-match"))
    ) if is_progress_poll(response.request) else None)

    sign_in(page, user.email, PASSWORD)
    page.goto(f"/avatars/{avatar.public_id}/")
    for _ in range(3):
        with page.expect_response(is_progress_poll, timeout=4000):
            pass
    assert answers[0] == (200, None)
    assert all(status == 304 and etag for status, etag in answers[1:3])

    TrainingJob.objects.filter(pk=job.pk).update(progress=70, stage="sampling")
    expect(page.locator("#job-list")).to_contain_text("sampling", timeout=5000)
    assert page.locator("#job-list progress").first.get_attribute("value") == "70"


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_avatars_badge_follows_its_jobs_without_a_reload(page_desktop, language, screenshot):
    page = page_desktop
    words = {
        "en": ["Paid, waiting for training", "Training", "Rendering portraits", "Ready"],
        "zh-hans": ["已付款，等待训练", "训练", "正在生成写真", "已就绪"],
    }[language]
    user = UserFactory(password=PASSWORD, language=language)
    avatar = AvatarFactory(user=user, status=Avatar.Status.PAID)
    job = TrainingJob.objects.create(avatar=avatar, status="queued")
    template = StyleTemplateFactory(title="Film noir")

    sign_in(page, user.email, PASSWORD)
    page.goto(f"/avatars/{avatar.public_id}/")
    badge = page.locator("#avatar-badge")
    expect(badge).to_have_text(words[0])
    page.evaluate("window.pageMarker = 'not reloaded'")

    # What the GPU worker writes as it claims the job, finishes it and renders the first portraits.
    Avatar.objects.filter(pk=avatar.pk).update(status=Avatar.Status.TRAINING)
    TrainingJob.objects.filter(pk=job.pk).update(status="running", progress=40, stage="training")
    expect(badge).to_have_text(words[1], timeout=5000)
    Avatar.objects.filter(pk=avatar.pk).update(status=Avatar.Status.READY)
    TrainingJob.objects.filter(pk=job.pk).update(status="succeeded", progress=100)
    render = RenderJobFactory(avatar=avatar, template=template, status="running", progress=10)
    expect(badge).to_have_text(words[2], timeout=5000)
    screenshot(page, f"badge-rendering-{language}")
    assert page.evaluate("window.pageMarker") == "not reloaded"
    RenderJob.objects.filter(pk=render.pk).update(status="succeeded", progress=100)
    expect(badge).to_have_text(words[3], timeout=5000)
