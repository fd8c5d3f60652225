"""The styles pages: the gallery, a style's page and pictures, and template requests with their votes."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portrait_site.core.caching import cache_public_page, personal_page_kept
from portrait_site.core.errors import ApplicationError
from portrait_site.core.pages import refusals_back_to
from styles.forms import TemplateRequestForm
from styles.models import StyleTemplate, TemplateRequest
from styles.selectors import (
    template_catalogue_version,
    template_gallery_list,
    template_get_visible,
    template_request_page_ranked,
    template_request_page_version,
    template_request_position,
)
from styles.services import (
    DuplicateTemplateRequest,
    template_request_create,
    template_request_vote_set,
    template_request_vote_toggle,
)


@cache_public_page(template_catalogue_version)
def gallery(request):
    category = request.GET.get("category", "")
    if category not in StyleTemplate.Category.values:
        category = ""
    return render(request, "styles/gallery.html", {
        "templates": template_gallery_list(category=category or None),
        "categories": StyleTemplate.Category.choices,
        "category": category,
    })


@cache_public_page(template_catalogue_version)
def detail(request, slug: str):
    template = template_get_visible(slug=slug, viewer=request.user)
    return render(request, "styles/detail.html", {"template": template, "examples": list(template.examples.all())})


def _image_response(field_file, *, cache_control: str) -> FileResponse:
    if not field_file:
        raise Http404("No image.")
    try:
        opened = field_file.open("rb")
    except FileNotFoundError:
        raise Http404("No image.") from None
    response = FileResponse(opened, content_type="image/png")
    response["Cache-Control"] = cache_control
    return response


def cover(request, slug: str):
    template = template_get_visible(slug=slug, viewer=request.user)
    # Covers are public content, but only while the template is published.
    cache_control = "public, max-age=3600" if template.is_published else "private, no-store"
    return _image_response(template.cover_image, cache_control=cache_control)


def example(request, slug: str, example_id: int):
    template = template_get_visible(slug=slug, viewer=request.user)
    shown = get_object_or_404(template.examples, pk=example_id)
    cache_control = "public, max-age=3600" if template.is_published else "private, no-store"
    return _image_response(shown.image, cache_control=cache_control)


# A page stays light however many requests are open; the most wanted come first.
REQUESTS_PER_PAGE = 20
# The latest requests that became styles, under the open ones.
SHIPPED_SHOWN = 12


def _request_list_url(request_id: int) -> str:
    """The requests page where this request now stands in the ranking, scrolled to it."""
    position = template_request_position(request_id=request_id) or 1
    page = (position - 1) // REQUESTS_PER_PAGE + 1
    query = f"?page={page}" if page > 1 else ""
    return f"{reverse('styles:requests')}{query}#request-{request_id}"


@personal_page_kept(template_request_page_version)
def request_list(request):
    form = TemplateRequestForm()
    duplicate = None
    if request.method == "POST":
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        form = TemplateRequestForm(request.POST, request.FILES)
        if form.is_valid():
            # A refused proposal re-renders the form, what was typed kept: a duplicate as the box
            # that offers a vote for the request already there, any other refusal above the fields.
            try:
                created = template_request_create(
                    author=request.user,
                    title=form.cleaned_data["title"],
                    description=form.cleaned_data["description"],
                    reference_image=form.cleaned_data["reference_image"],
                )
            except DuplicateTemplateRequest as error:
                # Said once, in the box that also offers the vote, not again under the title field.
                duplicate = error.existing
            except ValidationError as error:
                form.add_error(None, error)
            except ApplicationError as refusal:
                form.add_error(None, refusal.message)
            else:
                messages.success(request, _("Thanks! “%(title)s” is up for votes, and yours is counted.") % {"title": created.title})
                return redirect(_request_list_url(created.pk))
    return render(request, "styles/requests.html", {
        "page": template_request_page_ranked(
            number=request.GET.get("page"), per_page=REQUESTS_PER_PAGE, viewer=request.user
        ),
        "form": form,
        "duplicate": duplicate,
        "duplicate_voted": duplicate is not None and duplicate.votes.filter(user=request.user).exists(),
        "shipped": TemplateRequest.objects.filter(
            status=TemplateRequest.Status.SHIPPED, template__is_published=True
        ).select_related("template").order_by("-pk")[:SHIPPED_SHOWN],
    })


@require_POST
@login_required
@refusals_back_to("styles:requests")
def request_vote(request, request_id: int):
    get_object_or_404(TemplateRequest, pk=request_id)
    wanted = request.POST.get("voted")
    if wanted in ("1", "0"):
        voted, vote_count = template_request_vote_set(
            user=request.user, request_id=request_id, voted=wanted == "1"
        )
    else:
        voted, vote_count = template_request_vote_toggle(user=request.user, request_id=request_id)
    messages.success(request, _("Your vote is counted.") if voted else _("Your vote was taken back."))
    return redirect(_request_list_url(request_id))


@login_required
def request_reference_image(request, request_id: int):
    template_request = get_object_or_404(TemplateRequest, pk=request_id)
    if not (request.user.is_staff or template_request.author_id == request.user.pk):
        raise Http404("No such image.")
    return _image_response(template_request.reference_image, cache_control="private, no-store")
