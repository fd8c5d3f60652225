"""Avatar pages: thin views over avatars.services and avatars.selectors."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest, RequestDataTooBig, TooManyFilesSent
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext
from django.views.decorators.http import require_GET, require_POST

from accounts.consent import PhotoConsentRequired, photo_upload_check
from accounts.services import client_ip
from accounts.terms import TermsNotAccepted
from avatars import selectors, services
from avatars.api.serializers import photo_upload_result_data
from avatars.downloads import portrait_download_response
from avatars.gpu.progress import avatar_progress
from avatars.models import Avatar, Photo
from portrait_site.core.caching import progress_poll_response
from portrait_site.core.errors import json_error
from portrait_site.core.files import private_file_response, private_spool_response
from portrait_site.core.pages import refusals_as_json
from portrait_site.core.rate_limits import archive_build_refused, archives_limited_message
from styles.models import StyleTemplate


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
        photos = list(selectors.photo_list_for_avatar(avatar=avatar))
        return render(request, "avatars/collect.html", {
            "avatar": avatar,
            # Good photos first, the newest on top; the refused apart, below, to be cleared.
            "accepted_photos": [photo for photo in reversed(photos) if photo.status == Photo.Status.ACCEPTED],
            "refused_photos": [photo for photo in reversed(photos) if photo.status != Photo.Status.ACCEPTED],
            "readiness": selectors.avatar_photo_readiness(avatar=avatar),
            "unpaid_photos_kept_until": selectors.avatar_unpaid_photos_kept_until(avatar=avatar),
            "unpaid_photos_keep_days": settings.LIKENESS_UNPAID_PHOTOS_KEEP_DAYS,
            "templates": selectors.template_list_for_avatar(avatar=avatar),
            "chosen": set(avatar.templates.values_list("pk", flat=True)),
            "max_templates": settings.LIKENESS_MAX_TEMPLATES_PER_ORDER,
        })
    portraits = list(selectors.portrait_list_for_avatar(avatar=avatar))
    more_templates = selectors.template_list_for_avatar(avatar=avatar).exclude(pk__in={p.template_id for p in portraits})
    return render(request, "avatars/detail.html", {
        "avatar": avatar,
        "progress": _progress_for_page(avatar),
        "photos_kept_until": selectors.avatar_failed_photos_kept_until(avatar=avatar),
        "portraits": portraits,
        "favourites": sum(1 for portrait in portraits if portrait.is_favourite),
        "allowance": selectors.avatar_render_allowance(avatar=avatar),
        "can_render": selectors.avatar_renders_new(avatar=avatar),
        "more_templates": more_templates,
        # "Use this style" arrives with the style ticked (use_style).
        "chosen": set(more_templates.filter(slug=request.GET.get("style", "")).values_list("pk", flat=True)),
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
@require_POST
def photos_refused_clear(request, public_id):
    avatar = selectors.avatar_get_for_user(user=request.user, public_id=public_id)
    cleared = services.photos_refused_clear(avatar=avatar)
    messages.success(request, ngettext("%(count)s refused photo cleared.", "%(count)s refused photos cleared.",
                                       cleared) % {"count": cleared})
    return redirect(reverse("avatars:detail", kwargs={"public_id": avatar.public_id}) + "#intake")


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
    if not selectors.photo_has_thumbnail(photo=photo):
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
    wants_json = request.accepts("application/json") and not request.accepts("text/html")
    try:
        template_ids = _posted_template_ids(request)
    except BadRequest as refusal:
        if wants_json:
            return json_error(status=400, code="invalid", message=str(refusal))
        raise
    chosen = selectors.template_list_for_avatar(avatar=avatar).filter(pk__in=template_ids)
    services.avatar_templates_set(avatar=avatar, templates=chosen)
    saved = _("Styles saved: %(count)s chosen.") % {"count": len(chosen)}
    if wants_json:
        return JsonResponse({"chosen": len(chosen), "message": saved})
    messages.success(request, saved)
    return redirect(reverse("avatars:detail", kwargs={"public_id": avatar.public_id}) + "#styles")


def _posted_template_ids(request) -> list[int]:
    """The styles ticked on the page, as ids; BadRequest (a 400 that says why) for anything else."""
    values = request.POST.getlist("templates")
    # Digits only, and few enough for the database's integer: anything else is no style of ours.
    if not all(value.isascii() and value.isdigit() and len(value) <= 18 for value in values):
        raise BadRequest(_("A style was sent as something other than a style's number. Reload the page and tick the styles again."))
    return [int(value) for value in values]


@login_required
@require_GET
@progress_poll_response(
    selectors.avatar_progress_version_for_request, before_building=selectors.avatar_progress_estimates_follow
)
def progress(request, public_id):
    avatar = selectors.avatar_get_for_user(user=request.user, public_id=public_id)
    progress = _progress_for_page(avatar)
    response = JsonResponse(progress)
    response.holds_seconds = selectors.avatar_progress_holds_seconds(progress=progress)
    return response


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
    if archive_build_refused(user_id=request.user.pk):
        return render(request, "accounts/rate_limited.html", {"message": archives_limited_message()}, status=429)
    favourites_only = request.GET.get("favourites") == "1"
    return private_spool_response(
        selectors.avatar_portraits_zip(avatar=avatar, favourites_only=favourites_only), content_type="application/zip",
        download_name=selectors.avatar_portraits_zip_name(avatar=avatar, favourites_only=favourites_only),
    )


@login_required
@require_POST
def portrait_favourite(request, public_id):
    """Marks or unmarks a favourite: the page's form posts `favourite` 1 or 0 (its script reads JSON)."""
    portrait = selectors.portrait_get_for_user(user=request.user, public_id=public_id)
    is_favourite = request.POST.get("favourite") == "1"
    services.portrait_favourite_set(portrait=portrait, is_favourite=is_favourite)
    if request.accepts("application/json") and not request.accepts("text/html"):
        return JsonResponse({"favourite": is_favourite})
    return redirect(reverse("avatars:detail", kwargs={"public_id": portrait.avatar.public_id}) + f"#portrait-{portrait.public_id}")


@login_required
def portrait_detail(request, public_id):
    portrait = selectors.portrait_get_for_user(user=request.user, public_id=public_id)
    gallery = list(selectors.portrait_list_for_avatar(avatar=portrait.avatar))
    position = next(index for index, shown in enumerate(gallery) if shown.pk == portrait.pk)
    return render(request, "avatars/portrait.html", {
        "portrait": portrait,
        "avatar": portrait.avatar,
        "versions": selectors.portrait_versions_compared(portrait=portrait),
        "can_render": selectors.avatar_renders_new(avatar=portrait.avatar),
        "previous": gallery[position - 1] if position > 0 else None,
        "next": gallery[position + 1] if position + 1 < len(gallery) else None,
        "position": position + 1,
        "gallery_size": len(gallery),
        "viewer_start": position,
        "viewer_portraits": [_viewer_entry(shown) for shown in gallery],
    })


def _viewer_entry(portrait) -> dict:
    """What the full-screen viewer shows for one portrait: the picture, its caption, its
    download and the engine that made it, in the reader's language."""
    return {
        "src": reverse("avatars:portrait_image", args=[portrait.public_id]),
        "caption": selectors.portrait_caption(portrait=portrait),
        "download": reverse("avatars:portrait_download", args=[portrait.public_id]),
        "engine": selectors.engine_label_words(portrait.engine_label) if portrait.engine_label else "",
        "test_output": selectors.engine_label_is_test_output(portrait.engine_label),
    }


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
@require_GET
def use_style(request, slug):
    """A style page's "Use this style": to the person's trained avatar with the style ticked
    among its new styles (or to its portraits of it, when it has them), else to the avatar
    collecting photos, else to My avatars."""
    template = get_object_or_404(StyleTemplate, slug=slug, is_published=True)
    avatar = selectors.avatar_for_style_use(user=request.user, template=template)
    if avatar is None:
        messages.info(request, _("Create an avatar first: then pick “%(style)s” for it.") % {"style": template.display_title})
        return redirect("avatars:home")
    page = reverse("avatars:detail", kwargs={"public_id": avatar.public_id})
    if avatar.status == Avatar.Status.COLLECTING:
        return redirect(f"{page}#styles")
    if avatar.portraits.filter(template=template).exists():
        return redirect(f"{page}#style-{template.slug}")
    return redirect(f"{page}?{urlencode({'style': template.slug})}#render-more")


@login_required
@require_POST
def render_more(request, public_id):
    avatar = selectors.avatar_get_for_user(user=request.user, public_id=public_id)
    templates = selectors.template_list_for_avatar(avatar=avatar).filter(pk__in=_posted_template_ids(request))
    services.avatar_render_more(avatar=avatar, templates=templates)
    messages.success(request, _("Rendering your new styles."))
    return redirect("avatars:detail", public_id=avatar.public_id)
