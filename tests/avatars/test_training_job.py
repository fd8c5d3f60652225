"""The training job as the customer and the operator see it: the likeness curve recorded on
the job and in the admin, the plain words on the progress page, and a weak avatar trained once
more, then failed and refunded.

The tiny engine's validation portraits have no face, so the scorer is injected.
"""

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from avatars import services
from avatars.models import Avatar, TrainingJob
from orders.models import Order, Refund
from orders.services import order_create_for_avatar, order_fulfil
from tests.factories import StyleTemplateFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.slow, pytest.mark.engine_end_to_end,
              pytest.mark.usefixtures("small_engine")]


@pytest.fixture(autouse=True)
def validated(small_engine, settings, tmp_path, monkeypatch):
    # Two optimizer steps of 4 samples, validated after each.
    settings.LIKENESS_TRAIN_MAX_SAMPLES = 8
    settings.LIKENESS_VALIDATE_EVERY = 4
    monkeypatch.setattr("avatars.gpu.worker.LORA_CACHE_DIR", tmp_path / "lora-cache")


@pytest.fixture
def likeness(monkeypatch):
    """Every validation portrait scores `likeness.value`; `likeness.stages_seen` records the
    job's stage each time the scorer is asked (what the progress page showed just then)."""

    class Likeness:
        value = 80.0
        stages_seen: list[str] = []

    def scorer(centroid):
        def score(image):
            Likeness.stages_seen.append(TrainingJob.objects.get().stage)
            return Likeness.value

        return score

    monkeypatch.setattr("avatars.engine.scoring.portrait_scorer", scorer)
    return Likeness


def build(faces_dir, django_capture_on_commit_callbacks) -> Avatar:
    avatar = services.avatar_create(user=UserFactory(), subject_class="man")
    for path in sorted((faces_dir / "obama").glob("obama-[123].jpg")):
        services.photo_add(avatar=avatar, uploaded_file=SimpleUploadedFile(path.name, Path(path).read_bytes()))
    services.avatar_templates_set(avatar=avatar, templates=[StyleTemplateFactory(is_published=True, steps=2)])
    with django_capture_on_commit_callbacks(execute=True):
        order_fulfil(order_id=order_create_for_avatar(user=avatar.user, avatar=avatar).pk, via="local")
    avatar.refresh_from_db()
    return avatar


def test_the_likeness_curve_is_recorded_shown_to_the_customer_and_in_the_admin(
    faces_dir, likeness, client, django_capture_on_commit_callbacks
):
    avatar = build(faces_dir, django_capture_on_commit_callbacks)

    job = TrainingJob.objects.get(avatar=avatar)
    assert avatar.status == Avatar.Status.READY, job.error
    assert [(point["samples"], point["mean_likeness"]) for point in job.validation_curve] == [(4, 80.0), (8, 80.0)]
    # A tie keeps the earlier checkpoint.
    assert (job.samples, job.chosen_samples, job.best_likeness) == (8, 4, 80.0)
    # The second validation's portraits were scored while the page said what the first measured.
    assert "likeness:80" in likeness.stages_seen

    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    page = client.get(f"/admin/avatars/trainingjob/{job.pk}/change/").content.decode()
    assert "after 4 samples, likeness 80.0" in page
    assert "<svg" in page and "<td>8</td>" in page


def test_a_weak_avatar_is_trained_once_more_then_failed_and_refunded(
    faces_dir, likeness, django_capture_on_commit_callbacks
):
    likeness.value = 30.0

    avatar = build(faces_dir, django_capture_on_commit_callbacks)

    job = TrainingJob.objects.get(avatar=avatar)
    assert avatar.status == Avatar.Status.FAILED
    assert (job.status, job.attempts) == ("failed", 1)
    # Two trainings, from two seeds, validated twice each.
    assert len({point["seed"] for point in job.validation_curve}) == 2 and len(job.validation_curve) == 4
    assert "could not learn your likeness well enough" in job.failure_reason
    order = Order.objects.get(avatar=avatar)
    assert order.status == Order.Status.REFUNDED
    assert Refund.objects.get(order=order).reason.startswith("We could not learn your likeness")
    assert not avatar.portraits.exists()


def test_the_tiny_engine_is_not_measured_and_not_failed(faces_dir, django_capture_on_commit_callbacks):
    avatar = build(faces_dir, django_capture_on_commit_callbacks)

    job = TrainingJob.objects.get(avatar=avatar)
    assert avatar.status == Avatar.Status.READY, job.error
    assert job.chosen_samples is None and job.best_likeness is None
    assert all(point["mean_likeness"] is None for point in job.validation_curve)


def test_the_progress_page_reads_the_measured_likeness_in_words():
    from avatars.selectors import job_state_words

    job = {"status": "running", "progress": 40, "stage": "learning your face: likeness 78", "queue_position": None}

    assert job_state_words(job=job) == "In progress: 40% · learning your face: likeness 78"
