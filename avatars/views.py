"""Avatar pages: thin views over avatars.services and avatars.selectors."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import RequestDataTooBig, TooManyFilesSent
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from avatars import selectors, services
from avatars.models import Avatar, Photo
from styles.selectors import template_list_published


def _photo_json(photo: Photo) -> dict:
    return {
        "id": photo.pk,
        "name": photo.original_name,
        "status": photo.status,
        "accepted": photo.status == Photo.Status.ACCEPTED,
        "reason_code": photo.reason_code,
        "reason": photo.reason,
        "thumbnail_url": (
            f"/avatars/{photo.avatar.public_id}/photos/{photo.pk}/image/" if photo.image else None
        ),
    }


def _readiness_json(avatar: Avatar) -> dict:
    readiness = selectors.avatar_photo_readiness(avatar=avatar)
    return {"accepted": readiness.accepted, "required": readiness.required, "missing": readiness.missing,
            "ready": readiness.ready}


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


@login_required
def detail(request, public_id):
    avatar = selectors.avatar_get_for_user(user=request.user, public_id=public_id)
    if avatar.status == Avatar.Status.COLLECTING:
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
        "more_templates": template_list_published().exclude(pk__in={p.template_id for p in portraits}),
    })


@login_required
@require_POST
def photo_upload(request, public_id):
    avatar = selectors.avatar_get_for_user(user=request.user, public_id=public_id)
    try:
        files = request.FILES.getlist("photos")
    except (TooManyFilesSent, RequestDataTooBig):
        return JsonResponse({"error": "Too many photos in one go: send at most 50 at a time."}, status=400)
    if not files:
        return JsonResponse({"error": "Choose at least one photo."}, status=400)
    results = []
    for uploaded in files:
        try:
            results.append(_photo_json(services.photo_add(avatar=avatar, uploaded_file=uploaded)))
        except services.AvatarError as error:
            results.append({"name": uploaded.name, "accepted": False, "status": "rejected",
                            "reason_code": "not_taken", "reason": str(error)})
    photos = selectors.photo_list_for_avatar(avatar=avatar)
    return JsonResponse({
        "results": results,
        "photos": [_photo_json(p) for p in photos],
        "readiness": _readiness_json(avatar),
    })


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
    return _private_file(photo.image, content_type="image/jpeg")


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
def progress(request, public_id):
    avatar = selectors.avatar_get_for_user(user=request.user, public_id=public_id)
    return JsonResponse(selectors.avatar_progress(avatar=avatar))


def _private_file(field_file, *, content_type: str, download_name: str | None = None):
    response = FileResponse(field_file.open("rb"), content_type=content_type,
                            as_attachment=download_name is not None, filename=download_name or "")
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_GET
def portrait_image(request, public_id):
    portrait = selectors.portrait_get_for_user(user=request.user, public_id=public_id)
    return _private_file(portrait.image, content_type="image/png")


@login_required
@require_GET
def portrait_download(request, public_id):
    portrait = selectors.portrait_get_for_user(user=request.user, public_id=public_id)
    services.portrait_download_record(portrait=portrait)
    name = f"likeness-{portrait.template.slug}-v{portrait.version}.png"
    return _private_file(portrait.image, content_type="image/png", download_name=name)


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
