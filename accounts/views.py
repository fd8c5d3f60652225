"""The accounts pages: sign-up, sign-in (the site's and the admin's), password reset, My data and its deletions, language and time zone."""

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponseRedirect
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from accounts.forms import (
    AvatarDeleteForm,
    DeleteEverythingForm,
    EmailAuthenticationForm,
    EmailPasswordResetForm,
    NewPasswordForm,
    SignupForm,
)
from accounts.locale import (
    TIME_ZONE_COOKIE,
    language_cookie_set,
    language_supported,
    time_zones_available,
    user_language,
    user_locale_capture,
    user_locale_set,
    user_time_zone,
)
from accounts.receipts import receipt_lines
from accounts.selectors import receipt_get
from accounts.services import account_sign_up, auth_rate_limit_hit, sign_in_check
from accounts.terms import terms_version
from accounts.tokens import api_token_revoke
from avatars.selectors import avatar_get_for_user, portrait_get_for_user
from avatars.services import avatar_delete_with_receipt, portrait_delete_with_receipt
from portrait_site.core.pages import refusals_back_to
from portrait_site.privacy.deletion import user_delete_everything
from portrait_site.privacy.my_data import my_data_for_user


def rate_limited(request, *, scope: str):
    return render(request, "accounts/rate_limited.html", {"scope": scope}, status=429)


class RateLimitedPostMixin:
    """Counts each POST against the client's per-minute budget for `rate_limit_scope`."""

    rate_limit_scope = ""

    def post(self, request, *args, **kwargs):
        if auth_rate_limit_hit(request=request, scope=self.rate_limit_scope):
            return rate_limited(request, scope=self.rate_limit_scope)
        return super().post(request, *args, **kwargs)


def _locale_capture(request, user) -> None:
    user_locale_capture(
        user=user, language=translation.get_language(), time_zone=request.COOKIES.get(TIME_ZONE_COOKIE)
    )


def signup(request):
    if request.user.is_authenticated:
        return redirect("avatars:home")
    if request.method == "POST" and auth_rate_limit_hit(request=request, scope="signup"):
        return rate_limited(request, scope="signup")
    form = SignupForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        account_sign_up(
            email=form.cleaned_data["email"],
            password=form.cleaned_data["password1"],
            terms_version=form.cleaned_data["terms_version"],
            # The confirmation link is mailed in the language the page was read in.
            language=translation.get_language(),
            time_zone=request.COOKIES.get(TIME_ZONE_COOKIE, ""),
        )
        return redirect("accounts:signup_sent")
    return render(request, "accounts/signup.html", {"form": form, "terms_version": terms_version()})


def signup_sent(request):
    """What every sign-up hears, whether or not the address had an account already."""
    return render(request, "accounts/signup_sent.html", {
        "hours": settings.LIKENESS_EMAIL_VERIFICATION_MAX_AGE_HOURS,
    })


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = EmailAuthenticationForm
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        sign_in_check(request=request, account=request.POST.get("username", ""))
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        _locale_capture(self.request, form.get_user())
        return super().form_valid(form)


def admin_login(request):
    """The admin's sign-in page, on the same budget as the website's and the API's (its form,
    accounts.forms.AdminSignInForm, counts the wrong passwords)."""
    if request.method == "POST":
        sign_in_check(request=request, account=request.POST.get("username", ""))
    return admin.site.login(request)


class PasswordResetView(RateLimitedPostMixin, auth_views.PasswordResetView):
    template_name = "accounts/password_reset_form.html"
    form_class = EmailPasswordResetForm
    email_template_name = "accounts/password_reset_email.txt"
    subject_template_name = "accounts/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")
    rate_limit_scope = "password_reset"

    @property
    def extra_email_context(self):
        # The link is built from the configured address, never the request's Host header:
        # a forged Host would otherwise mail a real person a link to someone else's site.
        return {"site_url": settings.SITE_URL.rstrip("/")}


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    form_class = NewPasswordForm
    success_url = reverse_lazy("accounts:password_reset_complete")


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"


@login_required
def my_data(request):
    context = {
        **my_data_for_user(user=request.user),
        "api_token_days": settings.LIKENESS_API_TOKEN_DAYS,
        "saved_language": user_language(user=request.user),
        "saved_time_zone": user_time_zone(user=request.user),
        "time_zones": time_zones_available(),
    }
    return render(request, "accounts/my_data.html", context)


@login_required
@require_POST
def api_token_revoke_view(request, token_id):
    if not api_token_revoke(user=request.user, token_id=token_id):
        raise Http404("No such token.")
    messages.success(request, _("The API token was revoked: it opens nothing any more."))
    return redirect("accounts:my_data")


@login_required
def avatar_delete(request, public_id):
    avatar = avatar_get_for_user(user=request.user, public_id=public_id)
    form = AvatarDeleteForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        receipt = avatar_delete_with_receipt(user=request.user, avatar=avatar)
        return redirect("accounts:receipt", token=receipt.token)
    return render(request, "accounts/avatar_delete.html", {"avatar": avatar, "form": form})


@login_required
@require_POST
def portrait_delete(request, public_id):
    portrait = portrait_get_for_user(user=request.user, public_id=public_id)
    receipt = portrait_delete_with_receipt(user=request.user, portrait=portrait)
    return redirect("accounts:receipt", token=receipt.token)


@login_required
def delete_everything(request):
    form = DeleteEverythingForm(request.POST if request.method == "POST" else None, user=request.user)
    if request.method == "POST" and form.is_valid():
        receipt = user_delete_everything(user=request.user)
        logout(request)
        return redirect("accounts:receipt", token=receipt.token)
    return render(request, "accounts/delete_everything.html", {"form": form})


def receipt(request, token):
    found = receipt_get(token=token)
    if found is None:
        raise Http404("No such receipt.")
    return render(
        request, "accounts/receipt.html", {"receipt": found, "lines": receipt_lines(receipt=found)}
    )


def _back_to(request, fallback: str = "/") -> str:
    wanted = request.POST.get("next") or fallback
    safe = url_has_allowed_host_and_scheme(wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure())
    return wanted if safe else fallback


# Not CSRF-checked for visitors not signed in: the public pages stay cacheable without a
# per-visitor token, and a forged post could only change a visitor's language. A signed-in
# person's account changes, so theirs is checked as every other form's is.
@csrf_exempt
@require_POST
def language_choose(request):
    """The switcher on every page: the language for this browser and, signed in, the account."""
    if request.user.is_authenticated:
        refused = CsrfViewMiddleware(lambda r: None).process_view(request, None, (), {})
        if refused is not None:
            return refused
    # A URL, never a view name: redirect() would try to reverse whatever the visitor sent.
    response = HttpResponseRedirect(_back_to(request))
    language = language_supported(request.POST.get("language"))
    if language is None:
        return response
    if request.user.is_authenticated:
        user_locale_set(user=request.user, language=language)
    language_cookie_set(response, language)
    return response


@login_required
@require_POST
@refusals_back_to("accounts:my_data")
def locale_preferences(request):
    """The account page's language and time zone: mail from the workers follows them."""
    user_locale_set(
        user=request.user,
        language=request.POST.get("language") or None,
        time_zone=request.POST.get("time_zone") or None,
    )
    messages.success(request, _("Saved: your language and time zone."))
    response = redirect("accounts:my_data")
    language_cookie_set(response, request.user.language)
    return response
