"""The orders pages: starting Checkout, an order's page and status, and the local test mode's payment."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from avatars.selectors import avatar_get_for_user
from orders.models import Order
from orders.selectors import order_get_for_user
from orders.services import checkout_start, order_create_for_avatar, order_fulfil


@login_required
@require_POST
def checkout(request, avatar_public_id):
    avatar = avatar_get_for_user(user=request.user, public_id=avatar_public_id)
    # A refusal (terms, verified address, photos not ready, Stripe unreachable) is answered by
    # portrait_site.core.pages: the person goes back to the avatar's page with its message.
    order = order_create_for_avatar(user=request.user, avatar=avatar)
    return redirect(checkout_start(order=order))


@login_required
@require_GET
def detail(request, public_id):
    order = order_get_for_user(user=request.user, public_id=public_id)
    return render(request, "orders/detail.html", {"order": order, "Status": Order.Status})


@login_required
@require_GET
def status_json(request, public_id):
    order = order_get_for_user(user=request.user, public_id=public_id)
    return JsonResponse({"status": order.status, "label": order.get_status_display()})


@login_required
@require_http_methods(["GET", "POST"])
def local_pay(request, public_id):
    # Never reachable while real Stripe keys are set.
    if not settings.LIKENESS_LOCAL_PAYMENTS:
        raise Http404("Local test payments are off")
    order = order_get_for_user(user=request.user, public_id=public_id)
    if request.method == "POST":
        if order.status in (Order.Status.PENDING, Order.Status.AWAITING_PAYMENT):
            order_fulfil(order_id=order.pk, via=Order.PaidVia.LOCAL)
        return redirect("orders:detail", public_id=order.public_id)
    return render(request, "orders/local_pay.html", {"order": order})
