"""A newcomer whose phone asks for Simplified Chinese goes through the whole site in Chinese.

At 375 px with Accept-Language zh-CN: landing -> sign up -> sign in -> photos and their verdicts ->
styles -> local test payment -> progress -> portraits -> one portrait -> the styles and one
style -> style requests -> my data. Each page is asserted by its Chinese words, and its
headings, buttons, navigation and footer carry no English left over from the templates.
Every step leaves a zh-375-<step>.png under test-artifacts/screenshots/.
"""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from avatars.models import Avatar
from tests.factories import StyleTemplateFactory

from .test_customer_journey import JOURNEY_SETTINGS, PASSWORD, WORK_TIMEOUT_MS

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Words that stay as they are in Chinese: the brand, file formats, units, and this test's
# own data (an avatar's and the styles' names are the customer's and the operator's words).
# "English" is the switcher's button: each language is named in its own words.
KEPT_AS_IS = re.compile(r"Likeness|English|API|JPEG|PNG|WebP|HEIC|UTC|px|Me, mostly|Studio white|Film noir")
# The parts of a page whose words all come from the templates and the page scripts.
TEMPLATE_WORDS = ".site-header, .site-footer, main h1, main h2, main h3, main button, main .button, main summary"


@pytest.fixture
def worker_settings() -> dict:
    return JOURNEY_SETTINGS


def english_left(page) -> list[str]:
    """The texts among the page's template words that still hold an English word."""
    texts = page.locator(TEMPLATE_WORDS).all_inner_texts()
    return [text for text in texts if re.search(r"[A-Za-z]{3,}", KEPT_AS_IS.sub("", text))]


def step(page, screenshot, name: str) -> None:
    assert english_left(page) == [], f"{name}: English left in {page.url}"
    screenshot(page, f"zh-375-{name}")


def verification_link(email: str) -> str:
    sent = [message for message in mail.outbox if message.to == [email]]
    return re.search(r"https?://\S+/accounts/verify-email/\S+/", sent[-1].body).group(0)


def test_the_whole_journey_in_simplified_chinese_on_a_phone(page_phone_zh, live_site, q_workers, screenshot,
                                                            faces_dir):
    page = page_phone_zh
    studio = StyleTemplateFactory(title="Studio white", steps=2,
                        # no high-resolution pass: four portraits per style on a shared CPU
                        output_long_side=64)
    StyleTemplateFactory(title="Film noir", steps=2, output_long_side=64)
    email = "journey-zh@example.com"

    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.get_by_role("heading", level=1)).to_have_text("写真像你本人，不像 AI。")
    expect(page.locator(".promise")).to_contain_text("你的照片只有一个用途：训练你自己的数字分身。")
    step(page, screenshot, "landing")

    page.get_by_role("link", name="创建我的数字分身").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("注册账户")
    expect(page.locator(".terms-box")).to_contain_text("完整内容见服务条款和隐私说明")
    step(page, screenshot, "sign-up")
    page.locator("#id_email").fill(email)
    page.locator("#id_password1").fill(PASSWORD)
    page.locator("#id_password2").fill(PASSWORD)
    page.locator("#id_accept_terms").check()
    page.get_by_role("button", name="注册", exact=True).click()
    # Signing up signs no one in; the password does, before the address is confirmed.
    expect(page.get_by_role("heading", level=1)).to_have_text("请查收邮件")
    step(page, screenshot, "sign-up-sent")
    page.goto("/accounts/login/")
    expect(page.get_by_role("heading", level=1)).to_have_text("登录")
    page.locator("#id_username").fill(email)
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="登录", exact=True).click()
    expect(page).to_have_url(re.compile(r"/avatars/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("我的数字分身")
    expect(page.locator(".avatar-list")).to_contain_text("你还没有数字分身。")
    step(page, screenshot, "my-avatars-empty")

    page.get_by_label("名称").fill("Me, mostly")
    page.get_by_label("照片中的人是").select_option("man")
    page.get_by_role("button", name="开始上传照片").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("“Me, mostly”的照片")
    step(page, screenshot, "photo-consent")
    page.locator("#id_consent").check()
    page.get_by_role("button", name="继续上传照片").click()
    expect(page.get_by_role("heading", level=2, name="什么样的照片合适")).to_be_visible()
    step(page, screenshot, "intake-empty")

    good = [faces_dir / "obama" / name for name in ("obama-1.jpg", "obama-2.jpg", "obama-3.jpg")]
    stranger = faces_dir / "biden" / "biden-2.jpg"
    page.locator("#photo-input").set_input_files([*good, stranger])
    # The page script's words: the upload status, the readiness line and the pay box.
    expect(page.locator("#upload-status")).to_have_text("所有照片都已检查完毕。", timeout=90_000)
    expect(page.locator("#readiness-text")).to_have_text("3 张合格照片：可以开始训练了。")
    expect(page.locator("#photo-grid .photo-card.accepted .verdict").first).to_have_text("照片合格")
    expect(page.locator("#photo-grid .photo-card.accepted button").first).to_have_text("移除")
    expect(page.locator(".pay")).to_contain_text("至少选一个风格才能继续。", use_inner_text=True)
    page.get_by_label("Studio white").check()
    page.get_by_label("Film noir").check()
    expect(page.get_by_role("button", name="付款并开始训练")).to_be_visible()
    step(page, screenshot, "intake-verdicts")

    page.goto(verification_link(email))
    expect(page.get_by_role("heading", level=1)).to_have_text("邮箱已确认")
    page.goto(f"/avatars/{Avatar.objects.get(user__email=email).public_id}/")
    page.get_by_role("button", name="付款并开始训练").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("测试付款——不涉及真实金钱")
    step(page, screenshot, "local-payment")
    page.get_by_role("button", name=re.compile(r"^支付 ")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("你的订单")
    expect(page.locator("#order-status")).to_have_attribute("data-status", "paid")
    step(page, screenshot, "order-paid")

    page.get_by_role("link", name="查看进度").click()
    expect(page.locator("#progress summary")).to_contain_text("全部步骤")
    step(page, screenshot, "progress")
    expect(page.locator("#portrait-grid .portrait-card")).to_have_count(8, timeout=WORK_TIMEOUT_MS)
    expect(page.locator(".likeness").first).to_contain_text("相似度")
    expect(page.get_by_role("button", name="更像我").first).to_be_visible()
    step(page, screenshot, "portraits")

    page.locator("#portrait-grid .portrait-link").first.click()
    expect(page.locator(".portrait-facts")).to_contain_text("原版 1")
    expect(page.get_by_role("button", name="全屏查看")).to_be_visible()
    step(page, screenshot, "portrait")

    page.goto("/styles/")
    expect(page.get_by_role("heading", level=1)).to_have_text("风格")
    expect(page.locator(".style-request-cta")).to_contain_text("没找到想要的？")
    step(page, screenshot, "styles")
    page.goto(f"/styles/{studio.slug}/")
    expect(page.get_by_role("link", name="使用这个风格")).to_be_visible()
    expect(page.get_by_role("link", name="全部风格")).to_be_visible()
    step(page, screenshot, "style")

    page.goto("/styles/requests/")
    expect(page.get_by_role("heading", level=1)).to_have_text("风格心愿单")
    expect(page.get_by_role("heading", level=2, name="提交风格心愿")).to_be_visible()
    step(page, screenshot, "requests")

    page.get_by_role("button", name="菜单").click()
    page.get_by_role("link", name="我的数据", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("我的数据")
    expect(page.get_by_role("heading", level=2, name="带走你的数据")).to_be_visible()
    expect(page.get_by_role("link", name="下载我的数据")).to_be_visible()
    step(page, screenshot, "my-data")
