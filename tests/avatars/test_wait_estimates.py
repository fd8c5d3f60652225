"""The wait a customer is told: the fair queue played forward over the GPU workers alive, with
each kind of job's recent duration; no number where there is no basis for one."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.translation import override

from avatars.gpu.estimates import gpu_queue_estimates_measured, gpu_workers_alive
from avatars.gpu.forward_play import ArrivalStream, PlayedJob, fair_queue_played_forward
from avatars.gpu.progress import avatar_progress
from avatars.gpu.scheduling import QUEUE_CLASS_FIRST_PORTRAITS, QUEUE_CLASS_MORE, QUEUE_CLASS_TRAINING
from avatars.models import Avatar, RenderJob, TrainingJob
from avatars.selectors import avatar_progress_summary
from tests.factories import AvatarFactory, StyleTemplateFactory

pytestmark = pytest.mark.django_db


def job(model, *, status, queued_ago=0.0, started_ago=None, ran=None, kind=None, avatar=None, now=None):
    """A job row with its times set `…_ago` seconds before now; `ran`: it finished after that long."""
    now = now or timezone.now()
    avatar = avatar or AvatarFactory(status=Avatar.Status.READY)
    fields = {"template": StyleTemplateFactory(), "kind": kind or RenderJob.Kind.INITIAL} if model is RenderJob else {}
    created = model.objects.create(avatar=avatar, status=status, **fields)
    times = {"queued_at": now - timedelta(seconds=queued_ago)}
    if started_ago is not None:
        times["started_at"] = now - timedelta(seconds=started_ago)
        times["heartbeat_at"] = now
    if ran is not None:
        times["finished_at"] = times["started_at"] + timedelta(seconds=ran)
    model.objects.filter(pk=created.pk).update(**times)
    return created


def history(*, training=300.0, initial=10.0, reroll=6.0):
    """Jobs that finished hours ago: their durations are the basis, their workers long gone."""
    for seconds in (training - 20, training, training + 20):
        job(TrainingJob, status="succeeded", queued_ago=7300, started_ago=7200, ran=seconds)
    for kind, seconds in ((RenderJob.Kind.INITIAL, initial), (RenderJob.Kind.REROLL, reroll)):
        for spread in (-1, 0, 1):
            job(RenderJob, status="succeeded", queued_ago=7100, started_ago=7000, ran=seconds + spread, kind=kind)


def test_a_wait_is_the_fair_queue_played_forward_over_the_workers_alive():
    history()
    # Two workers busy: a training 60 s into its typical 300, a first portrait 2 s into its 10.
    # (Everything arrived over ten minutes ago: no new work is coming to go before mine.)
    job(TrainingJob, status="running", queued_ago=1000, started_ago=60)
    job(RenderJob, status="running", queued_ago=1000, started_ago=2)
    mine = AvatarFactory(status=Avatar.Status.READY)
    # My re-roll asked first, but a training and a first portrait go before it.
    job(RenderJob, status="queued", queued_ago=900, kind=RenderJob.Kind.REROLL, avatar=mine)
    job(TrainingJob, status="queued", queued_ago=800)
    job(RenderJob, status="queued", queued_ago=700)

    progress = avatar_progress(avatar=mine)

    # Free in 8 s and 240 s; the training takes the first (free again at 308), the first
    # portrait the one free at 240 (free again at 250): my re-roll starts at 250, done at 256.
    (reroll,) = progress["jobs"]
    wait = gpu_queue_estimates_measured().waits[("render", RenderJob.objects.get(avatar=mine).pk)]
    assert (wait.ahead, wait.start_seconds, wait.own_seconds) == (4, pytest.approx(250, abs=3), 6)
    assert reroll["queue_position"] == 4
    # Told in half minutes, as the page words it ("about 4 min").
    assert reroll["wait_seconds"] == 240
    assert reroll["eta_seconds"] in (240, 270)
    assert progress["eta_seconds"] == reroll["eta_seconds"]
    assert "about 4 min left" in avatar_progress_summary(progress=progress)


def test_more_workers_alive_shorten_the_wait():
    history(initial=10.0)
    for _ in range(3):
        job(RenderJob, status="running", queued_ago=1000, started_ago=5)  # three workers, each 5 s from free
    for ago in (930, 920, 910, 905):
        job(RenderJob, status="queued", queued_ago=ago)

    estimates = gpu_queue_estimates_measured()

    assert estimates.workers_alive == 3
    # Four first portraits over three workers free at 5 s: three start at 5, the fourth at 15.
    assert sorted(wait.start_seconds for wait in estimates.waits.values()) == pytest.approx([5, 5, 5, 15], abs=1.5)


def test_a_worker_whose_heartbeat_went_quiet_is_not_counted():
    history()
    quiet = job(RenderJob, status="running", started_ago=40)
    RenderJob.objects.filter(pk=quiet.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=30))
    job(RenderJob, status="running", started_ago=3)

    assert gpu_workers_alive() == 1


def test_with_no_gpu_worker_seen_lately_the_page_tells_the_jobs_ahead_and_no_time():
    history()  # durations are known, but no worker has run anything in the last minute
    job(RenderJob, status="queued", queued_ago=20)
    mine = AvatarFactory(status=Avatar.Status.READY)
    job(RenderJob, status="queued", queued_ago=10, avatar=mine)

    progress = avatar_progress(avatar=mine)

    (waiting,) = progress["jobs"]
    assert waiting["queue_position"] == 1
    assert waiting["wait_seconds"] is None and waiting["eta_seconds"] is None and progress["eta_seconds"] is None
    assert avatar_progress_summary(progress=progress) == "1 portraits waiting for a free GPU, in the queue, about 1 ahead"
    with override("zh-hans"):
        assert "1" in avatar_progress_summary(progress=progress)
        assert "in the queue" not in avatar_progress_summary(progress=progress)


def test_a_kind_of_job_never_run_yet_has_no_basis_for_what_waits_behind_it():
    job(RenderJob, status="running", started_ago=3)  # a worker alive, but no job has finished yet
    job(TrainingJob, status="queued", queued_ago=20)

    (wait,) = gpu_queue_estimates_measured().waits.values()

    assert wait.ahead == 1 and wait.start_seconds is None


def test_the_pickup_between_two_jobs_is_counted_from_finishes_that_left_a_job_waiting():
    from avatars.gpu.estimates import gpu_pickup_seconds

    now = timezone.now()
    # A worker finished at 100 s ago; the job waiting since 120 s ago started 0.8 s later.
    job(RenderJob, status="succeeded", queued_ago=130, started_ago=110, ran=10, now=now)
    job(RenderJob, status="succeeded", queued_ago=120, started_ago=99.2, ran=5, now=now)
    # A job queued after that finish is no pick-up: the worker was idle, not slow.
    job(RenderJob, status="succeeded", queued_ago=60, started_ago=59.9, ran=5, now=now)

    assert gpu_pickup_seconds() == pytest.approx(0.8, abs=0.01)


def test_work_that_keeps_arriving_ahead_of_a_re_roll_lengthens_its_wait_and_not_a_trainings():
    history(training=300.0, reroll=6.0)
    job(RenderJob, status="running", queued_ago=1000, started_ago=1, kind=RenderJob.Kind.REROLL)  # one worker
    reroll = job(RenderJob, status="queued", queued_ago=900, kind=RenderJob.Kind.REROLL)
    waiting_long = job(TrainingJob, status="queued", queued_ago=700)
    # One training came in the last ten minutes (this one): one is played every 600 s.
    training = job(TrainingJob, status="queued", queued_ago=30)
    # The worker finished the training before, 0.5 s before it took the running re-roll.
    job(TrainingJob, status="succeeded", queued_ago=800, started_ago=301.5, ran=300)

    waits = gpu_queue_estimates_measured().waits

    # The trainings go first: at 5.5 s (the running re-roll's 5 s left and the pick-up), then
    # at 306. The re-roll would start at 606.5, but the training played at 600 s comes before
    # it: 606.5 + 300 + 0.5. The next comes at 1200 s, after the re-roll has started.
    assert waits[("training", waiting_long.pk)].start_seconds == pytest.approx(5.5, abs=1.5)
    assert waits[("training", training.pk)].start_seconds == pytest.approx(306, abs=2)
    assert waits[("render", reroll.pk)].start_seconds == pytest.approx(907, abs=2)


def test_the_first_portraits_a_running_training_will_queue_go_before_a_waiting_re_roll():
    history(training=300.0, initial=10.0, reroll=6.0)
    # One worker, 100 s into a training of a typical 300, whose avatar has two styles: as it
    # finishes it queues two first portraits. (Everything arrived over ten minutes ago.)
    trained = AvatarFactory(status=Avatar.Status.TRAINING)
    trained.templates.set([StyleTemplateFactory(is_published=True), StyleTemplateFactory(is_published=True)])
    job(TrainingJob, status="running", queued_ago=1000, started_ago=100, avatar=trained)
    mine = job(RenderJob, status="queued", queued_ago=900, kind=RenderJob.Kind.REROLL)

    wait = gpu_queue_estimates_measured().waits[("render", mine.pk)]

    # The worker is free in 200 s; the two first portraits (10 s each) go first: 200 + 10 + 10.
    # Only the jobs there now are counted ahead: the running training.
    assert (wait.ahead, wait.start_seconds, wait.own_seconds) == (1, pytest.approx(220, abs=2), 6)


def test_a_newcomers_re_roll_goes_before_a_persons_second_turn_when_it_came_first():
    # One worker free now, a pick-up of 1 s, re-rolls of 6 s: another person's (c) and mine
    # (a, b); someone new asks for a re-roll every 6 s, the first at 6 s.
    played = [
        PlayedJob(("render", 3), 2, QUEUE_CLASS_MORE, -30, 3, 6.0),
        PlayedJob(("render", 1), 1, QUEUE_CLASS_MORE, -20, 1, 6.0),
        PlayedJob(("render", 2), 1, QUEUE_CLASS_MORE, -10, 2, 6.0),
    ]
    newcomers = ArrivalStream(QUEUE_CLASS_MORE, every_seconds=6, seconds=6.0)

    starts = fair_queue_played_forward(free_at=[0.0], waiting=played, last_served={}, first_portraits=[],
                                       pickup=1.0, streams=[newcomers])

    # c at 0, my a at 7 (6 s and the pick-up). At 14 the newcomer of 6 s (served then, its first
    # portraits) was served longer ago than I (7 s): it goes, and my b at 21, before the
    # newcomer of 12 s.
    assert starts == {("render", 3): 0.0, ("render", 1): 7.0, ("render", 2): 21.0}


def test_new_trainings_take_one_worker_each_and_leave_the_others_to_the_first_portraits():
    # Three workers free now, no pick-up. Four first portraits of 10 s wait, two people's two
    # each; a new training (100 s) comes every 9 s, the first at 9 s, and goes before them.
    played = [PlayedJob(("render", n), n // 3 + 1, QUEUE_CLASS_FIRST_PORTRAITS, -50 + n, n, 10.0) for n in (1, 2, 4, 5)]
    trainings = ArrivalStream(QUEUE_CLASS_TRAINING, every_seconds=9, seconds=100.0)

    starts = fair_queue_played_forward(free_at=[0.0, 0.0, 0.0], waiting=played, last_served={}, first_portraits=[],
                                       pickup=0.0, streams=[trainings])

    # At 0 the workers take each person's first (1, 4), then 1's person's second (2). At 10 one
    # worker takes the training of 9 s and is gone for 100 s; the next takes job 5. Pooled, the
    # trainings would take 100 / 9 / 3 > 1 of the GPUs: no bound on the wait at all.
    assert starts == {("render", 1): 0.0, ("render", 4): 0.0, ("render", 2): 0.0, ("render", 5): 10.0}


def test_arrivals_at_a_launch_are_counted_over_the_time_they_have_been_coming_in():
    from avatars.gpu.estimates import gpu_arrival_streams

    now = timezone.now()
    # The site's first jobs: six trainings in the last minute, none ever before.
    for ago in (60, 50, 40, 30, 20, 10):
        job(TrainingJob, status="queued", queued_ago=ago, now=now)

    (trainings,) = gpu_arrival_streams(typical={"training": 300.0}, now=now)

    # One every 60 / 6 = 10 s, not every 600 / 6 = 100 s as a ten-minute window would say.
    assert (trainings.queue_class, trainings.every_seconds, trainings.seconds) == (QUEUE_CLASS_TRAINING, 10, 300)
