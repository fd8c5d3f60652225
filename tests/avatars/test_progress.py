"""What the live progress page and its polling show: jobs, queue positions, in few queries;
a poll that sends back the ETag of an unchanged answer gets an empty 304."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from rest_framework.test import APIClient

from avatars.gpu.progress import avatar_progress
from avatars.models import Avatar, RenderJob, TrainingJob
from tests.factories import AvatarFactory, StyleTemplateFactory, UserFactory

pytestmark = pytest.mark.django_db

START = timezone.now() - timedelta(hours=1)


def queued(avatar, minute: int, *, status: str = "queued", model=RenderJob):
    fields = {"template": StyleTemplateFactory()} if model is RenderJob else {}
    job = model.objects.create(avatar=avatar, status=status, **fields)
    model.objects.filter(pk=job.pk).update(queued_at=START + timedelta(minutes=minute))
    return job


def test_queue_positions_count_everyones_running_jobs_and_the_waiting_ones_the_workers_take_first():
    mine = AvatarFactory(status=Avatar.Status.READY)
    others = AvatarFactory.create_batch(2, status=Avatar.Status.READY)
    queued(others[0], 0, model=TrainingJob, status="running")
    queued(others[0], 1)
    queued(others[1], 2, status="succeeded")  # finished work is not in the queue any more
    queued(mine, 3, status="running")
    queued(mine, 4)
    queued(others[1], 5)
    queued(mine, 6)
    queued(mine, 7)

    jobs = avatar_progress(avatar=mine)["jobs"]

    assert [(job["status"], job["queue_position"]) for job in jobs] == [
        ("running", None), ("queued", 3), ("queued", 5), ("queued", 6),
    ]


def test_step_names_name_the_style_in_the_readers_language():
    avatar = AvatarFactory(status=Avatar.Status.READY)
    queued(avatar, 0, model=TrainingJob, status="succeeded")
    passport = StyleTemplateFactory(title="Passport & ID photo", translations={"zh-hans": {"title": "证件照"}})
    RenderJob.objects.create(avatar=avatar, template=passport)
    RenderJob.objects.create(avatar=avatar, template=StyleTemplateFactory(title="Untranslated look"))

    with translation.override("zh-hans"):
        chinese = [job["label"] for job in avatar_progress(avatar=avatar)["jobs"]]
    with translation.override("en"):
        english = [job["label"] for job in avatar_progress(avatar=avatar)["jobs"]]

    assert chinese == ["正在训练你的数字分身", "首批写真：证件照", "首批写真：Untranslated look"]
    assert english == ["Training your avatar", "First portraits: Passport & ID photo", "First portraits: Untranslated look"]


@pytest.mark.parametrize("waiting", [1, 6])
def test_progress_takes_the_same_queries_however_many_jobs_wait(django_assert_num_queries, waiting):
    avatar = AvatarFactory(status=Avatar.Status.READY)
    queued(avatar, 0, model=TrainingJob, status="running")
    for minute in range(1, waiting + 1):
        queued(avatar, minute)

    avatar_progress(avatar=avatar)  # everyone's queue and the typical job durations are now cached
    # its training and render jobs (one query), its portraits
    with django_assert_num_queries(2):
        progress = avatar_progress(avatar=avatar)

    assert [job["queue_position"] for job in progress["jobs"][1:]] == list(range(1, waiting + 1))


def test_the_queue_figures_are_shared_by_every_poll_for_a_couple_of_seconds(django_assert_num_queries):
    mine, theirs = AvatarFactory.create_batch(2, status=Avatar.Status.READY)
    queued(theirs, 0)
    queued(mine, 1)
    queued(theirs, 2)
    assert [job["queue_position"] for job in avatar_progress(avatar=mine)["jobs"]] == [1]

    # Their poll reads the figures mine measured: its own jobs, its portraits, nothing more.
    with django_assert_num_queries(2):
        assert [job["queue_position"] for job in avatar_progress(avatar=theirs)["jobs"]] == [0, 2]

    RenderJob.objects.filter(avatar=theirs, status="queued").update(status="succeeded")
    assert avatar_progress(avatar=mine)["jobs"][0]["queue_position"] == 1  # as the shared figures still say
    cache.clear()  # what QUEUE_FIGURES_SECONDS later brings
    assert avatar_progress(avatar=mine)["jobs"][0]["queue_position"] == 0


# --- Polling with an ETag, on the website and through the API ----------------------------


def website_poll(client, avatar, **headers):
    return client.get(reverse("avatars:progress", args=[avatar.public_id]), **headers)


def api_poll(client, avatar, **headers):
    return client.get(f"/api/v1/avatars/{avatar.public_id}/progress/", **headers)


@pytest.fixture(params=["website", "api"])
def poll(request):
    """Poll an avatar's progress as the signed-in `user` (website session or API token)."""
    def poll_as(user, avatar, **headers):
        if request.param == "website":
            client = Client()
            client.force_login(user)
            return website_poll(client, avatar, **headers)
        client = APIClient()
        client.force_authenticate(user)
        return api_poll(client, avatar, **headers)

    return poll_as


@pytest.fixture
def rendering():
    avatar = AvatarFactory(status=Avatar.Status.READY)
    job = queued(avatar, 4, status="running")
    RenderJob.objects.filter(pk=job.pk).update(progress=40)
    queued(avatar, 5)
    return avatar, job


def test_a_poll_that_sends_back_the_etag_of_an_unchanged_answer_gets_an_empty_304(poll, rendering):
    avatar, _ = rendering
    first = poll(avatar.user, avatar)
    assert first.status_code == 200 and first["ETag"]
    assert "private" in first["Cache-Control"] and "no-cache" in first["Cache-Control"]

    again = poll(avatar.user, avatar, HTTP_IF_NONE_MATCH=first["ETag"])

    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == first["ETag"]


def style_renamed(template):
    """As the operator renames a style: saved through the model, which stamps its edit."""
    template.title = "Renamed"
    template.save()


@pytest.mark.parametrize("change", [
    lambda job: RenderJob.objects.filter(pk=job.pk).update(progress=41),  # how the worker reports
    lambda job: RenderJob.objects.filter(pk=job.pk).update(stage="denoising"),
    lambda job: RenderJob.objects.filter(pk=job.pk).update(status="succeeded", progress=100),
    lambda job: RenderJob.objects.create(avatar=job.avatar, template=job.template),
    lambda job: style_renamed(job.template),
    lambda job: Avatar.objects.filter(pk=job.avatar_id).update(status=Avatar.Status.FAILED),
], ids=["progress", "stage", "finished", "new job", "template renamed", "avatar status"])
def test_a_change_to_what_the_poll_shows_changes_the_etag(poll, rendering, change):
    avatar, job = rendering
    before = poll(avatar.user, avatar)["ETag"]
    change(job)

    after = poll(avatar.user, avatar, HTTP_IF_NONE_MATCH=before)

    assert after.status_code == 200
    assert after["ETag"] != before


def test_a_job_ahead_in_the_queue_finishing_changes_the_etag(poll, rendering):
    avatar, _ = rendering
    ahead = queued(AvatarFactory(status=Avatar.Status.READY), 1)
    first = poll(avatar.user, avatar)
    RenderJob.objects.filter(pk=ahead.pk).update(status="succeeded")
    cache.clear()  # the shared queue figures, QUEUE_FIGURES_SECONDS later

    after = poll(avatar.user, avatar, HTTP_IF_NONE_MATCH=first["ETag"])

    assert [job["queue_position"] for job in first.json()["jobs"]] == [None, 2]
    assert after.status_code == 200 and after["ETag"] != first["ETag"]
    assert [job["queue_position"] for job in after.json()["jobs"]] == [None, 1]


@pytest.mark.parametrize("send_etag", [False, True], ids=["no etag", "owner's etag"])
def test_another_users_avatar_is_a_404_with_or_without_an_etag(poll, rendering, send_etag):
    avatar, _ = rendering
    headers = {"HTTP_IF_NONE_MATCH": poll(avatar.user, avatar)["ETag"]} if send_etag else {}

    response = poll(UserFactory(), avatar, **headers)

    assert response.status_code == 404
    assert not response.has_header("ETag")


def test_a_poll_with_an_etag_of_something_else_gets_the_whole_answer(poll, rendering):
    avatar, _ = rendering
    response = poll(avatar.user, avatar, HTTP_IF_NONE_MATCH='"an-older-answer", W/"another"')
    assert response.status_code == 200 and response.json()["jobs"]
