"""Access, walked from the URL resolver itself: a new object URL fails here until it is covered.

Every pattern that takes an object id (uuid, int, slug, token) must be in OBJECT_URLS (how
to build it for an object of user A) or in PUBLIC_URLS (why anyone may open it). For each
object URL, user B gets a 404 and an anonymous visitor the sign-in page (web) or a
401/403 (API). Also here: private media has no public URL, every POST form carries a CSRF
token and is refused without one, and the admin is for staff only.

Covered elsewhere, not repeated: sign-in, sign-up and password-reset rate limits
(tests/accounts/test_views.py::test_auth_forms_answer_429_after_the_limit), `check --deploy`
under production settings (tests/site/test_deploy_check.py) and the security headers,
CSP, HSTS with LIKENESS_HTTPS, nosniff, Referrer-Policy (tests/site/test_security_headers.py).
"""

import re
from html.parser import HTMLParser

import pytest
from django.contrib import admin
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from accounts.tokens import api_token_create
from avatars.models import Avatar
from orders.models import Order
from tests.factories import (
    AvatarFactory,
    OrderFactory,
    PhotoFactory,
    PortraitFactory,
    StyleTemplateFactory,
    TemplateRequestFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

# URL name -> how to build its kwargs from user A's objects.
OBJECT_URLS = {
    "avatars:detail": lambda o: {"public_id": o["avatar"].public_id},
    "avatars:photo_upload": lambda o: {"public_id": o["avatar"].public_id},
    "avatars:photo_remove": lambda o: {"public_id": o["avatar"].public_id, "photo_id": o["photo"].pk},
    "avatars:photo_image": lambda o: {"public_id": o["avatar"].public_id, "photo_id": o["photo"].pk},
    "avatars:photo_thumbnail": lambda o: {"public_id": o["avatar"].public_id, "photo_id": o["photo"].pk},
    "avatars:portraits_download_all": lambda o: {"public_id": o["ready"].public_id},
    "avatars:templates_choose": lambda o: {"public_id": o["avatar"].public_id},
    "avatars:progress": lambda o: {"public_id": o["avatar"].public_id},
    "avatars:render_more": lambda o: {"public_id": o["ready"].public_id},
    "avatars:reopen": lambda o: {"public_id": o["avatar"].public_id},
    "avatars:portrait_detail": lambda o: {"public_id": o["portrait"].public_id},
    "avatars:portrait_image": lambda o: {"public_id": o["portrait"].public_id},
    "avatars:portrait_download": lambda o: {"public_id": o["portrait"].public_id},
    "avatars:portrait_more_like_me": lambda o: {"public_id": o["portrait"].public_id},
    "avatars:portrait_reroll": lambda o: {"public_id": o["portrait"].public_id},
    "avatars:portrait_favourite": lambda o: {"public_id": o["portrait"].public_id},
    "avatars:photos_refused_clear": lambda o: {"public_id": o["avatar"].public_id},
    "orders:checkout": lambda o: {"avatar_public_id": o["avatar"].public_id},
    "orders:detail": lambda o: {"public_id": o["order"].public_id},
    "orders:status": lambda o: {"public_id": o["order"].public_id},
    "orders:local_pay": lambda o: {"public_id": o["order"].public_id},
    "accounts:avatar_delete": lambda o: {"public_id": o["avatar"].public_id},
    "accounts:api_token_revoke": lambda o: {"token_id": o["api_token"].pk},
    "accounts:portrait_delete": lambda o: {"public_id": o["portrait"].public_id},
    "accounts:photo_consent": lambda o: {"public_id": o["avatar"].public_id},
    "api:avatar-photo-consent": lambda o: {"public_id": o["avatar"].public_id},
    "styles:request_reference": lambda o: {"request_id": o["request"].pk},
    "api:avatar-detail": lambda o: {"public_id": o["avatar"].public_id},
    "api:avatar-photos": lambda o: {"public_id": o["avatar"].public_id},
    "api:avatar-photo": lambda o: {"public_id": o["avatar"].public_id, "photo_id": o["photo"].pk},
    "api:avatar-photo-image": lambda o: {"public_id": o["avatar"].public_id, "photo_id": o["photo"].pk},
    "api:avatar-templates": lambda o: {"public_id": o["avatar"].public_id},
    "api:avatar-progress": lambda o: {"public_id": o["avatar"].public_id},
    "api:avatar-render-more": lambda o: {"public_id": o["ready"].public_id},
    "api:avatar-reopen": lambda o: {"public_id": o["avatar"].public_id},
    "api:avatar-checkout": lambda o: {"public_id": o["avatar"].public_id},
    "api:portrait-detail": lambda o: {"public_id": o["portrait"].public_id},
    "api:portrait-download": lambda o: {"public_id": o["portrait"].public_id},
    "api:portrait-more-like-me": lambda o: {"public_id": o["portrait"].public_id},
    "api:portrait-reroll": lambda o: {"public_id": o["portrait"].public_id},
    "api:order-detail": lambda o: {"public_id": o["order"].public_id},
}

# URL name -> why anyone (or any signed-in user) may open it for any object.
PUBLIC_URLS = {
    "styles:detail": "published templates are the public catalogue; drafts 404 for non-staff (tested below)",
    "styles:cover": "a published template's cover is public; a draft's 404s for non-staff (tested below)",
    "styles:example": "a published template's example results are public, as its cover; a draft's 404 (below)",
    "styles:request_vote": "template requests are public and every signed-in user may vote on each",
    "api:template-detail": "the public catalogue, as styles:detail",
    "api:template-request-detail": "template requests are public (title, description, votes; not the image)",
    "api:template-request-vote": "every signed-in user may vote on each request",
    "accounts:receipt": "a deletion receipt is found by its 256-bit token alone: the user may be gone",
    "accounts:password_reset_confirm": "Django's signed, expiring reset token is the authorisation",
    "accounts:receipt_download": "the receipt's file, found by the same 256-bit token as its page",
    "accounts:verify_email": "the one-time, expiring token mailed to the address is the authorisation",
    "avatars:use_style": "takes a published style's slug and sends the signed-in person to their own avatars only",
}

# Namespaces whose every URL is for staff only; proven by test_the_admin_is_for_staff_only.
STAFF_NAMESPACES = ("admin:", "admin-dashboard")


def walk(resolver=None, namespace: str = "", kwargs: frozenset = frozenset()):
    """(full name, route, kwarg names) for every URL pattern, however deep it is included."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        names = kwargs | set(entry.pattern.regex.groupindex)
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from walk(entry, inner, frozenset(names))
        else:
            assert isinstance(entry, URLPattern)
            yield f"{namespace}{entry.name or ''}", str(entry.pattern), names


def object_patterns() -> dict[str, set]:
    return {name: names for name, _, names in walk() if names}


def test_every_url_with_an_object_id_is_covered_by_the_walk():
    uncovered = sorted(
        name
        for name in object_patterns()
        if name not in OBJECT_URLS and name not in PUBLIC_URLS and not name.startswith(STAFF_NAMESPACES)
    )
    assert uncovered == [], "Add these to OBJECT_URLS (owner-only) or PUBLIC_URLS (with the reason)"
    stale = sorted((set(OBJECT_URLS) | set(PUBLIC_URLS)) - set(object_patterns()))
    assert stale == []


@pytest.fixture
def owned():
    owner = UserFactory()
    avatar = AvatarFactory(user=owner)
    ready = AvatarFactory(user=owner, status=Avatar.Status.READY)
    return {
        "owner": owner,
        "avatar": avatar,
        "ready": ready,
        "photo": PhotoFactory(avatar=avatar, image=ContentFile(b"jpeg bytes", name="p.jpg")),
        "portrait": PortraitFactory(avatar=ready, image__data=b"png bytes"),
        "order": OrderFactory(user=owner, avatar=avatar, status=Order.Status.AWAITING_PAYMENT),
        "request": TemplateRequestFactory(author=owner, reference_image=ContentFile(b"ref", name="r.png")),
        "api_token": api_token_create(user=owner, name="a script")[0],
    }


def _methods(name: str) -> list[str]:
    """The methods the view answers: its handlers for a class, GET and POST for a function view."""
    match = get_resolver().resolve(reverse(name, kwargs=OBJECT_URLS[name](_PLACEHOLDERS)))
    view_class = getattr(match.func, "view_class", None) or getattr(match.func, "cls", None)
    if view_class is None:
        return ["get", "post"]
    return [m for m in ("get", "post", "put", "patch", "delete") if hasattr(view_class, m)]


class _Placeholder:
    public_id = "00000000-0000-0000-0000-000000000000"
    pk = 1


_PLACEHOLDERS = dict.fromkeys(("avatar", "ready", "photo", "portrait", "order", "request", "api_token"), _Placeholder)


@pytest.mark.parametrize("name", sorted(OBJECT_URLS))
def test_another_user_gets_404_and_an_anonymous_one_is_refused(name, owned, settings):
    settings.LIKENESS_LOCAL_PAYMENTS = True
    url = reverse(name, kwargs=OBJECT_URLS[name](owned))
    is_api = name.startswith("api:")
    intruder = UserFactory()
    other = APIClient() if is_api else Client()
    other.force_login(intruder)
    if is_api:
        other.force_authenticate(intruder)

    seen = {}
    for method in _methods(name):
        seen[method] = getattr(other, method)(url).status_code
    # 405 says nothing about the object; at least one method reaches the ownership check.
    assert set(seen.values()) <= {404, 405} and 404 in seen.values(), (name, seen)

    anonymous = APIClient() if is_api else Client()
    for method in _methods(name):
        response = getattr(anonymous, method)(url)
        if is_api:
            assert response.status_code in (401, 403), (name, method, response.status_code)
        else:
            assert response.status_code in (302, 405), (name, method, response.status_code)
            if response.status_code == 302:
                assert response["Location"].startswith(reverse("accounts:login")), (name, method)


@pytest.mark.parametrize("name", ["styles:detail", "styles:cover", "api:template-detail"])
def test_a_draft_template_is_not_public(name, client):
    draft = StyleTemplateFactory(is_published=False, cover_image=ContentFile(b"png", name="c.png"))
    client.force_login(UserFactory())

    assert client.get(reverse(name, kwargs={"slug": draft.slug})).status_code == 404


def test_a_draft_templates_examples_are_not_public(client):
    from styles.models import StyleExample

    draft = StyleTemplateFactory(is_published=False)
    example = StyleExample.objects.create(template=draft, image=ContentFile(b"png", name="e.png"))
    url = reverse("styles:example", kwargs={"slug": draft.slug, "example_id": example.pk})
    client.force_login(UserFactory())
    assert client.get(url).status_code == 404
    client.force_login(UserFactory(is_staff=True))
    assert client.get(url).status_code == 200


def test_nothing_of_the_owner_is_changed_by_the_intruders_requests(owned, client):
    client.force_login(UserFactory())
    for name in OBJECT_URLS:
        url = reverse(name, kwargs=OBJECT_URLS[name](owned))
        client.post(url, {"templates": [], "confirm": "on"})
        client.delete(url)

    assert Avatar.objects.filter(user=owned["owner"]).count() == 2
    assert owned["avatar"].photos.get().image.read() == b"jpeg bytes"
    order = Order.objects.get(pk=owned["order"].pk)
    assert order.status == Order.Status.AWAITING_PAYMENT and order.user == owned["owner"]
    assert owned["ready"].portraits.count() == 1 and owned["ready"].render_jobs.count() == 0


# --- Private media --------------------------------------------------------------------


def test_private_media_has_no_public_url(owned, client, settings, private_media):
    stored = [owned["photo"].image.name, owned["portrait"].image.name, owned["request"].reference_image.name]
    assert all((private_media / name).is_file() for name in stored)
    client.force_login(owned["owner"])
    for name in stored:
        for url in (
            f"{settings.MEDIA_URL}{name}",
            f"{settings.STATIC_URL}{name}",
            f"{settings.STATIC_URL}../private-media/{name}",
            f"{settings.STATIC_URL}..%2fprivate-media%2f{name}",
        ):
            response = client.get(url)
            assert response.status_code == 404, (url, response.status_code)
            assert not getattr(response, "streaming", False)
    assert settings.MEDIA_URL == "/no-public-media/"
    assert str(private_media) not in [str(d) for d in settings.STATICFILES_DIRS]


# --- CSRF -----------------------------------------------------------------------------


class _Forms(HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []
        self._open: dict | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and (attrs.get("method") or "get").lower() == "post":
            self._open = {"action": attrs.get("action") or "", "token": False, "button_actions": []}
            self.forms.append(self._open)
        elif tag == "input" and self._open is not None and attrs.get("name") == "csrfmiddlewaretoken":
            self._open["token"] = bool(attrs.get("value"))
        elif tag == "button" and self._open is not None and attrs.get("formaction"):
            # A button that posts its form elsewhere (one vote form around the request list).
            self._open["button_actions"].append(attrs["formaction"])

    def handle_endtag(self, tag):
        if tag == "form":
            self._open = None


def post_forms(html: str, page_url: str) -> list[dict]:
    """Each place a POST form on the page sends to, with whether that form carries a CSRF token."""
    parser = _Forms()
    parser.feed(html)
    forms = []
    for form in parser.forms:
        for action in [form["action"] or page_url, *form["button_actions"]]:
            forms.append({"action": action.split("#")[0], "token": form["token"]})
    return forms


def test_every_post_form_carries_a_csrf_token_and_is_refused_without_one(owned, client, settings):
    settings.LIKENESS_LOCAL_PAYMENTS = True
    owner = owned["owner"]
    StyleTemplateFactory()
    paid_order = OrderFactory(user=owner, avatar=owned["ready"], status=Order.Status.EXPIRED)
    pages = {
        "signed in": [
            reverse("landing"),
            reverse("avatars:home"),
            reverse("avatars:detail", args=[owned["avatar"].public_id]),
            reverse("avatars:detail", args=[owned["ready"].public_id]),
            reverse("avatars:portrait_detail", args=[owned["portrait"].public_id]),
            reverse("orders:detail", args=[owned["order"].public_id]),
            reverse("orders:detail", args=[paid_order.public_id]),
            reverse("orders:local_pay", args=[owned["order"].public_id]),
            reverse("styles:gallery"),
            reverse("styles:requests"),
            reverse("accounts:my_data"),
            reverse("accounts:delete_everything"),
            reverse("accounts:avatar_delete", args=[owned["avatar"].public_id]),
        ],
        "anonymous": [
            reverse("accounts:login"),
            reverse("accounts:signup"),
            reverse("accounts:password_reset"),
        ],
    }
    actions = set()
    for who, urls in pages.items():
        browser = Client()
        if who == "signed in":
            browser.force_login(owner)
        for url in urls:
            response = browser.get(url)
            assert response.status_code == 200, (url, response.status_code)
            for form in post_forms(response.content.decode(), url):
                # The one form without a token: the language switcher for a visitor not signed
                # in, so public pages stay cacheable (accounts.views.language_choose). It
                # changes only that browser's language cookie; signed in, it carries a token.
                if who == "anonymous" and form["action"] == reverse("language-choose"):
                    continue
                assert form["token"], (url, form)
                actions.add((who, form["action"]))
    # The pages above hold every kind of form the site has.
    assert len(actions) >= 18, sorted(actions)

    for who, action in sorted(actions):
        forger = Client(enforce_csrf_checks=True)
        if who == "signed in":
            forger.force_login(owner)
        response = forger.post(action, {"confirm": "on", "email": owner.email, "password": "x"})
        assert response.status_code == 403, (who, action, response.status_code)
        assert re.search(rb"CSRF", response.content), action


# --- Admin ----------------------------------------------------------------------------


def test_the_admin_is_for_staff_only(client):
    index = reverse("admin:index")
    changelists = [
        reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        for model in admin.site._registry
    ]
    assert len(changelists) >= 8

    dashboard_retry = reverse("admin-dashboard-retry", args=["render", 1])
    client.force_login(UserFactory())
    for url in [index, *changelists, reverse("admin-dashboard")]:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login")), url
    response = client.post(dashboard_retry)
    assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))

    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    for url in [index, *changelists]:
        assert client.get(url).status_code == 200, url
