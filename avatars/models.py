"""The avatars tables: avatars, photos, GPU jobs (training and render), portraits and GPU usage, with their private file paths."""

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from avatars.photo_verdicts import verdict_sentence
from portrait_site.core.status import StatusModel


def _private_name(folder: str, extension: str) -> str:
    # Random names: a storage listing or a leaked path says nothing about whose file it is.
    return f"{folder}/{uuid.uuid4().hex}{extension}"


def photo_path(instance, filename: str) -> str:
    return _private_name(f"uploads/{instance.avatar.public_id.hex}", ".jpg")


def lora_path(instance, filename: str) -> str:
    return _private_name(f"avatars/{instance.public_id.hex}", ".safetensors")


def portrait_path(instance, filename: str) -> str:
    return _private_name(f"portraits/{instance.avatar.public_id.hex}", ".png")


def new_identity_token() -> str:
    # A rare token the base model has no prior for, as DreamBooth does with "sks".
    return "lks" + secrets.token_hex(2)


class Avatar(StatusModel):
    """A person's digital avatar: their photos, then the LoRA trained from them."""

    class Status(models.TextChoices):
        COLLECTING = "collecting", _("Collecting photos")
        PAID = "paid", _("Paid, waiting for training")
        TRAINING = "training", _("Training")
        READY = "ready", _("Ready")
        FAILED = "failed", _("Failed")

    TRANSITIONS = {
        Status.COLLECTING: {Status.PAID},
        Status.PAID: {Status.TRAINING, Status.FAILED},
        Status.TRAINING: {Status.READY, Status.FAILED, Status.PAID},
        Status.READY: set(),
        # Back to collecting: after a refunded failure the person may fix the set and pay again.
        Status.FAILED: {Status.PAID, Status.COLLECTING},
    }

    class SubjectClass(models.TextChoices):
        PERSON = "person", _("Person")
        WOMAN = "woman", _("Woman")
        MAN = "man", _("Man")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=_("public id"))
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="avatars", verbose_name=_("user"))
    name = models.CharField(max_length=80, default="My avatar", verbose_name=_("name"))
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.COLLECTING, verbose_name=_("status"))
    subject_class = models.CharField(max_length=10, choices=SubjectClass.choices, default=SubjectClass.PERSON, verbose_name=_("subject class"))
    identity_token = models.CharField(max_length=16, default=new_identity_token, verbose_name=_("identity token"))
    templates = models.ManyToManyField("styles.StyleTemplate", blank=True, related_name="avatars", verbose_name=_("templates"))
    lora_file = models.FileField(upload_to=lora_path, blank=True, verbose_name=_("lora file"))
    # Mean identity embedding of the accepted photos: what likeness is measured
    # against once the photos themselves are deleted.
    embedding_centroid = models.JSONField(null=True, blank=True, verbose_name=_("embedding centroid"))
    engine_label = models.CharField(max_length=120, blank=True, verbose_name=_("engine label"))
    # The base model's family the LoRA was trained for (a name in avatars.engine.families):
    # what it loads into.
    engine_family = models.CharField(max_length=16, blank=True, verbose_name=_("engine family"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    trained_at = models.DateTimeField(null=True, blank=True, verbose_name=_("trained at"))
    photos_deleted_at = models.DateTimeField(null=True, blank=True, verbose_name=_("photos deleted at"))
    # Set while the payment for the current build is being or has been given back: the avatar
    # keeps its finished portraits and renders nothing new (avatars.services.avatar_refund_record).
    refunded_at = models.DateTimeField(null=True, blank=True, verbose_name=_("refunded at"))

    class Meta:
        verbose_name = _("avatar")
        verbose_name_plural = _("avatars")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "status"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_status_display()})"


class Photo(StatusModel):
    """One uploaded selfie and the verdict of its checks."""

    class Status(models.TextChoices):
        ACCEPTED = "accepted", _("Accepted")
        REJECTED = "rejected", _("Refused")
        REMOVED = "removed", _("Removed")

    TRANSITIONS = {
        Status.ACCEPTED: {Status.REJECTED, Status.REMOVED},
        Status.REJECTED: {Status.ACCEPTED, Status.REMOVED},
        Status.REMOVED: set(),
    }

    avatar = models.ForeignKey(Avatar, on_delete=models.CASCADE, related_name="photos", verbose_name=_("avatar"))
    image = models.FileField(upload_to=photo_path, blank=True, verbose_name=_("image"))
    # A refused photo keeps no file: only this small JPEG of its face (avatars.services.
    # REFUSED_THUMBNAIL_SIZE), so its card shows which photo it was. It goes when the card
    # does (removed, cleared, the set's photos deleted), never outliving the photo's row.
    refused_thumbnail = models.BinaryField(blank=True, default=b"", editable=False, verbose_name=_("refused thumbnail"))
    original_name = models.CharField(max_length=255, blank=True, verbose_name=_("original name"))
    status = models.CharField(max_length=10, choices=Status.choices, verbose_name=_("status"))
    # A short machine code ("several_faces", "blurry", ...) and the figures its sentence names;
    # the sentence itself is worded when read (`reason`), in the reader's language.
    reason_code = models.CharField(max_length=40, blank=True, verbose_name=_("reason code"))
    reason_details = models.JSONField(default=dict, blank=True, verbose_name=_("reason details"))
    checks = models.JSONField(default=dict, blank=True, verbose_name=_("checks"))
    face_box = models.JSONField(null=True, blank=True, verbose_name=_("face box"))
    embedding = models.JSONField(null=True, blank=True, verbose_name=_("embedding"))
    perceptual_hash = models.CharField(max_length=32, blank=True, verbose_name=_("perceptual hash"))
    width = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("width"))
    height = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("height"))
    quality_score = models.FloatField(null=True, blank=True, verbose_name=_("quality score"))
    # The earlier photo of the set this one is a copy of (stretched, recropped, tinted, greyed or
    # mirrored), so the page can show the two side by side.
    duplicate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="copies",
        verbose_name=_("duplicate of"),
    )
    selected_for_training = models.BooleanField(default=False, verbose_name=_("selected for training"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("photo")
        verbose_name_plural = _("photos")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["avatar", "status"])]

    def __str__(self) -> str:
        return f"{self.original_name or self.pk} ({self.status})"

    @property
    def reason(self) -> str:
        """Why the photo was refused, in the active language ("" when it was not)."""
        return verdict_sentence(self.reason_code, self.reason_details)


class GpuJob(StatusModel):
    """The bookkeeping every GPU job shares: our own attempts, heartbeat and GPU time."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    TRANSITIONS = {
        Status.QUEUED: {Status.RUNNING, Status.CANCELLED, Status.FAILED},
        # Back to queued: a retry after an error, or a requeue after a stale heartbeat.
        Status.RUNNING: {Status.SUCCEEDED, Status.FAILED, Status.QUEUED, Status.CANCELLED},
        Status.FAILED: {Status.QUEUED},
        Status.SUCCEEDED: set(),
        Status.CANCELLED: set(),
    }

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, verbose_name=_("status"))
    stage = models.CharField(max_length=40, blank=True, verbose_name=_("stage"))
    progress = models.PositiveSmallIntegerField(default=0, verbose_name=_("progress"))
    attempts = models.PositiveSmallIntegerField(default=0, verbose_name=_("attempts"))
    max_attempts = models.PositiveSmallIntegerField(default=3, verbose_name=_("max attempts"))
    heartbeat_at = models.DateTimeField(null=True, blank=True, verbose_name=_("heartbeat at"))
    gpu_seconds = models.FloatField(default=0, verbose_name=_("gpu seconds"))
    error = models.TextField(blank=True, verbose_name=_("error"))
    task_id = models.CharField(max_length=64, blank=True, verbose_name=_("task id"))
    queued_at = models.DateTimeField(auto_now_add=True, verbose_name=_("queued at"))
    started_at = models.DateTimeField(null=True, blank=True, verbose_name=_("started at"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))

    class Meta:
        abstract = True

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)


class TrainingJob(GpuJob):
    avatar = models.ForeignKey(Avatar, on_delete=models.CASCADE, related_name="training_jobs", verbose_name=_("avatar"))
    order = models.OneToOneField(
        "orders.Order", on_delete=models.SET_NULL, null=True, blank=True, related_name="training_job", verbose_name=_("order")
    )
    steps = models.PositiveIntegerField(default=0, verbose_name=_("steps"))
    samples = models.PositiveIntegerField(default=0, verbose_name=_("samples"))
    final_loss = models.FloatField(null=True, blank=True, verbose_name=_("final loss"))
    # One point per validation: samples seen, loss, mean and best likeness, faces found, and
    # the seed of the training run it belongs to (a weak avatar is trained once more).
    validation_curve = models.JSONField(default=list, blank=True, verbose_name=_("validation curve"))
    # The checkpoint saved: samples seen at the validation that looked most like the person;
    # None when nothing could be measured (no face in any validation image) and the last was kept.
    chosen_samples = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("chosen samples"))
    best_likeness = models.FloatField(null=True, blank=True, verbose_name=_("best likeness"))
    # Why it failed for good, written for the customer (the refund and the page say it);
    # `error` keeps the technical reason for the operator. The worker knows no reader's
    # language: `failure_reason_parts` keeps the sentence's catalogue id ("message") and its
    # figures ("params"), so the page words it in the reader's (selectors.training_failure_words).
    failure_reason = models.CharField(max_length=300, blank=True, verbose_name=_("failure reason"))
    failure_reason_parts = models.JSONField(default=dict, blank=True, verbose_name=_("failure reason parts"))

    class Meta:
        verbose_name = _("training job")
        verbose_name_plural = _("training jobs")
        ordering = ["-queued_at"]
        indexes = [models.Index(fields=["status", "heartbeat_at"])]

    def __str__(self) -> str:
        return f"Training {self.pk} for avatar {self.avatar_id} ({self.status})"


class RenderJob(GpuJob):
    class Kind(models.TextChoices):
        INITIAL = "initial", _("First portraits")
        MORE_LIKE_ME = "more_like_me", _("More like me")
        REROLL = "reroll", _("Re-roll")
        EXTRA = "extra", _("More templates")
        PREVIEW = "preview", _("Operator preview")

    avatar = models.ForeignKey(Avatar, on_delete=models.CASCADE, related_name="render_jobs", verbose_name=_("avatar"))
    template = models.ForeignKey("styles.StyleTemplate", on_delete=models.PROTECT, related_name="render_jobs", verbose_name=_("template"))
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.INITIAL, verbose_name=_("kind"))
    # A render the customer asked for beyond the first portraits uses one of the purchase's
    # extra renders (settings.LIKENESS_EXTRA_RENDERS); one that failed, or a "more like me"
    # that found nothing closer to the person, gives it back.
    counts_against_allowance = models.BooleanField(default=True, verbose_name=_("counts against allowance"))
    source_portrait = models.ForeignKey(
        "Portrait", on_delete=models.SET_NULL, null=True, blank=True, related_name="derived_jobs", verbose_name=_("source portrait")
    )

    class Meta:
        verbose_name = _("render job")
        verbose_name_plural = _("render jobs")
        ordering = ["queued_at", "id"]
        indexes = [models.Index(fields=["status", "heartbeat_at"])]

    def __str__(self) -> str:
        return f"Render {self.pk} of {self.template_id} for avatar {self.avatar_id} ({self.status})"


# The two kinds of GPU job by the name the queue's progress, its figures and the dashboard use:
# the one list of job tables, so a third kind is added here once.
JOB_MODELS: dict[str, type[GpuJob]] = {"training": TrainingJob, "render": RenderJob}


class Portrait(models.Model):
    """A rendered portrait. It belongs to the user; nothing else uses it."""

    class Take(models.TextChoices):
        # How the portrait came about, which with `take_number` names it: "original 2",
        # "re-roll 1", "more like me 1" (avatars.selectors.portrait_take_name).
        ORIGINAL = "original", _("original")
        REROLL = "reroll", _("re-roll")
        MORE_LIKE_ME = "more_like_me", _("more like me")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=_("public id"))
    avatar = models.ForeignKey(Avatar, on_delete=models.CASCADE, related_name="portraits", verbose_name=_("avatar"))
    template = models.ForeignKey("styles.StyleTemplate", on_delete=models.PROTECT, related_name="portraits", verbose_name=_("template"))
    # A first render of a style keeps several portraits (settings.LIKENESS_PORTRAITS_PER_STYLE).
    render_job = models.ForeignKey(
        RenderJob, on_delete=models.SET_NULL, null=True, blank=True, related_name="portraits", verbose_name=_("render job")
    )
    # The finished portrait at full size (after the high-resolution pass): what downloads.
    image = models.FileField(upload_to=portrait_path, verbose_name=_("image"))
    # A web-sized copy the pages show; empty for portraits made before the copy existed.
    web_image = models.FileField(upload_to=portrait_path, blank=True, verbose_name=_("web image"))
    width = models.PositiveIntegerField(default=0, verbose_name=_("width"))
    height = models.PositiveIntegerField(default=0, verbose_name=_("height"))
    seed = models.BigIntegerField(verbose_name=_("seed"))
    likeness_score = models.FloatField(null=True, blank=True, help_text="0-100: closeness to the person's photos.", verbose_name=_("likeness score"))
    parameters = models.JSONField(default=dict, verbose_name=_("parameters"))
    more_like_me_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="more_like_me_versions", verbose_name=_("more like me of")
    )
    version = models.PositiveSmallIntegerField(default=1, verbose_name=_("version"))
    take = models.CharField(max_length=16, choices=Take.choices, default=Take.ORIGINAL, verbose_name=_("take"))
    # Counted per avatar, style and take, from 1: the first "re-roll" of a style is "re-roll 1".
    take_number = models.PositiveSmallIntegerField(default=1, verbose_name=_("take number"))
    is_favourite = models.BooleanField(default=False, verbose_name=_("favourite"))
    engine_label = models.CharField(max_length=120, blank=True, verbose_name=_("engine label"))
    download_count = models.PositiveIntegerField(default=0, verbose_name=_("download count"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("portrait")
        verbose_name_plural = _("portraits")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["avatar", "template"])]

    def __str__(self) -> str:
        return f"Portrait {self.public_id} ({self.template_id})"

    @property
    def stored_file_names(self) -> list[str]:
        return [field.name for field in (self.image, self.web_image) if field]

class GpuUsage(models.Model):
    """One finished GPU job, kept for the operator's figures (GPU minutes, likeness per template).

    It names no person and no avatar: deleting a customer deletes their jobs, not these rows.
    """

    class Kind(models.TextChoices):
        TRAINING = "training", _("Training")
        INITIAL = "initial", _("First portraits")
        MORE_LIKE_ME = "more_like_me", _("More like me")
        REROLL = "reroll", _("Re-roll")
        EXTRA = "extra", _("More templates")
        PREVIEW = "preview", _("Operator preview")

    kind = models.CharField(max_length=16, choices=Kind.choices, verbose_name=_("kind"))
    template = models.ForeignKey(
        "styles.StyleTemplate", on_delete=models.SET_NULL, null=True, blank=True, related_name="gpu_usage", verbose_name=_("template")
    )
    likeness_score = models.FloatField(null=True, blank=True, verbose_name=_("likeness score"))
    gpu_seconds = models.FloatField(verbose_name=_("gpu seconds"))
    day = models.DateField(verbose_name=_("day"))
    finished_at = models.DateTimeField(verbose_name=_("finished at"))

    class Meta:
        ordering = ["-finished_at"]
        indexes = [models.Index(fields=["day", "kind"])]
        verbose_name = _("GPU usage record")
        verbose_name_plural = _("GPU usage")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.day}: {self.gpu_seconds:.0f} s"
