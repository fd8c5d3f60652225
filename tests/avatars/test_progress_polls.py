"""A progress poll's answer kept under the version of what it shows: a 304 costs the one query that
reads the version, and every kind of write to what the poll shows (from the worker, from another
person's jobs moving the queue) makes the next poll a whole answer again."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from avatars.gpu import jobs
from avatars.models import Avatar, RenderJob
from avatars.selectors import avatar_progress_holds_seconds
from tests.factories import AvatarFactory, PortraitFactory, StyleTemplateFactory

pytestmark = pytest.mark.django_db


def queued_job(avatar, minutes_ago: int, **fields):
    job = RenderJob.objects.create(avatar=avatar, template=StyleTemplateFactory(), **fields)
    RenderJob.objects.filter(pk=job.pk).update(queued_at=timezone.now() - timedelta(minutes=minutes_ago))
    return job


@pytest.fixture
def waiting():
    """My avatar rendering (one job running, one waiting) behind another person's waiting job."""
    theirs = queued_job(AvatarFactory(status=Avatar.Status.READY), 10)
    mine = AvatarFactory(status=Avatar.Status.READY)
    running = queued_job(mine, 9, status="running", progress=40, attempts=1)
    queued_job(mine, 8)
    return mine, running, theirs


@pytest.fixture(params=["website", "api"])
def poller(request):
    """poll(avatar, **headers) as its owner, on the website (session) or the API (token); each
    owner signs in once, before the first poll, as a tab that keeps polling did."""
    clients = {}

    def client_of(user):
        if user.pk not in clients:
            clients[user.pk] = Client() if request.param == "website" else APIClient()
            if request.param == "website":
                clients[user.pk].force_login(user)
            else:
                clients[user.pk].force_authenticate(user)
        return clients[user.pk]

    def poll(avatar, **headers):
        if request.param == "website":
            return client_of(avatar.user).get(reverse("avatars:progress", args=[avatar.public_id]), **headers)
        return client_of(avatar.user).get(f"/api/v1/avatars/{avatar.public_id}/progress/", **headers)

    poll.signs_in_with_session = request.param == "website"
    return poll


def my_positions(response) -> list:
    return [job["queue_position"] for job in response.json()["jobs"]]


def test_a_304_reads_the_version_and_nothing_else(poller, waiting, django_assert_num_queries, session_read_queries):
    mine, _, _ = waiting
    first = poller(mine)
    # The session (unless cached) and the user, for a website poll; then the version alone.
    signing_in = session_read_queries + 1 if poller.signs_in_with_session else 0

    with django_assert_num_queries(signing_in + 1):
        again = poller(mine, HTTP_IF_NONE_MATCH=first["ETag"])

    assert again.status_code == 304 and again["ETag"] == first["ETag"]
    assert "private" in again["Cache-Control"] and "no-cache" in again["Cache-Control"]


def test_a_poll_without_an_etag_gets_the_kept_answer_for_the_same_one_query(
    poller, waiting, django_assert_num_queries, session_read_queries
):
    mine, _, _ = waiting
    first = poller(mine)
    signing_in = session_read_queries + 1 if poller.signs_in_with_session else 0

    with django_assert_num_queries(signing_in + 1):
        again = poller(mine)

    assert again.status_code == 200
    assert again.content == first.content and again["ETag"] == first["ETag"]
    assert again["Content-Type"] == first["Content-Type"] == "application/json"


def finish(job) -> None:
    """As a GPU worker finishes the job: claimed, run, marked succeeded under its row lock."""
    def work(claimed, report, started):
        with transaction.atomic():
            jobs.job_mark_succeeded(jobs.job_lock_own_attempt(claimed), started=started)

    jobs.job_run(RenderJob, job.pk, work)


def report_progress(job) -> None:
    jobs.ProgressReporter(RenderJob.objects.get(pk=job.pk))("denoising", 55, force=True)


def new_portrait(job) -> None:
    PortraitFactory(avatar=job.avatar, template=job.template, render_job=job)


def render_more(job) -> None:
    RenderJob.objects.create(avatar=job.avatar, template=job.template, kind=RenderJob.Kind.EXTRA)


def requeued(job) -> None:
    RenderJob.objects.filter(pk=job.pk).update(status="queued", stage="retrying")


@pytest.mark.parametrize("change", [report_progress, finish, new_portrait, render_more, requeued])
def test_every_write_to_my_jobs_makes_the_kept_answer_stale(poller, waiting, change):
    mine, running, _ = waiting
    before = poller(mine)
    change(running)

    after = poller(mine, HTTP_IF_NONE_MATCH=before["ETag"])

    assert after.status_code == 200 and after["ETag"] != before["ETag"]


def test_the_queue_moving_with_other_peoples_jobs_shows_at_the_next_poll(poller, waiting):
    """No cache is cleared here: the kept answer and the shared queue estimates both follow."""
    mine, running, theirs = waiting
    before = poller(mine)
    assert my_positions(before) == [None, 2]  # my running job and theirs ahead of my waiting one

    finish(theirs)
    after = poller(mine, HTTP_IF_NONE_MATCH=before["ETag"])
    assert after.status_code == 200 and my_positions(after) == [None, 1]

    someone_new = queued_job(AvatarFactory(status=Avatar.Status.READY), 20)  # waiting longer: ahead of mine
    later = poller(mine, HTTP_IF_NONE_MATCH=after["ETag"])
    assert later.status_code == 200 and my_positions(later) == [None, 2]
    assert someone_new.status == "queued"


def test_an_answer_that_tells_a_wait_is_kept_for_a_twentieth_of_the_shortest_wait_it_tells():
    def progress(*waits):
        return {"eta_seconds": None, "jobs": [{"wait_seconds": wait, "eta_seconds": None} for wait in waits]}

    assert avatar_progress_holds_seconds(progress=progress(300, 120)) == 6
    assert avatar_progress_holds_seconds(progress=progress(8)) == 1  # never less than a second
    assert avatar_progress_holds_seconds(progress=progress(None)) == 30  # nothing moves with time alone
    assert avatar_progress_holds_seconds(progress=progress(3600)) == 30
