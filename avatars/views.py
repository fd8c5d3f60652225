"""Avatar pages: thin views over avatars.services and avatars.selectors."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import RequestDataTooBig, TooManyFilesSent
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.http import require_GET, require_POST

from accounts.consent import PhotoConsentRequired, photo_upload_check
from accounts.services import client_ip
from accounts.terms import TermsNotAccepted
from avatars import selectors, services
from avatars.api.serializers import photo_upload_result_data
from avatars.downloads import portrait_download_response
from avatars.gpu.progress import avatar_progress
from avatars.models import Avatar
from portrait_site.core.caching import progress_poll_response
from portrait_site.core.errors import json_error
from portrait_site.core.files import private_bytes_response, private_file_response
from portrait_site.core.pages import refusals_as_json


@login_required
def home(request):
    return render(request, "avatars/home.html", {
        "avatars": selectors.avatar_list_for_user_with_cover(user=request.user),
        "min_photos": settings.LIKENESS_MIN_PHOTOS,
    })


@login_required
@require_POST
def create(request):
    avatar = services.avatar_create(
        user=request.user, name=request.POST.get("name", ""),
        subject_class=request.POST.get("subject_class", Avatar.SubjectClass.PERSON),
    )
    return redirect("avatars:detail", public_id=avatar.public_id)


def _upload_gate(request, avatar):
    """Where the person goes first when a photo can't be taken yet: the new terms, or this
    avatar's consent screen. None when uploading may go on."""
    try:
        photo_upload_check(user=request.user, avatar=avatar)
    except TermsNotAccepted:
        return redirect(f"{reverse('accounts:terms_accept')}?{urlencode({'next': request.path})}")
    except PhotoConsentRequired:
        return redirect("accounts:photo_consent", public_id=avatar.public_id)
    return None


@login_required
def detail(request, public_id):
    avatar = selectors.avatar_get_for_user(user=request.user, public_id=public_id)
    if avatar.status == Avatar.Status.COLLECTING:
        if gate := _upload_gate(request, avatar):
            return gate
        return render(request, "avatars/collect.html", {
            "avatar": avatar,
            "photos": selectors.photo_list_for_avatar(avatar=avatar),
            "readiness": selectors.avatar_photo_readiness(avatar=avatar),
            "unpaid_photos_kept_until": selectors.avatar_unpaid_photos_kept_until(avatar=avatar),
            "unpaid_photos_keep_days": settings.LIKENESS_UNPAID_PHOTOS_KEEP_DAYS,
            "templates": selectors.template_list_for_avatar(avatar=avatar),
            "chosen": set(avatar.templates.values_list("pk", flat=True)),
            "max_templates": settings.LIKENESS_MAX_TEMPLATES_PER_ORDER,
        })
    portraits = list(selectors.portrait_list_for_avatar(avatar=avatar))
    return render(request, "avatars/detail.html", {
        "avatar": avatar,
        "progress": _progress_for_page(avatar),
        "photos_kept_until": selectors.avatar_failed_photos_kept_until(avatar=avatar),
        "portraits": portraits,
        "allowance": selectors.avatar_render_allowance(avatar=avatar),
        "can_render": selectors.avatar_renders_new(avatar=avatar),
        "more_templates": selectors.template_list_for_avatar(avatar=avatar).exclude(
            pk__in={p.template_id for p in portraits}
        ),
    })


def _progress_for_page(avatar: Avatar) -> dict:
    """avatar_progress's data with the words the page shows for it."""
    progress = avatar_progress(avatar=avatar)
    progress["summary"] = selectors.avatar_progress_summary(progress=progress)
    for job in progress["jobs"]:
        job["state_words"] = selectors.job_state_words(job=job)
    return progress


@login_required
@require_POST
@refusals_as_json
def photo_upload(request, public_id):
    """The upload page's script posts here; it answers exactly as the API's photo upload does."""
    avatar = selectors.avatar_get_for_user(user=request.user, public_id=public_id)
    try:
        files = request.FILES.getlist("photos")
    except (TooManyFilesSent, RequestDataTooBig):
        return json_error(status=400, code="invalid", message=services.photos_too_many_message())
    if not files:
        return json_error(status=400, code="invalid", message=_("Choose at least one photo."))
    # The page's script asks for JSON: a refusal answers as the API's error body (portrait_site.core.pages).
    photo_upload_check(user=request.user, avatar=avatar)
    outcomes = services.photos_add(avatar=avatar, uploaded_files=files, client_address=client_ip(request))
    return JsonResponse(photo_upload_result_data(avatar=avatar, outcomes=outcomes), status=201)


@login_required
@require_POST
def photo_remove(request, public_id, photo_id):
    avatar = selectors.avatar_get_for_user(user=request.user, public_id=public_id)
    photo = selectors.photo_get_for_user(user=request.user, avatar=avatar, photo_id=photo_id)
    services.photo_remove(photo=photo)
    return redirect("avatars:detail", public_id=avatar.public_id)


@login_required
@require_GET
def photo_image(request, public_id, photo_id):
    avatar = selectors.avatar_get_for_user(user=request.user, public_id=public_id)
    photo = selectors.photo_get_for_user(user=request.user, avatar=avatar, photo_id=photo_id)
    if not photo.image:
        raise Http404("This photo is no longer stored.")
    return private_file_response(photo.image, content_type="image/jpeg")


@login_required
@require_GET
def photo_thumbnail(request, public_id, photo_id):
    avatar = selectors.avatar_get_for_user(user=request.user, public_id=public_id)
    photo = selectors.photo_get_for_user(user=request.user, avatar=avatar, photo_id=photo_id)
    if not photo.image:
        raise Http404("This photo is no longer stored.")
    try:
        thumbnail = selectors.photo_thumbnail_jpeg(photo=photo)
    except OSError:
        # Gone from storage, or not a picture Pillow reads (the intake stores only clean JPEGs).
        raise Http404("This photo is no longer stored.") from None
    response = HttpResponse(thumbnail, content_type="image/jpeg")
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_POST
def templates_choose(request, public_id):
    """Saves the chosen styles; the page's script posts each tick here and reads the JSON answer."""
    avatar = selectors.avatar_get_for_user(user=request.user, public_id=public_id)
    chosen = selectors.template_list_for_avatar(avatar=avatar).filter(pk__in=request.POST.getlist("templates"))
    services.avatar_templates_set(avatar=avatar, templates=chosen)
    saved = _("Styles saved: %(count)s chosen.") % {"count": len(chosen)}
    if request.accepts("application/json") and not request.accepts("text/html"):
        return JsonResponse({"chosen": len(chosen), "message": saved})
    messages.success(request, saved)
    return redirect(reverse("avatars:detail", kwargs={"public_id": avatar.public_id}) + "#styles")


@login_required
@require_GET
@progress_poll_response
def progress(request, public_id):
    avatar = selectors.avatar_get_for_user(user=request.user, public_id=public_id)
    return JsonResponse(_progress_for_page(avatar))


@login_required
@require_GET
def portrait_image(request, public_id):
    portrait = selectors.portrait_get_for_user(user=request.user, public_id=public_id)
    # The pages show the web-sized copy; the download is the full-size file.
    return private_file_response(portrait.web_image or portrait.image, content_type="image/png")


@login_required
@require_GET
def portrait_download(request, public_id):
    return portrait_download_response(portrait=selectors.portrait_get_for_user(user=request.user, public_id=public_id))


@login_required
@require_GET
def portraits_download_all(request, public_id):
    avatar = selectors.avatar_get_for_user(user=request.user, public_id=public_id)
    return private_bytes_response(
        selectors.avatar_portraits_zip(avatar=avatar), content_type="application/zip",
        download_name=selectors.avatar_portraits_zip_name(avatar=avatar),
    )


@login_required
def portrait_detail(request, public_id):
    portrait = selectors.portrait_get_for_user(user=request.user, public_id=public_id)
    return render(request, "avatars/portrait.html", {
        "portrait": portrait,
        "avatar": portrait.avatar,
        "versions": selectors.portrait_versions_compared(portrait=portrait),
        "can_render": selectors.avatar_renders_new(avatar=portrait.avatar),
    })


def _portrait_render_again(request, public_id, service, success_message: str):
    portrait = selectors.portrait_get_for_user(user=request.user, public_id=public_id)
    service(portrait=portrait)
    messages.success(request, _(success_message))
    return redirect("avatars:detail", public_id=portrait.avatar.public_id)


@login_required
@require_POST
def portrait_more_like_me(request, public_id):
    return _portrait_render_again(request, public_id, services.portrait_more_like_me,
                                  gettext_noop("Rendering a version that looks more like you."))


@login_required
@require_POST
def portrait_reroll(request, public_id):
    return _portrait_render_again(request, public_id, services.portrait_reroll,
                                  gettext_noop("Rendering a fresh take on this style."))


@login_required
@require_POST
def reopen(request, public_id):
    avatar = selectors.avatar_get_for_user(user=request.user, public_id=public_id)
    services.avatar_reopen(avatar=avatar)
    return redirect("avatars:detail", public_id=avatar.public_id)


@login_required
@require_POST
def render_more(request, public_id):
    avatar = selectors.avatar_get_for_user(user=request.user, public_id=public_id)
    templates = selectors.template_list_for_avatar(avatar=avatar).filter(pk__in=request.POST.getlist("templates"))
    services.avatar_render_more(avatar=avatar, templates=templates)
    messages.success(request, _("Rendering your new styles."))
    return redirect("avatars:detail", public_id=avatar.public_id)
