"""The finished portrait as the customer gets it: the passes' output size, the download, the web
copy, and "more like me" that keeps a new version only when it looks more like the person.

The tiny engine draws no faces, so likeness is injected: the scorer the worker builds is
replaced by one that answers what each test needs.
"""

import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from accounts.models import Notice
from accounts.notices import notice_text
from avatars import services
from avatars.engine import passes
from avatars.models import Avatar, GpuUsage, Portrait, RenderJob
from avatars.selectors import avatar_render_allowance
from orders.services import order_create_for_avatar, order_fulfil
from tests.factories import StyleTemplateFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.slow, pytest.mark.engine_end_to_end,
              pytest.mark.usefixtures("small_engine")]


@pytest.fixture(autouse=True)
def lora_cache(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "lora-cache"
    monkeypatch.setattr("avatars.gpu.worker.LORA_CACHE_DIR", folder)
    return folder


@pytest.fixture
def scores(monkeypatch):
    """The likeness every rendered picture gets from now on: set `scores.value`."""

    class Scores:
        value = None

    def scorer(centroid):
        return lambda image: Scores.value

    monkeypatch.setattr("avatars.engine.scoring.portrait_scorer", scorer)
    return Scores


@pytest.fixture
def trained(faces_dir, django_capture_on_commit_callbacks):
    template = StyleTemplateFactory(is_published=True, output_long_side=1024, width=512, height=640, steps=2)
    avatar = services.avatar_create(user=UserFactory(), subject_class="man")
    for path in sorted((faces_dir / "obama").glob("obama-[123].jpg")):
        services.photo_add(avatar=avatar, uploaded_file=SimpleUploadedFile(path.name, path.read_bytes()))
    services.avatar_templates_set(avatar=avatar, templates=[template])
    with django_capture_on_commit_callbacks(execute=True):
        order_fulfil(order_id=order_create_for_avatar(user=avatar.user, avatar=avatar).pk, via="local")
    avatar.refresh_from_db()
    assert avatar.status == Avatar.Status.READY, avatar.training_jobs.get().error
    return avatar


def png_size(response) -> tuple[int, int]:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return Image.open(io.BytesIO(content)).size


def test_the_download_is_the_high_resolution_pass_and_the_pages_show_a_web_copy(trained, client):
    [portrait] = trained.portraits.all()
    expected = passes.output_size((portrait.parameters["width"], portrait.parameters["height"]),
                                  passes.output_long_side(_tiny_engine(), 1024))
    client.force_login(trained.user)

    downloaded = client.get(f"/avatars/portraits/{portrait.public_id}/download/")
    shown = client.get(f"/avatars/portraits/{portrait.public_id}/image/")

    assert (portrait.width, portrait.height) == expected
    assert png_size(downloaded) == expected
    assert max(png_size(shown)) <= 1024 and portrait.web_image
    assert [stage["stage"] for stage in portrait.parameters["stages"]][-1] == "hires"


def _tiny_engine():
    from avatars.engine.pipeline import get_engine
    from avatars.gpu.engine_config import engine_spec

    return get_engine(engine_spec())


def more_like_me(portrait, django_capture_on_commit_callbacks) -> RenderJob:
    with django_capture_on_commit_callbacks(execute=True):
        job = services.portrait_more_like_me(portrait=portrait)
    job.refresh_from_db()
    assert job.status == RenderJob.Status.SUCCEEDED, job.error
    return job


def test_more_like_me_keeps_the_new_version_only_when_it_is_rated_closer(
    trained, scores, django_capture_on_commit_callbacks
):
    [first] = trained.portraits.all()
    Portrait.objects.filter(pk=first.pk).update(likeness_score=60.0)
    first.refresh_from_db()
    left_before = avatar_render_allowance(avatar=trained).left

    scores.value = 55.0
    refused = more_like_me(first, django_capture_on_commit_callbacks)

    assert trained.portraits.count() == 1
    assert refused.stage == "no_closer_version" and not refused.counts_against_allowance
    assert avatar_render_allowance(avatar=trained).left == left_before
    [notice] = Notice.objects.filter(user=trained.user)
    assert "kept yours" in notice_text(notice) and "did not use one of your extra renders" in notice_text(notice)

    scores.value = 71.0
    kept = more_like_me(first, django_capture_on_commit_callbacks)

    second = Portrait.objects.get(render_job=kept)
    assert (second.version, second.more_like_me_of_id, second.likeness_score) == (2, first.pk, 71.0)
    assert second.parameters["more_like_me_verdict"]["measured"] is True
    assert avatar_render_allowance(avatar=trained).left == left_before - 1


def test_a_more_like_me_that_finds_nothing_closer_is_free_once_per_portrait(
    trained, scores, settings, django_capture_on_commit_callbacks
):
    settings.LIKENESS_MORE_LIKE_ME_FREE_RETRIES = 1
    [first] = trained.portraits.all()
    Portrait.objects.filter(pk=first.pk).update(likeness_score=60.0)
    first.refresh_from_db()
    left_before = avatar_render_allowance(avatar=trained).left
    scores.value = 55.0

    free = more_like_me(first, django_capture_on_commit_callbacks)
    counted = [more_like_me(first, django_capture_on_commit_callbacks) for _ in range(2)]

    assert not free.counts_against_allowance
    assert all(job.counts_against_allowance for job in counted)
    assert avatar_render_allowance(avatar=trained).left == left_before - 2
    assert trained.portraits.count() == 1
    texts = [notice_text(notice) for notice in Notice.objects.filter(user=trained.user).order_by("created_at", "pk")]
    assert "did not use one of your extra renders" in texts[0]
    assert all("used one of your extra renders" in text for text in texts[1:])

    # So the purchase's renders run out: no click renders without limit.
    settings.LIKENESS_EXTRA_RENDERS = settings.LIKENESS_EXTRA_RENDERS - avatar_render_allowance(avatar=trained).left
    with pytest.raises(services.AvatarError, match="used all"):
        services.portrait_more_like_me(portrait=first)


def test_more_like_me_on_the_tiny_engine_keeps_the_version_marked_not_measured(
    trained, django_capture_on_commit_callbacks
):
    [first] = trained.portraits.all()
    assert first.likeness_score is None

    job = more_like_me(first, django_capture_on_commit_callbacks)

    second = Portrait.objects.get(render_job=job)
    assert second.version == 2 and second.likeness_score is None
    assert second.parameters["more_like_me_verdict"]["measured"] is False


def test_a_style_renders_several_portraits_each_the_best_of_its_own_candidates_closest_first(
    trained, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.LIKENESS_PORTRAITS_PER_STYLE = 4
    settings.LIKENESS_CANDIDATES_PER_TEMPLATE = 2
    # The tiny engine draws no faces: a picture's likeness here is its mean brightness, so
    # every render scores differently and the best of each pair is known.
    scored = []

    def scorer(centroid):
        def score(image):
            value = float(sum(image.convert("L").get_flattened_data())) / (image.width * image.height) / 2.55
            scored.append(value)
            return value
        return score

    monkeypatch.setattr("avatars.engine.scoring.portrait_scorer", scorer)
    style = StyleTemplateFactory(is_published=True, width=64, height=80, steps=2, output_long_side=0)

    with django_capture_on_commit_callbacks(execute=True):
        [job] = services.avatar_render_more(avatar=trained, templates=[style])
    job.refresh_from_db()

    assert job.status == RenderJob.Status.SUCCEEDED, job.error
    portraits = list(Portrait.objects.filter(render_job=job).order_by("take_number"))
    assert [(p.take, p.take_number) for p in portraits] == [("original", n) for n in (1, 2, 3, 4)]
    likeness = [p.likeness_score for p in portraits]
    assert likeness == sorted(likeness, reverse=True) and len(set(likeness)) == 4
    assert len({p.seed for p in portraits}) == 4
    assert all(p.parameters["candidates"] == 2 for p in portraits)
    assert len({p.parameters["base_seed"] for p in portraits}) == 4
    # Four portraits of two candidates each, every one scored: the job paid for eight renders.
    assert len(scored) >= 8
    assert GpuUsage.objects.get(kind="extra").likeness_score == likeness[0]
