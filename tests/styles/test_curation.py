"""The operator's curation: requests planned, declined or made templates, publishing that tells every voter, the admin's checks."""

import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import Notice
from avatars.models import Avatar, RenderJob
from styles.models import StyleTemplate, TemplateRequest
from styles.services import (
    CurationRefused,
    template_publish,
    template_request_create,
    template_request_decline,
    template_request_plan,
    template_request_to_template,
    template_request_vote_toggle,
)
from tests.factories import (
    AvatarFactory,
    PortraitFactory,
    RenderJobFactory,
    StyleTemplateFactory,
    TemplateRequestFactory,
    TemplateVoteFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

CHANGELIST_TEMPLATES = "admin:styles_styletemplate_changelist"
CHANGELIST_REQUESTS = "admin:styles_templaterequest_changelist"


@pytest.fixture
def staff_client(client):
    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)
    client.staff = staff
    return client


def test_request_to_published_template_ships_requests_and_notifies_every_voter_once(
    client, django_capture_on_commit_callbacks
):
    author, voter, both = UserFactory(), UserFactory(), UserFactory()
    request = template_request_create(author=author, title="Rainy Tokyo night", description="Neon and rain")
    template_request_vote_toggle(user=voter, request_id=request.pk)
    template_request_vote_toggle(user=both, request_id=request.pk)
    other = template_request_create(author=both, title="Tokyo in the rain")
    outsider_request = TemplateRequestFactory()
    TemplateVoteFactory(request=outsider_request)

    template = template_request_to_template(request=request, by=UserFactory(is_staff=True))
    other.template = template
    other.save(update_fields=["template"])
    assert template.is_published is False
    assert "{identity}" in template.prompt and template.prompt.startswith("a realistic photo portrait of {identity}, ")
    assert template.slug == "rainy-tokyo-night" and template.title == "Rainy Tokyo night"
    request.refresh_from_db()
    assert request.status == TemplateRequest.Status.PLANNED and request.template == template

    with django_capture_on_commit_callbacks(execute=True):
        template_publish(template=template)

    template.refresh_from_db()
    assert template.is_published
    statuses = set(TemplateRequest.objects.filter(template=template).values_list("status", flat=True))
    assert statuses == {TemplateRequest.Status.SHIPPED}
    assert sorted(m.to[0] for m in mail.outbox) == sorted([author.email, voter.email, both.email])
    assert all("Rainy Tokyo night" in m.subject for m in mail.outbox)
    assert Notice.objects.filter(user__in=[author, voter, both]).count() == 3
    assert not Notice.objects.exclude(user__in=[author, voter, both]).exists()

    client.force_login(voter)
    first_visit = client.get(reverse("styles:gallery")).content.decode()
    assert "The style you voted for is live: “Rainy Tokyo night”." in first_visit
    assert reverse("styles:detail", args=[template.slug]) in first_visit
    assert "The style you voted for is live" not in client.get(reverse("styles:gallery")).content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        template_publish(template=template)
    assert len(mail.outbox) == 3, "publishing again tells no one twice"


def test_turning_a_request_into_a_template_twice_returns_the_same_draft():
    request = TemplateRequestFactory(title="Studio white")
    StyleTemplateFactory(slug="studio-white")
    first = template_request_to_template(request=request, by=None)
    assert first.slug == "studio-white-2"
    assert template_request_to_template(request=request, by=None) == first
    assert StyleTemplate.objects.count() == 2


def test_a_declined_request_cannot_become_a_template():
    with pytest.raises(CurationRefused):
        template_request_to_template(request=TemplateRequestFactory(status=TemplateRequest.Status.DECLINED), by=None)


def test_plan_and_decline_follow_the_guarded_transitions():
    request = TemplateRequestFactory()
    assert template_request_plan(request=request).status == TemplateRequest.Status.PLANNED
    assert template_request_decline(request=request).status == TemplateRequest.Status.DECLINED
    with pytest.raises(CurationRefused):
        template_request_plan(request=TemplateRequestFactory(status=TemplateRequest.Status.SHIPPED))


def test_a_template_without_the_identity_placeholder_cannot_be_published():
    template = StyleTemplateFactory(is_published=False, prompt="a photo of a person")
    with pytest.raises(CurationRefused):
        template_publish(template=template)
    template.refresh_from_db()
    assert not template.is_published


# --- Through the admin ------------------------------------------------------------


def _action(client, url_name, action, objects):
    return client.post(
        reverse(url_name),
        {"action": action, "_selected_action": [str(obj.pk) for obj in objects], "index": "0"},
        follow=True,
    )


def test_admin_lists_requests_ranked_by_votes_with_status_filter(staff_client):
    few = TemplateRequestFactory(title="Few votes")
    many = TemplateRequestFactory(title="Many votes")
    TemplateVoteFactory.create_batch(3, request=many)
    TemplateVoteFactory(request=few)
    TemplateRequestFactory(title="Declined one", status=TemplateRequest.Status.DECLINED)
    body = staff_client.get(reverse(CHANGELIST_REQUESTS)).content.decode()
    assert body.index("Many votes") < body.index("Few votes")
    filtered = staff_client.get(reverse(CHANGELIST_REQUESTS), {"status__exact": "declined"}).content.decode()
    assert "Declined one" in filtered and "Many votes" not in filtered


def test_admin_escapes_script_titles(staff_client):
    TemplateRequestFactory(title="<script>alert('x')</script>")
    body = staff_client.get(reverse(CHANGELIST_REQUESTS)).content.decode()
    assert "<script>alert('x')</script>" not in body
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in body


def test_admin_plan_and_decline_actions(staff_client):
    to_plan, to_decline = TemplateRequestFactory(), TemplateRequestFactory()
    _action(staff_client, CHANGELIST_REQUESTS, "plan", [to_plan])
    _action(staff_client, CHANGELIST_REQUESTS, "decline", [to_decline])
    to_plan.refresh_from_db()
    to_decline.refresh_from_db()
    assert to_plan.status == TemplateRequest.Status.PLANNED
    assert to_decline.status == TemplateRequest.Status.DECLINED


def test_admin_turns_requests_into_drafts_and_publishing_ships_them(staff_client, django_capture_on_commit_callbacks):
    request = TemplateRequestFactory(title="Snowy cabin")
    voter = TemplateVoteFactory(request=request).user
    response = _action(staff_client, CHANGELIST_REQUESTS, "to_template", [request])
    assert "Draft templates made: 1." in response.content.decode()
    template = StyleTemplate.objects.get(title="Snowy cabin")
    assert not template.is_published

    with django_capture_on_commit_callbacks(execute=True):
        response = _action(staff_client, CHANGELIST_TEMPLATES, "publish", [template])
    assert "Published: 1." in response.content.decode()
    request.refresh_from_db()
    assert request.status == TemplateRequest.Status.SHIPPED
    assert [m.to for m in mail.outbox] == [[voter.email]]
    assert Notice.objects.filter(user=voter).exists()


def _change_form_data(template) -> dict:
    data = {field: getattr(template, field) for field in (
        "title", "slug", "description", "category", "audience", "sort_order", "prompt", "negative_prompt",
        "img2img_strength", "guidance_scale", "steps", "width", "height", "seed_policy", "seed",
        "likeness_weight", "beauty_weight", "face_strength", "output_long_side", "hires_strength",
    )}
    return {**data, "examples-TOTAL_FORMS": "0", "examples-INITIAL_FORMS": "0"}


def test_publishing_on_the_form_goes_through_the_service_and_ships_the_requests(
    staff_client, django_capture_on_commit_callbacks
):
    template = StyleTemplateFactory(is_published=False)
    request = TemplateRequestFactory(template=template, status=TemplateRequest.Status.PLANNED)
    voter = TemplateVoteFactory(request=request).user
    changelist = staff_client.get(reverse(CHANGELIST_TEMPLATES)).content.decode()
    assert 'name="form-0-is_published"' not in changelist
    change_url = reverse("admin:styles_styletemplate_change", args=[template.pk])

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(change_url, {**_change_form_data(template), "is_published": "on"})

    assert response.status_code == 302
    template.refresh_from_db()
    request.refresh_from_db()
    assert template.is_published and template.published_at is not None
    assert request.status == TemplateRequest.Status.SHIPPED
    assert [m.to for m in mail.outbox] == [[voter.email]]

    response = staff_client.post(change_url, _change_form_data(template))
    template.refresh_from_db()
    assert response.status_code == 302 and not template.is_published


def test_a_draft_starts_with_the_requests_reference_image_and_category(staff_client, make_upload):
    request = template_request_create(
        author=UserFactory(), title="Rainy Tokyo", reference_image=make_upload(colour=(9, 8, 7)),
    )
    TemplateRequest.objects.filter(pk=request.pk).update(category=StyleTemplate.Category.CINEMATIC)
    changelist = staff_client.get(reverse(CHANGELIST_REQUESTS)).content.decode()
    assert f'src="{reverse("styles:request_reference", args=[request.pk])}"' in changelist

    _action(staff_client, CHANGELIST_REQUESTS, "to_template", [request])

    template = StyleTemplate.objects.get(title="Rainy Tokyo")
    assert template.category == StyleTemplate.Category.CINEMATIC
    request.refresh_from_db()
    with template.reference_image.open("rb") as copy, request.reference_image.open("rb") as original:
        assert copy.read() == original.read()
    assert template.reference_image.name != request.reference_image.name


def test_admin_form_requires_the_identity_placeholder(staff_client):
    response = staff_client.post(reverse("admin:styles_styletemplate_add"), {
        "title": "No identity", "slug": "no-identity", "category": "studio", "audience": "all",
        "sort_order": 1, "prompt": "a portrait of someone", "img2img_strength": 0.75, "guidance_scale": 7,
        "steps": 25, "width": 512, "height": 640, "seed_policy": "random", "seed": 0,
        "likeness_weight": 7.5, "beauty_weight": 2.5, "face_strength": 0.4, "output_long_side": 0,
        "hires_strength": 0.3,
    })
    assert response.status_code == 200
    assert "The prompt must contain {identity}" in response.content.decode()
    assert not StyleTemplate.objects.filter(slug="no-identity").exists()


def test_admin_statistics_are_annotated_without_n_plus_one(staff_client, django_assert_max_num_queries):
    popular, _quiet = StyleTemplateFactory(title="Popular"), StyleTemplateFactory(title="Quiet")
    avatar = AvatarFactory()
    PortraitFactory(template=popular, avatar=avatar, download_count=3, likeness_score=80)
    PortraitFactory(template=popular, avatar=avatar, download_count=2, likeness_score=70)
    RenderJobFactory.create_batch(2, template=popular, avatar=avatar, kind=RenderJob.Kind.MORE_LIKE_ME)
    RenderJobFactory(template=popular, avatar=avatar, kind=RenderJob.Kind.INITIAL)

    from styles.admin.templates import StyleTemplateAdmin
    from styles.models import StyleTemplate as Model

    rows = {t.title: t for t in StyleTemplateAdmin(Model, None).get_queryset(None)}
    assert (rows["Popular"].render_count, rows["Popular"].download_total) == (2, 5)
    assert rows["Popular"].likeness_average == pytest.approx(75)
    assert rows["Popular"].more_like_me_count == 2
    assert (rows["Quiet"].render_count, rows["Quiet"].download_total, rows["Quiet"].more_like_me_count) == (0, 0, 0)
    assert rows["Quiet"].likeness_average is None

    url = reverse(CHANGELIST_TEMPLATES)
    staff_client.get(url)
    with django_assert_max_num_queries(12) as few:
        staff_client.get(url)
    StyleTemplateFactory.create_batch(15)
    with django_assert_max_num_queries(len(few.captured_queries)):
        staff_client.get(url)


def test_admin_preview_queues_a_preview_render_on_the_operators_ready_avatar(staff_client):
    template = StyleTemplateFactory()
    response = _action(staff_client, CHANGELIST_TEMPLATES, "preview", [template])
    assert "train one on this staff account first" in response.content.decode()
    assert not RenderJob.objects.exists()

    avatar = AvatarFactory(user=staff_client.staff, status=Avatar.Status.READY)
    response = _action(staff_client, CHANGELIST_TEMPLATES, "preview", [template])
    assert "Preview renders queued: 1." in response.content.decode()
    job = RenderJob.objects.get()
    assert (job.avatar, job.template, job.kind) == (avatar, template, RenderJob.Kind.PREVIEW)
