"""A local stand-in for Stripe's API and webhooks, for every test that touches payments.

The real `stripe` SDK talks to it over HTTP (settings.STRIPE_API_BASE), so the
gateway code under test is the code that runs in production. Use it from any
test folder by importing the fixture into that folder's conftest.py:

    from tests.stripe_fake import fake_stripe  # noqa: F401  (a pytest fixture)

    def test_paid(client, fake_stripe):
        ...  # start a checkout, then
        session = fake_stripe.session_pay(order.stripe_checkout_session_id)
        response = post_webhook(client, stripe_event("checkout.session.completed", session))
"""

import hashlib
import hmac
import itertools
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field

import pytest
from werkzeug import Request, Response

from orders.stripe_gateway import STRIPE_API_VERSION

TEST_SECRET_KEY = "sk_test_likeness_fake"
TEST_WEBHOOK_SECRET = "whsec_likeness_fake"
WEBHOOK_PATH = "/orders/stripe/webhook/"

_counter = itertools.count(1)


def stripe_id(prefix: str) -> str:
    return f"{prefix}_test_{next(_counter):06d}{secrets.token_hex(8)}"


@dataclass
class RecordedRequest:
    method: str
    path: str
    idempotency_key: str | None
    form: dict[str, str]
    headers: dict[str, str] = field(repr=False)


class FakeStripe:
    """Answers POST /v1/checkout/sessions, GET /v1/checkout/sessions/<id>, POST /v1/refunds and
    GET /v1/refunds/<id>.

    `requests` records every call (idempotency key, flat form body such as
    form["metadata[order_id]"]); a repeated Idempotency-Key replays the first
    answer, as Stripe does. Set `refund_status` to what new refunds report, and
    `fail_next(n)` to answer the next n calls with HTTP 500.
    """

    def __init__(self, httpserver):
        self.httpserver = httpserver
        self.requests: list[RecordedRequest] = []
        self.sessions: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self.refund_status = "pending"
        self._failures_left = 0
        self._replies: dict[str, tuple[dict, Response]] = {}
        self._lock = threading.Lock()
        httpserver.expect_request("/v1/checkout/sessions", method="POST").respond_with_handler(self._session_create)
        httpserver.expect_request(re.compile(r"^/v1/checkout/sessions/[^/]+$"), method="GET").respond_with_handler(
            lambda request: self._retrieve(request, self.sessions, "checkout.session")
        )
        httpserver.expect_request("/v1/refunds", method="POST").respond_with_handler(self._refund_create)
        httpserver.expect_request(re.compile(r"^/v1/refunds/[^/]+$"), method="GET").respond_with_handler(
            lambda request: self._retrieve(request, self.refunds, "refund")
        )

    @property
    def api_base(self) -> str:
        return self.httpserver.url_for("/").rstrip("/")

    def fail_next(self, count: int = 1) -> None:
        self._failures_left = count

    def requests_to(self, method: str, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method and r.path == path]

    @property
    def checkout_requests(self) -> list[RecordedRequest]:
        return self.requests_to("POST", "/v1/checkout/sessions")

    @property
    def refund_requests(self) -> list[RecordedRequest]:
        return self.requests_to("POST", "/v1/refunds")

    # --- What a buyer does on the hosted page -------------------------------------

    def session_pay(self, session_id: str, *, payment_status: str = "paid") -> dict:
        """The buyer pays (or, with payment_status="unpaid", starts a bank transfer)."""
        session = self.sessions[session_id]
        session.update(status="complete", payment_status=payment_status, payment_intent=stripe_id("pi"))
        return dict(session)

    def session_expire(self, session_id: str) -> dict:
        self.sessions[session_id].update(status="expired")
        return dict(self.sessions[session_id])

    # --- Handlers -----------------------------------------------------------------

    def _record(self, request: Request) -> RecordedRequest:
        recorded = RecordedRequest(
            method=request.method,
            path=request.path,
            idempotency_key=request.headers.get("Idempotency-Key"),
            form=request.form.to_dict(),
            headers=dict(request.headers),
        )
        with self._lock:
            self.requests.append(recorded)
        return recorded

    def _version_refusal(self, request: Request) -> Response | None:
        """Stripe answers 400 to a Stripe-Version it does not know; this account knows the pinned one."""
        version = request.headers.get("Stripe-Version")
        if version is not None and version != STRIPE_API_VERSION:
            return _error(400, "invalid_request_error", f"Invalid Stripe API version: {version}")
        return None

    def _with_idempotency(self, request: Request, create) -> Response:
        recorded = self._record(request)
        if not request.headers.get("Authorization", "").startswith("Bearer sk_"):
            return _error(401, "invalid_request_error", "Invalid API Key provided")
        if refusal := self._version_refusal(request):
            return refusal
        with self._lock:
            if self._failures_left:
                self._failures_left -= 1
                return _error(500, "api_error", "Something went wrong on Stripe's end (fake).")
            key = recorded.idempotency_key
            if key and key in self._replies:
                first_form, first_response = self._replies[key]
                if first_form != recorded.form:
                    return _error(
                        400, "idempotency_error",
                        "Keys for idempotent requests can only be used with the same parameters they were first used with.",
                    )
                return Response(first_response.get_data(), status=first_response.status_code, content_type="application/json")
            response = create(recorded.form)
            if key:
                self._replies[key] = (recorded.form, response)
            return response

    def _session_create(self, request: Request) -> Response:
        def create(form: dict[str, str]) -> Response:
            methods = [form[name] for name in sorted(form, key=_index_of) if name.startswith("payment_method_types[")]
            currency = form.get("line_items[0][price_data][currency]", "")
            for method in methods:
                if currency not in WALLET_CURRENCIES.get(method, {currency}):
                    return _error(400, "invalid_request_error",
                                  f"The payment method `{method}` does not support the currency `{currency}`.",
                                  "payment_method_unactivated")
            if "wechat_pay" in methods and form.get("payment_method_options[wechat_pay][client]") not in {"web", "ios", "android"}:
                return _error(400, "invalid_request_error",
                              "payment_method_options[wechat_pay][client] is required for WeChat Pay.", "parameter_missing")
            session_id = stripe_id("cs")
            session = {
                "id": session_id,
                "object": "checkout.session",
                "livemode": False,
                "mode": form.get("mode", "payment"),
                "amount_total": int(form.get("line_items[0][price_data][unit_amount]", 0))
                * int(form.get("line_items[0][quantity]", 1)),
                "currency": form.get("line_items[0][price_data][currency]"),
                "payment_method_types": methods or ["card"],
                "client_reference_id": form.get("client_reference_id"),
                "customer_email": form.get("customer_email"),
                "metadata": _nested(form, "metadata"),
                "payment_intent": None,
                "payment_status": "unpaid",
                "status": "open",
                "success_url": form.get("success_url"),
                "cancel_url": form.get("cancel_url"),
                "created": int(time.time()),
                "expires_at": int(form.get("expires_at", time.time() + 86400)),
                "url": f"https://checkout.stripe.com/c/pay/{session_id}",
            }
            self.sessions[session_id] = session
            return _json(session)

        return self._with_idempotency(request, create)

    def _retrieve(self, request: Request, objects: dict[str, dict], kind: str) -> Response:
        """GET /v1/<objects>/<id>: the object as it stands now, or Stripe's 404."""
        self._record(request)
        if refusal := self._version_refusal(request):
            return refusal
        object_id = request.path.rsplit("/", 1)[1]
        found = objects.get(object_id)
        if found is None:
            return _error(404, "invalid_request_error", f"No such {kind}: '{object_id}'", "resource_missing")
        return _json(found)

    def _refund_create(self, request: Request) -> Response:
        def create(form: dict[str, str]) -> Response:
            payment_intent = form.get("payment_intent")
            if not payment_intent:
                return _error(400, "invalid_request_error", "You must pass either charge or payment_intent.")
            refund = {
                "id": stripe_id("re"),
                "object": "refund",
                "amount": int(form.get("amount", 0)),
                "currency": "cny",
                "charge": stripe_id("ch"),
                "payment_intent": payment_intent,
                "metadata": _nested(form, "metadata"),
                "status": self.refund_status,
                "created": int(time.time()),
            }
            self.refunds[refund["id"]] = refund
            return _json(refund)

        return self._with_idempotency(request, create)


# Stripe's own rule, written again here rather than imported from the gateway under test.
WALLET_CURRENCIES = {
    "wechat_pay": {"aud", "cad", "cny", "eur", "gbp", "hkd", "jpy", "sgd", "usd", "dkk", "nok", "sek", "chf"},
    "alipay": {"aud", "cad", "cny", "eur", "gbp", "hkd", "jpy", "nzd", "sgd", "usd", "myr"},
}


def _index_of(name: str) -> int:
    match = re.search(r"\[(\d+)\]$", name)
    return int(match.group(1)) if match else -1


def _nested(form: dict[str, str], name: str) -> dict[str, str]:
    prefix = f"{name}["
    return {key[len(prefix):-1]: value for key, value in form.items() if key.startswith(prefix) and key.count("[") == 1}


def _json(body: dict, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json", headers={"Request-Id": stripe_id("req")})


def _error(status: int, error_type: str, message: str, code: str | None = None) -> Response:
    error = {"type": error_type, "message": message}
    if code:
        error["code"] = code
    return _json({"error": error}, status)


@pytest.fixture
def fake_stripe(httpserver, settings) -> FakeStripe:
    """Real-looking Stripe keys, pointed at a local fake API; local test payments off."""
    fake = FakeStripe(httpserver)
    settings.STRIPE_API_BASE = fake.api_base
    settings.STRIPE_SECRET_KEY = TEST_SECRET_KEY
    settings.STRIPE_WEBHOOK_SECRET = TEST_WEBHOOK_SECRET
    settings.LIKENESS_LOCAL_PAYMENTS = False
    return fake


# --- Webhooks -------------------------------------------------------------------------


def stripe_event(event_type: str, data_object: dict, *, event_id: str | None = None, created: int | None = None) -> dict:
    return {
        "id": event_id or stripe_id("evt"),
        "object": "event",
        "api_version": STRIPE_API_VERSION,
        "created": created or int(time.time()),
        "livemode": False,
        "pending_webhooks": 1,
        "type": event_type,
        "data": {"object": data_object},
    }


def checkout_session_object(
    order, *, payment_status: str = "paid", status: str = "complete", session_id: str | None = None,
    payment_intent: str | None = None, payment_method_types: list[str] | None = None,
) -> dict:
    """A Checkout Session as Stripe would send it for one of our orders."""
    paid = payment_status == "paid"
    return {
        "id": session_id or order.stripe_checkout_session_id or stripe_id("cs"),
        "object": "checkout.session",
        "mode": "payment",
        "amount_total": order.amount,
        "currency": order.currency,
        "client_reference_id": str(order.pk),
        "metadata": {"order_id": str(order.pk), "avatar_id": str(order.avatar_id)},
        "payment_intent": payment_intent or (stripe_id("pi") if paid else None),
        "payment_status": payment_status,
        "payment_method_types": payment_method_types or ["card"],
        "status": status,
    }


def webhook_signature(payload: bytes | str, *, secret: str = TEST_WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """The Stripe-Signature header: t=<ts>,v1=<hex HMAC-SHA256(secret, "<ts>.<payload>")>."""
    if isinstance(payload, bytes):
        payload = payload.decode()
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def post_webhook(
    client, event: dict | bytes | str, *, secret: str = TEST_WEBHOOK_SECRET, timestamp: int | None = None,
    signature: str | None = None,
):
    """Posts an event (dict, or raw body) to our webhook URL, signed as Stripe signs it."""
    payload = json.dumps(event) if isinstance(event, dict) else event
    if isinstance(payload, str):
        payload = payload.encode()
    header = signature if signature is not None else webhook_signature(payload, secret=secret, timestamp=timestamp)
    return client.post(WEBHOOK_PATH, data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=header)
