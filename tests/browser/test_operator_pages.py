"""The operator's and developers' pages in Chromium: the API docs under the CSP from this site alone,
the admin's refund reason and missing-cover warning, and the dashboard's figures from the database."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from playwright.sync_api import expect

from avatars.models import Avatar, GpuUsage
from avatars.services import gpu_usage_record
from orders.models import Order, Refund
from tests.factories import (
    AvatarFactory,
    OrderFactory,
    PortraitFactory,
    RenderJobFactory,
    StyleTemplateFactory,
    UserFactory,
)

pytestmark = pytest.mark.browser

PASSWORD = "a long enough passphrase 7"


def test_the_api_docs_render_their_operations_under_the_csp_from_this_site_alone(page, live_site, screenshot):
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    response = page.goto("/api/v1/docs/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.locator(".opblock").first).to_be_visible(timeout=20_000)
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/avatars/").first).to_be_visible()
    screenshot(page, "api-docs")
    assert requested and all(url.startswith(live_site.url) for url in requested), requested

    index = page.request.get("/api/v1/").json()
    assert index["docs"].endswith("/api/v1/docs/") and index["endpoints"]["avatars"].endswith("/api/v1/avatars/")
    page.goto("/")
    expect(page.locator(".site-footer").get_by_role("link", name="API")).to_have_attribute("href", "/api/v1/docs/")


def staff_sign_in(page):
    staff = UserFactory(password=PASSWORD, is_staff=True, is_superuser=True)
    page.goto("/admin/login/")
    page.locator("#id_username").fill(staff.email)
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    return staff


def test_the_admin_asks_a_reason_for_the_customer_and_warns_of_a_missing_cover(page, screenshot):
    order = OrderFactory(status=Order.Status.PAID, paid_at=timezone.now(), paid_via=Order.PaidVia.LOCAL)
    draft = StyleTemplateFactory(title="Harbour at dawn", is_published=False)
    staff = staff_sign_in(page)

    # Bug 7: the refund action asks for a reason; the email gives it, not the operator's address.
    page.goto("/admin/orders/order/")
    page.locator(f"input[name=_selected_action][value='{order.pk}']").check()
    page.locator("select[name=action]").select_option("refund_selected")
    page.get_by_role("button", name="Go").click()
    page.get_by_label("Reason, for the customer").fill("You asked us for your money back.")
    screenshot(page, "admin-refund-reason")
    page.get_by_role("button", name="Refund and email the customer").click()
    expect(page.locator(".messagelist")).to_contain_text("1 order(s) refunded")
    [email] = [m for m in mail.outbox if "on its way back" in m.subject]
    assert "Why: You asked us for your money back." in email.body and staff.email not in email.body
    assert order.refunds.get().reason == "You asked us for your money back."

    # Bug 9: publishing without a cover says so; the preview says what it needs.
    page.goto("/admin/styles/styletemplate/")
    expect(page.locator("select[name=action]")).to_contain_text("needs an avatar trained on this staff account")
    page.locator(f"input[name=_selected_action][value='{draft.pk}']").check()
    page.locator("select[name=action]").select_option("publish")
    page.get_by_role("button", name="Go").click()
    expect(page.locator(".messagelist")).to_contain_text("has no cover")
    screenshot(page, "admin-publish-without-cover")


def test_the_dashboard_shows_the_figures_the_database_holds(page, screenshot):
    now = timezone.now()
    OrderFactory(status=Order.Status.PAID, paid_at=now, amount=990, currency="cny")
    refunded = OrderFactory(status=Order.Status.REFUNDED, paid_at=now, amount=990, currency="cny")
    Refund.objects.create(order=refunded, amount=990, currency="cny", status="succeeded",
                          reason="Your portraits did not turn out as they should: we are sorry.")
    avatar = AvatarFactory(status=Avatar.Status.READY)
    template = StyleTemplateFactory(title="Film noir")
    for kind, likeness in [("initial", 58.0), ("initial", 83.0), ("reroll", 71.0)]:
        job = RenderJobFactory(avatar=avatar, template=template, kind=kind, status="succeeded", gpu_seconds=90,
                               finished_at=now)
        PortraitFactory(avatar=avatar, template=template, render_job=job, likeness_score=likeness)
        gpu_usage_record(job=job)
    RenderJobFactory(avatar=avatar, template=template, status="queued")
    old_wait = RenderJobFactory(avatar=avatar, template=template, status="queued")
    RenderJobFactory._meta.model.objects.filter(pk=old_wait.pk).update(queued_at=now - timedelta(minutes=7))
    failed = RenderJobFactory(avatar=avatar, template=template, status="failed", finished_at=now,
                              error="CUDA out of memory")
    staff_sign_in(page)
    page.goto("/admin/")
    page.get_by_role("link", name=re.compile("Operator's dashboard")).click()

    today = page.locator("tr[data-period=today]")
    expect(today.locator("[data-figure=orders]")).to_have_text(str(
        Order.objects.filter(paid_at__date=timezone.localdate()).count()))
    expect(today.locator("[data-figure=revenue]")).to_have_text("¥19.80")
    expect(today.locator("[data-figure=refunded]")).to_have_text("¥9.90")
    expect(page.locator("#refunds")).to_contain_text("did not turn out as they should")
    renders = page.locator("tr[data-queue=render]")
    expect(renders.locator("[data-figure=waiting]")).to_have_text("2")
    expect(renders.locator("[data-figure=oldest]")).to_have_text("7 min")
    expect(page.locator(f"tr[data-day='{timezone.localdate():%Y-%m-%d}'] [data-figure=total]")).to_have_text(
        f"{sum(GpuUsage.objects.values_list('gpu_seconds', flat=True)) / 60:.1f}")
    row = page.locator(f"tr[data-template='{template.slug}']")
    expect(row.locator("[data-figure=renders]")).to_have_text("3")
    expect(row.locator("[data-figure=average]")).to_have_text("70.7")
    expect(row.locator("[data-figure=reroll-rate]")).to_have_text("0.50")
    expect(page.locator("#failures")).to_contain_text("CUDA out of memory")
    screenshot(page, "dashboard")

    page.locator("#failures").get_by_role("button", name="Retry").click()
    expect(page.locator(".messagelist")).to_contain_text("queued again")
    failed.refresh_from_db()
    assert failed.status == "queued"
