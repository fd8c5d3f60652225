"""Mail goes out in the reader's language and time zone, whoever sends it (accounts.mail)."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone, translation
from django.utils.module_loading import import_string
from django_q.models import OrmQ

from accounts.notices import notice_text
from accounts.verification import email_verification_send
from avatars.gpu import jobs
from avatars.models import Avatar
from portrait_site.privacy.deletion import user_delete_everything
from styles.services import template_publish
from tests.factories import (
    OrderFactory,
    StyleTemplateFactory,
    TemplateRequestFactory,
    TemplateVoteFactory,
    TrainingJobFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def queued_not_run(settings):
    settings.LIKENESS_RUN_JOBS_INLINE = False
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def run_queued_task(task: dict):
    """Run one task as a django-q worker does: its function, by dotted path, with its arguments."""
    return import_string(task["func"])(*task["args"], **task.get("kwargs", {}))


def test_a_workers_refund_mail_goes_out_in_the_customers_saved_language(django_capture_on_commit_callbacks):
    customer = UserFactory(language="zh-hans")
    order = OrderFactory(user=customer, status="paid", stripe_payment_intent_id="pi_local", amount=990, currency="cny")
    order.avatar.status = Avatar.Status.TRAINING
    order.avatar.save()
    TrainingJobFactory(avatar=order.avatar, order=order, status="running", attempts=3, max_attempts=3,
                       heartbeat_at=timezone.now() - timedelta(hours=1))
    # The sweep, on a worker with no request and so no language of its own, fails the build
    # and queues the refund; the refund task then mails the customer.
    jobs.jobs_requeue_stale()
    [report] = [queued.task for queued in OrmQ.objects.filter(key="default")]
    assert report["func"] == "orders.tasks.order_refund_failed_build"

    with django_capture_on_commit_callbacks(execute=True):
        run_queued_task(report)

    [message] = mail.outbox
    assert message.to == [customer.email]
    assert message.subject == "你在 Likeness 的付款正在退回"
    assert "我们正在退还你为订单" in message.body and "9.90 元" in message.body
    assert "¥9.90" not in message.body


def test_the_same_mail_reads_in_english_for_an_english_customer(django_capture_on_commit_callbacks):
    from orders.services import order_refund

    customer = UserFactory(language="en")
    order = OrderFactory(user=customer, status="paid", paid_via="local", amount=990, currency="cny")

    with django_capture_on_commit_callbacks(execute=True):
        order_refund(order=order, reason="Avatar training failed")

    [message] = mail.outbox
    assert message.subject == "Your Likeness payment is on its way back"
    assert "¥9.90" in message.body and "no real money" in message.body


def test_voters_are_told_in_their_own_language_with_the_styles_name_in_it(django_capture_on_commit_callbacks):
    template = StyleTemplateFactory(
        title="Hanfu garden", is_published=False, translations={"zh-hans": {"title": "汉服园林"}}
    )
    chinese, english = UserFactory(language="zh-hans"), UserFactory(language="en")
    request = TemplateRequestFactory(template=template)
    for voter in (chinese, english):
        TemplateVoteFactory(request=request, user=voter)

    with django_capture_on_commit_callbacks(execute=True):
        template_publish(template=template)

    by_reader = {message.to[0]: message for message in mail.outbox}
    assert by_reader[chinese.email].subject == "“汉服园林”已可使用"
    assert by_reader[english.email].subject == "“Hanfu garden” is ready to use"
    with translation.override("zh-hans"):
        assert notice_text(chinese.notices.get()) == "你投票支持的风格已上线：“汉服园林”。"


def test_the_deletion_receipt_reads_in_the_gone_accounts_language_and_zone(django_capture_on_commit_callbacks):
    user = UserFactory(language="zh-hans", time_zone="Asia/Shanghai")

    with django_capture_on_commit_callbacks(execute=True):
        receipt = user_delete_everything(user=user)

    [message] = mail.outbox
    assert message.subject == "你的 Likeness 账户已删除：这是你的回执"
    local = timezone.localtime(receipt.created_at, timezone=__import__("zoneinfo").ZoneInfo("Asia/Shanghai"))
    assert f"{local:%H:%M}（Asia/Shanghai）删除了" in message.body


def test_the_verification_and_password_reset_mails_follow_the_saved_language(client):
    user = UserFactory(language="zh-hans", email_verified_at=None)

    email_verification_send(user=user)
    client.post("/accounts/password-reset/", {"email": user.email}, HTTP_ACCEPT_LANGUAGE="en")

    verify, reset = mail.outbox
    assert verify.subject == "确认你在 Likeness 的邮箱地址" and "欢迎使用 Likeness。" in verify.body
    assert reset.subject == "设置新的 Likeness 密码" and "\n" not in reset.subject
    assert "/accounts/password-reset/" in reset.body and "你好：" in reset.body


def test_signing_up_on_the_chinese_page_saves_chinese_and_mails_the_link_in_it(client):
    from accounts.models import User
    from accounts.terms import terms_version

    client.cookies["likeness_time_zone"] = "Asia/Shanghai"
    client.post("/accounts/signup/", {
        "email": "xiaoming@example.com", "password1": "a long enough passphrase 7",
        "password2": "a long enough passphrase 7", "accept_terms": "on", "terms_version": terms_version(),
    }, HTTP_ACCEPT_LANGUAGE="zh-CN")

    user = User.objects.get(email="xiaoming@example.com")
    assert (user.language, user.time_zone) == ("zh-hans", "Asia/Shanghai")
    [message] = mail.outbox
    assert message.subject == "确认你在 Likeness 的邮箱地址"


def test_the_refund_mail_words_the_sites_own_reasons_and_keeps_the_operators(django_capture_on_commit_callbacks):
    from avatars.selectors import BUILD_FAILED_TRAINING
    from orders.services import order_refund

    customer = UserFactory(language="zh-hans")
    for reason in (BUILD_FAILED_TRAINING, "Customer asked by phone"):
        order = OrderFactory(user=customer, status="paid", stripe_payment_intent_id="pi_local", amount=990,
                             currency="cny")
        with django_capture_on_commit_callbacks(execute=True):
            order_refund(order=order, reason=reason)

    site_reason, operator_reason = (message.body for message in mail.outbox)
    assert "原因： 数字分身训练失败" in site_reason and "Avatar training failed" not in site_reason
    assert "Customer asked by phone" in operator_reason
