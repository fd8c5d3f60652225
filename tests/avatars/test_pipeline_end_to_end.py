"""Photos in, portraits out: the real intake, training and rendering on the tiny engine."""

from pathlib import Path

import pytest
from django.core import mail
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from avatars import services
from avatars.models import Avatar, Photo, Portrait, RenderJob
from orders.services import order_create_for_avatar, order_fulfil
from tests.factories import StyleTemplateFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.slow, pytest.mark.engine_end_to_end,
              pytest.mark.usefixtures("small_engine")]


@pytest.fixture(autouse=True)
def lora_cache(tmp_path, monkeypatch) -> Path:
    """This test's own folder for the GPU machine's local LoRA copies."""
    folder = tmp_path / "lora-cache"
    monkeypatch.setattr("avatars.gpu.worker.LORA_CACHE_DIR", folder)
    return folder


def upload(avatar, path: Path) -> Photo:
    return services.photo_add(avatar=avatar, uploaded_file=SimpleUploadedFile(path.name, path.read_bytes()))


def stored_files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def collected_avatar(faces_dir):
    avatar = services.avatar_create(user=UserFactory(), subject_class="man")
    for path in sorted((faces_dir / "obama").glob("*.jpg")):
        upload(avatar, path)
    services.avatar_templates_set(avatar=avatar, templates=[StyleTemplateFactory(), StyleTemplateFactory()])
    return avatar


def test_the_set_keeps_one_persons_good_photos_and_says_why_it_refused_the_rest(collected_avatar, faces_dir):
    friend = upload(collected_avatar, faces_dir / "biden" / "biden-2.jpg")
    group = upload(collected_avatar, faces_dir / "multi" / "obama_and_biden.jpg")

    verdicts = {p.original_name: (p.status, p.reason_code) for p in collected_avatar.photos.all()}
    assert verdicts["obama-5-small.jpg"] == ("rejected", "too_small")
    # obama-4-1080p is obama-1 letterboxed into a 1080p frame: the same shot.
    assert verdicts["obama-4-1080p.jpg"] == ("rejected", "duplicate")
    assert sum(1 for status, _ in verdicts.values() if status == "accepted") == 3
    assert (friend.status, friend.reason_code) == ("rejected", "different_person")
    assert (group.status, group.reason_code) == ("rejected", "several_faces")
    assert friend.reason and group.reason
    # A refused photo keeps no file, another person's and a duplicate included.
    assert not group.image and not friend.image
    assert not collected_avatar.photos.filter(status="rejected").exclude(image="").exists()


def test_a_paid_avatar_is_trained_rendered_and_its_photos_deleted(collected_avatar, private_media, lora_cache,
                                                                   django_capture_on_commit_callbacks):
    photo_files = {p.image.name for p in collected_avatar.photos.exclude(image="")}
    assert photo_files and photo_files <= stored_files(private_media)
    order = order_create_for_avatar(user=collected_avatar.user, avatar=collected_avatar)

    with django_capture_on_commit_callbacks(execute=True):
        order_fulfil(order_id=order.pk, via="test")

    avatar = Avatar.objects.get(pk=collected_avatar.pk)
    job = avatar.training_jobs.get()
    assert (job.status, job.progress, job.attempts) == ("succeeded", 100, 1), job.error
    assert avatar.status == Avatar.Status.READY and avatar.lora_file.name.endswith(".safetensors")
    assert avatar.engine_label == "tiny engine: not a real model"
    assert len(avatar.embedding_centroid) == 128
    assert job.gpu_seconds > 0
    # The photos served their one purpose: no file of them is left anywhere in storage.
    assert not photo_files & stored_files(private_media)
    assert not avatar.photos.exclude(image="").exists()
    assert not avatar.photos.filter(embedding__isnull=False).exists()

    portraits = list(avatar.portraits.all())
    assert len(portraits) == 2
    for portrait in portraits:
        assert default_storage.exists(portrait.image.name)
        assert portrait.parameters["lora_scale"] == 1.0 and portrait.engine_label == avatar.engine_label
    assert set(avatar.render_jobs.values_list("status", flat=True)) == {"succeeded"}
    # The GPU machine's copy of the LoRA went with the last render.
    assert lora_cache.is_dir() and list(lora_cache.iterdir()) == []
    ready_mail = [m for m in mail.outbox if m.subject == "Your portraits are ready"]
    assert len(ready_mail) == 1 and ready_mail[0].to == [avatar.user.email]
    assert str(avatar.public_id) in ready_mail[0].body


def test_more_like_me_raises_the_avatar_pull_each_click_and_keeps_the_chain(collected_avatar,
                                                                             django_capture_on_commit_callbacks):
    order = order_create_for_avatar(user=collected_avatar.user, avatar=collected_avatar)
    with django_capture_on_commit_callbacks(execute=True):
        order_fulfil(order_id=order.pk, via="test")
    portrait = collected_avatar.portraits.order_by("pk").first()

    chain = [portrait]
    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            services.portrait_more_like_me(portrait=chain[-1])
        chain.append(Portrait.objects.get(more_like_me_of=chain[-1]))

    assert [p.version for p in chain] == [1, 2, 3, 4]
    scales = [p.parameters["lora_scale"] for p in chain]
    guidance = [p.parameters["guidance_scale"] for p in chain]
    assert scales == sorted(scales) and len(set(scales)) == 4
    assert guidance == sorted(guidance, reverse=True)
    assert RenderJob.objects.filter(kind="more_like_me").count() == 3
    assert all(p.seed == portrait.seed for p in chain)


def test_a_second_delivery_of_the_training_task_does_nothing(collected_avatar, django_capture_on_commit_callbacks):
    from avatars.gpu.worker import training_job_execute

    order = order_create_for_avatar(user=collected_avatar.user, avatar=collected_avatar)
    with django_capture_on_commit_callbacks(execute=True):
        order_fulfil(order_id=order.pk, via="test")
    job = collected_avatar.training_jobs.get()
    lora_name = Avatar.objects.get(pk=collected_avatar.pk).lora_file.name

    training_job_execute(job_id=job.pk)

    job.refresh_from_db()
    assert job.attempts == 1
    assert Avatar.objects.get(pk=collected_avatar.pk).lora_file.name == lora_name
    assert RenderJob.objects.filter(avatar=collected_avatar).count() == 2


def test_a_local_lora_copy_stays_while_a_render_waits_and_goes_with_a_deleted_avatar(
    collected_avatar, lora_cache, django_capture_on_commit_callbacks
):
    from avatars.gpu.worker import _local_lora_path, local_loras_prune

    order = order_create_for_avatar(user=collected_avatar.user, avatar=collected_avatar)
    with django_capture_on_commit_callbacks(execute=True):
        order_fulfil(order_id=order.pk, via="test")
    avatar = Avatar.objects.get(pk=collected_avatar.pk)
    waiting = RenderJob.objects.create(avatar=avatar, template=StyleTemplateFactory())
    copy = _local_lora_path(avatar)
    leftover = lora_cache / "0123456789abcdef.part"  # a copy cut short by a crash
    leftover.write_bytes(b"half")

    assert local_loras_prune() == [leftover.name]
    assert copy.read_bytes() == avatar.lora_file.open("rb").read()

    services.avatar_delete(avatar=avatar)  # cancels the waiting render
    assert local_loras_prune() == [copy.name]
    assert list(lora_cache.iterdir()) == []
    assert not RenderJob.objects.filter(pk=waiting.pk).exists()


@pytest.mark.parametrize("family", ["zimage", "flux2_klein"])
def test_a_transformer_family_builds_an_avatar_end_to_end(family, faces_dir, settings,
                                                          django_capture_on_commit_callbacks):
    """Intake, payment, training, rendering and "more like me" on the family's tiny engine: the
    avatar records the family its LoRA loads into, and its portraits the template's wording for
    that family."""
    settings.LIKENESS_MODEL_FAMILY = family
    avatar = services.avatar_create(user=UserFactory(), subject_class="man")
    for path in sorted((faces_dir / "obama").glob("*.jpg")):
        upload(avatar, path)
    sentences = f"A realistic photograph of {{identity}} for {family}, in soft window light."
    worded = {family: {"prompt": sentences, "negative_prompt": "a blurry photograph"}}
    services.avatar_templates_set(avatar=avatar, templates=[StyleTemplateFactory(prompt_by_family=worded)])
    order = order_create_for_avatar(user=avatar.user, avatar=avatar)

    with django_capture_on_commit_callbacks(execute=True):
        order_fulfil(order_id=order.pk, via="test")
    avatar.refresh_from_db()
    portrait = avatar.portraits.get()
    with django_capture_on_commit_callbacks(execute=True):
        services.portrait_more_like_me(portrait=portrait)

    assert avatar.status == Avatar.Status.READY and avatar.engine_family == family
    assert portrait.parameters["family"] == family and default_storage.exists(portrait.image.name)
    assert portrait.parameters["prompt"] == sentences
    assert portrait.parameters["negative_prompt"] == ("a blurry photograph" if family == "zimage" else "")
    closer = Portrait.objects.get(more_like_me_of=portrait)
    assert closer.parameters["lora_scale"] > portrait.parameters["lora_scale"]
    assert set(avatar.render_jobs.values_list("status", flat=True)) == {"succeeded"}
