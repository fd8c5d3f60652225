"""The GPU queue is fair: training, then first portraits, then the rest, people taking turns;
and a purchase buys a stated number of extra renders."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.models import OrmQ
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from avatars import services
from avatars.gpu import jobs
from avatars.gpu.progress import avatar_progress
from avatars.gpu.scheduling import NEVER_SERVED, QueuedJob, fair_order, gpu_queue_order
from avatars.models import Avatar, RenderJob, TrainingJob
from tests.factories import AvatarFactory, PortraitFactory, StyleTemplateFactory

pytestmark = pytest.mark.django_db


def ready_avatar():
    return AvatarFactory(status=Avatar.Status.READY)


def run_one_worker_until_idle() -> list[tuple[str, int]]:
    """One GPU worker taking its turns: each turn runs the job the fair order gives it."""
    ran = []

    def record(job, report, started):
        ran.append((type(job).__name__, job.pk))
        locked = jobs.job_lock_own_attempt(job)
        jobs.job_mark_succeeded(locked, started=started)

    while jobs.job_run_next({TrainingJob: record, RenderJob: record}):
        pass
    return ran


def test_bs_training_runs_before_as_tenth_reroll_with_one_worker(settings):
    settings.LIKENESS_EXTRA_RENDERS = 50
    a = ready_avatar()
    portrait = PortraitFactory(avatar=a)
    rerolls = [services.portrait_reroll(portrait=portrait) for _ in range(10)]
    b = AvatarFactory(status=Avatar.Status.PAID)
    training = TrainingJob.objects.create(avatar=b)
    b_first = RenderJob.objects.create(avatar=ready_avatar(), template=StyleTemplateFactory(), kind=RenderJob.Kind.INITIAL)

    # A's first re-roll is already running when B pays.
    order = gpu_queue_order()
    assert [(q.model, q.job_id) for q in order[:2]] == [(TrainingJob, training.pk), (RenderJob, b_first.pk)]

    ran = run_one_worker_until_idle()

    assert ran[0] == ("TrainingJob", training.pk)
    assert ran[1] == ("RenderJob", b_first.pk)
    assert ran[2:] == [("RenderJob", job.pk) for job in rerolls]


def test_people_take_turns_within_a_kind_of_work(settings):
    settings.LIKENESS_EXTRA_RENDERS = 50
    a, c = ready_avatar(), ready_avatar()
    a_jobs = [services.portrait_reroll(portrait=PortraitFactory(avatar=a)) for _ in range(3)]
    c_jobs = [services.portrait_reroll(portrait=PortraitFactory(avatar=c)) for _ in range(2)]

    ran = run_one_worker_until_idle()

    assert [pk for _, pk in ran] == [a_jobs[0].pk, c_jobs[0].pk, a_jobs[1].pk, c_jobs[1].pk, a_jobs[2].pk]


def test_the_person_served_longest_ago_goes_first(settings):
    settings.LIKENESS_EXTRA_RENDERS = 50
    a, c = ready_avatar(), ready_avatar()
    served_recently = RenderJob.objects.create(avatar=a, template=StyleTemplateFactory(), status="succeeded")
    RenderJob.objects.filter(pk=served_recently.pk).update(started_at=timezone.now() - timedelta(minutes=1))
    a_job = services.portrait_reroll(portrait=PortraitFactory(avatar=a))
    c_job = services.portrait_reroll(portrait=PortraitFactory(avatar=c))

    assert [q.job_id for q in gpu_queue_order()] == [c_job.pk, a_job.pk]


def test_the_progress_page_counts_the_jobs_the_workers_take_before_yours(settings):
    settings.LIKENESS_EXTRA_RENDERS = 50
    a = ready_avatar()
    portrait = PortraitFactory(avatar=a)
    for _ in range(10):
        services.portrait_reroll(portrait=portrait)
    b = AvatarFactory(status=Avatar.Status.PAID)
    TrainingJob.objects.create(avatar=b)

    [training] = avatar_progress(avatar=b)["jobs"]
    last_reroll = avatar_progress(avatar=a)["jobs"][-1]

    assert training["queue_position"] == 0
    assert last_reroll["queue_position"] == 10


def test_every_waiting_job_has_a_worker_turn_in_the_broker(settings):
    settings.LIKENESS_RUN_JOBS_INLINE = False
    portrait = PortraitFactory(avatar=ready_avatar())

    jobs_made = [services.portrait_reroll(portrait=portrait), services.portrait_more_like_me(portrait=portrait)]

    turns = [queued.task for queued in OrmQ.objects.filter(key="gpu")]
    assert [(turn["func"], turn["args"]) for turn in turns] == [("avatars.tasks.gpu_next_job_run", ())] * 2
    assert {job.task_id for job in jobs_made} == {turn["id"] for turn in turns}


# --- The allowance -------------------------------------------------------------------------


def test_the_extra_renders_are_counted_down_and_refused_at_zero(settings):
    settings.LIKENESS_EXTRA_RENDERS = 3
    avatar = ready_avatar()
    portrait = PortraitFactory(avatar=avatar)
    templates = [StyleTemplateFactory(is_published=True) for _ in range(2)]

    services.portrait_reroll(portrait=portrait)
    with pytest.raises(services.AvatarError, match="2 extra render"):
        services.avatar_render_more(avatar=avatar, templates=[*templates, StyleTemplateFactory(is_published=True)])
    services.avatar_render_more(avatar=avatar, templates=templates)
    with pytest.raises(services.AvatarError, match="used all 3 extra renders"):
        services.portrait_more_like_me(portrait=portrait)

    assert RenderJob.objects.filter(avatar=avatar).count() == 3


def test_a_failed_render_gives_its_extra_render_back(settings):
    settings.LIKENESS_EXTRA_RENDERS = 1
    portrait = PortraitFactory(avatar=ready_avatar())
    job = services.portrait_reroll(portrait=portrait)
    RenderJob.objects.filter(pk=job.pk).update(status="failed")

    services.portrait_reroll(portrait=portrait)

    with pytest.raises(services.AvatarError):
        services.portrait_reroll(portrait=portrait)


def test_first_portraits_and_operator_previews_use_no_extra_render(settings):
    settings.LIKENESS_EXTRA_RENDERS = 1
    avatar = ready_avatar()
    for kind in (RenderJob.Kind.INITIAL, RenderJob.Kind.PREVIEW):
        services.render_job_create(avatar=avatar, template=StyleTemplateFactory(), kind=kind)

    services.portrait_reroll(portrait=PortraitFactory(avatar=avatar))


def test_the_customer_sees_what_is_left_on_the_page_and_in_the_api(settings, client):
    from rest_framework.test import APIClient

    settings.LIKENESS_EXTRA_RENDERS = 5
    avatar = ready_avatar()
    services.portrait_reroll(portrait=PortraitFactory(avatar=avatar))
    client.force_login(avatar.user)
    api = APIClient()
    api.force_authenticate(avatar.user)

    page = client.get(f"/avatars/{avatar.public_id}/").content.decode()
    body = api.get(f"/api/v1/avatars/{avatar.public_id}/").json()

    assert "4 of 5 extra renders left" in page
    assert body["extra_renders"] == {"allowed": 5, "used": 1, "left": 4} and body["refunded"] is False


# --- The order's cost ----------------------------------------------------------------------


def fair_order_picked_one_at_a_time(waiting, last_served):
    """The order as gpu_queue_order first made it: each pick scans what still waits (O(n²))."""
    last_served = dict(last_served)
    waiting = sorted(waiting, key=lambda job: (job.queue_class, job.queued_at, job.job_id))
    order = []
    while waiting:
        candidates = [job for job in waiting if job.queue_class == waiting[0].queue_class]
        chosen = min(candidates, key=lambda job: (last_served.get(job.user_id, NEVER_SERVED), job.queued_at, job.job_id))
        order.append(chosen)
        waiting.remove(chosen)
        last_served[chosen.user_id] = len(order)
    return order


QUEUED_AT = timezone.now()
waiting_queues = st.lists(
    st.tuples(st.integers(0, 2), st.integers(1, 6), st.integers(0, 5)),  # class, person, seconds ago
    max_size=40,
).map(lambda rows: [
    QueuedJob(RenderJob, job_id, user_id, queue_class, QUEUED_AT - timedelta(seconds=ago))
    for job_id, (queue_class, user_id, ago) in enumerate(rows, start=1)
])
# Those served before: _last_served's ranks, from -n (longest ago) to -1.
served_before = st.permutations(range(1, 7)).flatmap(
    lambda people: st.integers(0, 6).map(lambda n: {user: rank - n for rank, user in enumerate(people[:n])})
)


@hypothesis_settings(max_examples=300, deadline=None)
@given(waiting=waiting_queues, last_served=served_before)
def test_the_order_made_in_one_sort_per_class_is_the_order_picked_one_at_a_time(waiting, last_served):
    assert fair_order(waiting, last_served=last_served) == fair_order_picked_one_at_a_time(waiting, last_served)


def test_a_training_queued_while_a_worker_read_the_order_goes_before_the_re_roll_it_picked(settings, monkeypatch):
    settings.LIKENESS_EXTRA_RENDERS = 50
    reroll = services.portrait_reroll(portrait=PortraitFactory(avatar=ready_avatar()))
    read_before_the_training = gpu_queue_order()
    training = TrainingJob.objects.create(avatar=AvatarFactory(status=Avatar.Status.PAID))
    # The worker's first read of the order is the one made before the training was queued.
    reads = [read_before_the_training]
    monkeypatch.setattr(jobs, "gpu_queue_order", lambda: reads.pop() if reads else gpu_queue_order())

    ran = run_one_worker_until_idle()

    assert ran == [("TrainingJob", training.pk), ("RenderJob", reroll.pk)]
