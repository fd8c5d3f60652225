"""The pages that say who owns what, and the records behind them: terms and privacy, accepting
a new version, consent for an avatar's photos, verifying the email address, downloading my
data, and a deletion receipt as a file. Thin views over accounts.terms, accounts.consent,
accounts.verification, portrait_site.privacy.export and accounts.receipt_files."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from accounts.consent import photo_consent_give, photo_consent_given, photo_consent_statement
from accounts.forms import PhotoConsentForm, TermsAcceptForm
from accounts.receipt_files import receipt_file_name, receipt_text
from accounts.selectors import receipt_get
from accounts.terms import terms_accept, terms_accepted, terms_figures, terms_version
from accounts.verification import (
    email_verification_resend,
    email_verify,
)
from avatars.selectors import avatar_get_for_user
from portrait_site.core.pages import refusals_back_to
from portrait_site.core.rate_limits import archive_build_refused, archives_limited_message
from portrait_site.privacy.export import user_data_export_response


def url_with_next(url_name: str, next_url: str, **kwargs) -> str:
    return f"{reverse(url_name, kwargs=kwargs or None)}?{urlencode({'next': next_url})}"


def _safe_next(request, default: str) -> str:
    """The visitor's `next`, if it is a URL of this site; redirect to it with HttpResponseRedirect,
    never redirect(), which would take "abc" for a view name."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return default


@require_GET
def terms(request):
    return render(request, settings.LIKENESS_TERMS_TEMPLATE, terms_figures())


@require_GET
def privacy(request):
    return render(request, settings.LIKENESS_PRIVACY_TEMPLATE, terms_figures())


@login_required
@require_http_methods(["GET", "POST"])
def terms_accept_page(request):
    next_url = _safe_next(request, reverse("avatars:home"))
    if terms_accepted(user=request.user):
        return HttpResponseRedirect(next_url)
    form = TermsAcceptForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        terms_accept(user=request.user, version=form.cleaned_data["terms_version"])
        messages.success(request, _("Thank you: you accepted version %(version)s of the terms.") % {"version": terms_version()})
        return HttpResponseRedirect(next_url)
    return render(request, "accounts/terms_accept.html", {"form": form, "next": next_url, **terms_figures()})


@login_required
@require_http_methods(["GET", "POST"])
def photo_consent(request, public_id):
    avatar = avatar_get_for_user(user=request.user, public_id=public_id)
    if photo_consent_given(avatar=avatar):
        return redirect("avatars:detail", public_id=avatar.public_id)
    if not terms_accepted(user=request.user):
        return redirect(url_with_next("accounts:terms_accept", request.path))
    form = PhotoConsentForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        photo_consent_give(user=request.user, avatar=avatar)
        return redirect("avatars:detail", public_id=avatar.public_id)
    return render(request, "accounts/photo_consent.html", {
        "avatar": avatar,
        "form": form,
        "statement": photo_consent_statement(avatar=avatar).splitlines(),
        **terms_figures(),
    })


@require_GET
def verify_email(request, token):
    # A link that does not work, or is someone else's, is its refusal's own page.
    verified = email_verify(token=token, visitor=request.user)
    if verified.sign_in:
        login(request, verified.user, backend="django.contrib.auth.backends.ModelBackend")
    elif request.user.is_authenticated:
        # The signed-in person was read before this view (for their language): show them verified.
        request.user.email_verified_at = verified.user.email_verified_at
    return render(request, "accounts/verify_email_done.html", {
        "verified_email": verified.user.email, "signed_in": request.user.is_authenticated,
    })


def _verify_email_needed_url(request) -> str:
    return url_with_next("accounts:verify_email_needed", _safe_next(request, reverse("avatars:home")))


@login_required
@require_http_methods(["GET", "POST"])
@refusals_back_to(_verify_email_needed_url)
def verify_email_needed(request):
    next_url = _safe_next(request, reverse("avatars:home"))
    if request.method == "POST":
        email_verification_resend(user=request.user)
        messages.success(request, _("A new link is on its way to %(email)s.") % {"email": request.user.email})
        return redirect(_verify_email_needed_url(request))
    return render(request, "accounts/verify_email_needed.html", {
        "next": next_url, "hours": settings.LIKENESS_EMAIL_VERIFICATION_MAX_AGE_HOURS,
    })


@login_required
@require_GET
def my_data_download(request):
    if archive_build_refused(user_id=request.user.pk):
        return render(request, "accounts/rate_limited.html", {"message": archives_limited_message()}, status=429)
    return user_data_export_response(user=request.user)


@require_GET
def receipt_download(request, token):
    found = receipt_get(token=token)
    if found is None:
        raise Http404("No such receipt.")
    page_url = request.build_absolute_uri(reverse("accounts:receipt", args=[found.token]))
    response = HttpResponse(receipt_text(receipt=found, page_url=page_url), content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{receipt_file_name(receipt=found)}"'
    response["Cache-Control"] = "private, no-store"
    return response
