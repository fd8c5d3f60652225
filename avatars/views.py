"""Avatar pages: thin views over avatars.services and avatars.selectors."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import RequestDataTooBig, TooManyFilesSent
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST

from accounts.consent import PhotoConsentRequired, photo_upload_check
from accounts.terms import TermsNotAccepted
from avatars import selectors, services
from avatars.api.serializers import photo_upload_result_data
from avatars.models import Avatar
from portrait_site.caching import progress_poll_response
from portrait_site.errors import json_error
from portrait_site.files import private_file_response
from styles.selectors import template_list_published


@login_required
def home(request):
    return render(request, "avatars/home.html", {"avatars": selectors.avatar_list_for_user(user=request.user)})


@login_required
@require_POST
def create(request):
    try:
        avatar = services.avatar_create(
            user=request.user, name=request.POST.get("name", ""),
            subject_class=request.POST.get("subject_class", Avatar.SubjectClass.PERSON),
        )
    except services.AvatarError as error:
        messages.error(request, str(error))
        return redirect("avatars:home")
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
            "templates": template_list_published(),
            "chosen": set(avatar.templates.values_list("pk", flat=True)),
        })
    portraits = list(selectors.portrait_list_for_avatar(avatar=avatar))
    return render(request, "avatars/detail.html", {
        "avatar": avatar,
        "progress": selectors.avatar_progress(avatar=avatar),
        "photos_kept_until": selectors.avatar_failed_photos_kept_until(avatar=avatar),
        "portraits": portraits,
        "allowance": selectors.avatar_render_allowance(avatar=avatar),
        "more_templates": template_list_published().exclude(pk__in={p.template_id for p in portraits}),
    })


@login_required
@require_POST
def photo_upload(request, public_id):
    """The upload page's script posts here; it answers exactly as the API's photo upload does."""
    avatar = selectors.avatar_get_for_user(user=request.user, public_id=public_id)
    try:
        files = request.FILES.getlist("photos")
    except (TooManyFilesSent, RequestDataTooBig):
        return json_error(status=400, code="invalid", message=services.photos_too_many_message())
    if not files:
        return json_error(status=400, code="invalid", message="Choose at least one photo.")
    try:
        photo_upload_check(user=request.user, avatar=avatar)
    except (TermsNotAccepted, PhotoConsentRequired) as refusal:
        return json_error(status=refusal.http_status, code=refusal.code, message=refusal.message)
    try:
        outcomes = services.photos_add(avatar=avatar, uploaded_files=files)
    except services.AvatarError as refusal:
        return json_error(status=refusal.http_status, code=refusal.code, message=refusal.message)
    return JsonResponse(photo_upload_result_data(avatar=avatar, outcomes=outcomes), status=201)


@login_required
@require_POST
def photo_remove(request, public_id, photo_id):
    avatar = selectors.avatar_get_for_user(user=request.user, public_id=public_id)
    photo = selectors.photo_get_for_user(user=request.user, avatar=avatar, photo_id=photo_id)
    try:
        services.photo_remove(photo=photo)
    except services.AvatarError as error:
        messages.error(request, str(error))
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
@require_POST
def templates_choose(request, public_id):
    avatar = selectors.avatar_get_for_user(user=request.user, public_id=public_id)
    chosen = template_list_published().filter(pk__in=request.POST.getlist("templates"))
    try:
        services.avatar_templates_set(avatar=avatar, templates=chosen)
    except services.AvatarError as error:
        messages.error(request, str(error))
    return redirect("avatars:detail", public_id=avatar.public_id)


@login_required
@require_GET
@progress_poll_response
def progress(request, public_id):
    avatar = selectors.avatar_get_for_user(user=request.user, public_id=public_id)
    return JsonResponse(selectors.avatar_progress(avatar=avatar))


@login_required
@require_GET
def portrait_image(request, public_id):
    portrait = selectors.portrait_get_for_user(user=request.user, public_id=public_id)
    # The pages show the web-sized copy; the download is the full-size file.
    return private_file_response(portrait.web_image or portrait.image, content_type="image/png")


@login_required
@require_GET
def portrait_download(request, public_id):
    portrait = selectors.portrait_get_for_user(user=request.user, public_id=public_id)
    services.portrait_download_record(portrait=portrait)
    return private_file_response(
        portrait.image, content_type="image/png", download_name=selectors.portrait_download_name(portrait=portrait)
    )


@login_required
def portrait_detail(request, public_id):
    portrait = selectors.portrait_get_for_user(user=request.user, public_id=public_id)
    return render(request, "avatars/portrait.html", {
        "portrait": portrait,
        "avatar": portrait.avatar,
        "versions": selectors.portrait_versions(portrait=portrait),
    })


def _portrait_render_again(request, public_id, service, success_message: str):
    portrait = selectors.portrait_get_for_user(user=request.user, public_id=public_id)
    try:
        service(portrait=portrait)
        messages.success(request, success_message)
    except services.AvatarError as error:
        messages.error(request, str(error))
    return redirect("avatars:detail", public_id=portrait.avatar.public_id)


@login_required
@require_POST
def portrait_more_like_me(request, public_id):
    return _portrait_render_again(request, public_id, services.portrait_more_like_me,
                                  "Rendering a version that looks more like you.")


@login_required
@require_POST
def portrait_reroll(request, public_id):
    return _portrait_render_again(request, public_id, services.portrait_reroll,
                                  "Rendering a fresh take on this style.")


@login_required
@require_POST
def reopen(request, public_id):
    avatar = selectors.avatar_get_for_user(user=request.user, public_id=public_id)
    try:
        services.avatar_reopen(avatar=avatar)
    except services.AvatarError as error:
        messages.error(request, str(error))
    return redirect("avatars:detail", public_id=avatar.public_id)


@login_required
@require_POST
def render_more(request, public_id):
    avatar = selectors.avatar_get_for_user(user=request.user, public_id=public_id)
    templates = template_list_published().filter(pk__in=request.POST.getlist("templates"))
    try:
        services.avatar_render_more(avatar=avatar, templates=templates)
        messages.success(request, "Rendering your new styles.")
    except services.AvatarError as error:
        messages.error(request, str(error))
    return redirect("avatars:detail", public_id=avatar.public_id)
