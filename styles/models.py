import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import translation

from avatars.engine.passes import DEFAULT_FACE_STRENGTH, DEFAULT_HIRES_STRENGTH
from portrait_site.status import StatusModel


def template_image_path(instance, filename: str) -> str:
    return f"styles/{uuid.uuid4().hex}.png"


def example_image_path(instance, filename: str) -> str:
    return f"styles/examples/{uuid.uuid4().hex}.png"


def request_image_path(instance, filename: str) -> str:
    return f"requests/{uuid.uuid4().hex}.png"


class StyleTemplate(models.Model):
    """A curated look that portraits are rendered in."""

    class Category(models.TextChoices):
        PROFESSIONAL = "professional", "Professional"
        CEREMONY = "ceremony", "Ceremony"
        CULTURAL = "cultural", "Cultural"
        CINEMATIC = "cinematic", "Cinematic"
        STUDIO = "studio", "Studio"
        OUTDOOR = "outdoor", "Outdoor"

    class Audience(models.TextChoices):
        ALL = "all", "Everyone"
        WOMEN = "women", "Women"
        MEN = "men", "Men"

    class SeedPolicy(models.TextChoices):
        RANDOM = "random", "A new seed each render"
        FIXED = "fixed", "The template's fixed seed"

    slug = models.SlugField(max_length=80, unique=True)
    # The name and description in settings.LANGUAGE_CODE; `translations` holds the other
    # languages: {"zh-hans": {"title": ..., "description": ...}}, keyed by language code so a
    # language added to LIKENESS_LANGUAGES needs no migration. The prompt is not translated:
    # it stays in the language the model reads.
    title = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    translations = models.JSONField(default=dict, blank=True)
    category = models.CharField(max_length=20, choices=Category.choices, default=Category.STUDIO)
    audience = models.CharField(max_length=10, choices=Audience.choices, default=Audience.ALL)
    prompt = models.TextField(help_text="Must contain {identity}: where the person's avatar token goes.")
    negative_prompt = models.TextField(blank=True)
    reference_image = models.ImageField(upload_to=template_image_path, blank=True)
    img2img_strength = models.FloatField(
        default=0.75, validators=[MinValueValidator(0.05), MaxValueValidator(1.0)],
        help_text="How far the render may move away from the reference image (1.0 ignores it).",
    )
    guidance_scale = models.FloatField(default=7.0, validators=[MinValueValidator(1.0), MaxValueValidator(20.0)])
    steps = models.PositiveSmallIntegerField(default=25, validators=[MinValueValidator(1), MaxValueValidator(100)])
    width = models.PositiveSmallIntegerField(default=512, validators=[MinValueValidator(64), MaxValueValidator(1536)])
    height = models.PositiveSmallIntegerField(default=640, validators=[MinValueValidator(64), MaxValueValidator(1536)])
    seed_policy = models.CharField(max_length=10, choices=SeedPolicy.choices, default=SeedPolicy.RANDOM)
    seed = models.PositiveIntegerField(default=0)
    likeness_weight = models.FloatField(default=7.5, validators=[MinValueValidator(0), MaxValueValidator(10)])
    beauty_weight = models.FloatField(default=2.5, validators=[MinValueValidator(0), MaxValueValidator(10)])
    face_strength = models.FloatField(
        default=DEFAULT_FACE_STRENGTH, validators=[MinValueValidator(0.0), MaxValueValidator(0.8)],
        help_text="How much the face pass redraws the face with the person's avatar (0: no face pass). "
        "“More like me” raises it by 0.05 a click, to 0.6 at most.",
    )
    output_long_side = models.PositiveSmallIntegerField(
        default=0, validators=[MaxValueValidator(4096)],
        help_text="The download's long side in pixels; 0: the model's default (1024 for SD 1.5, 2048 for SDXL). "
        "One not above the render's long side skips the high-resolution pass.",
    )
    hires_strength = models.FloatField(
        default=DEFAULT_HIRES_STRENGTH, validators=[MinValueValidator(0.0), MaxValueValidator(0.6)],
        help_text="How much the high-resolution pass redraws the upscaled picture (0: upscale only).",
    )
    cover_image = models.ImageField(upload_to=template_image_path, blank=True)
    is_published = models.BooleanField(default=False)
    sort_order = models.IntegerField(default=100)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sort_order", "title"]
        indexes = [models.Index(fields=["is_published", "sort_order"])]

    def __str__(self) -> str:
        return self.title

    def translated(self, field: str, language: str | None = None) -> str:
        """`field` ("title" or "description") in `language` (the active one by default), falling
        back to the default language's where no translation is written."""
        language = (language or translation.get_language() or settings.LANGUAGE_CODE).lower()
        written = (self.translations or {}).get(language, {}).get(field, "")
        return written.strip() or getattr(self, field)

    @property
    def display_title(self) -> str:
        """The name every page, mail and API answer shows."""
        return self.translated("title")

    @property
    def display_description(self) -> str:
        return self.translated("description")


class StyleExample(models.Model):
    """An example result shown on a style's page: the operator's own render in the style, or a
    picture of someone who agreed to be shown. Customers' portraits are never used."""

    template = models.ForeignKey(StyleTemplate, on_delete=models.CASCADE, related_name="examples")
    image = models.ImageField(upload_to=example_image_path)
    caption = models.CharField(max_length=120, blank=True)
    sort_order = models.IntegerField(default=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["sort_order", "pk"]

    def __str__(self) -> str:
        return self.caption or f"Example {self.pk} of {self.template_id}"


class TemplateRequest(StatusModel):
    """A customer's proposal for a new style, voted on by others."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        PLANNED = "planned", "Planned"
        SHIPPED = "shipped", "Shipped as a template"
        DECLINED = "declined", "Declined"

    TRANSITIONS = {
        Status.OPEN: {Status.PLANNED, Status.DECLINED, Status.SHIPPED},
        Status.PLANNED: {Status.SHIPPED, Status.DECLINED, Status.OPEN},
        Status.DECLINED: {Status.OPEN},
        Status.SHIPPED: set(),
    }

    title = models.CharField(max_length=120)
    # The title folded to lower case with single spaces: two requests for the same
    # style differ in case or spacing only, and the open ones must not coexist.
    title_key = models.CharField(max_length=120, editable=False, default="")
    description = models.TextField(max_length=2000, blank=True)
    reference_image = models.ImageField(upload_to=request_image_path, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="template_requests"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    template = models.ForeignKey(
        StyleTemplate, on_delete=models.SET_NULL, null=True, blank=True, related_name="requests"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["title_key"],
                condition=models.Q(status__in=["open", "planned"]),
                name="one_live_request_per_title",
            )
        ]

    def __str__(self) -> str:
        return self.title

    @staticmethod
    def title_key_for(title: str) -> str:
        return " ".join(title.split()).casefold()

    @property
    def accepts_votes(self) -> bool:
        return self.status in (self.Status.OPEN, self.Status.PLANNED)


class TemplateVote(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="template_votes")
    request = models.ForeignKey(TemplateRequest, on_delete=models.CASCADE, related_name="votes")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "request"], name="one_vote_per_user_and_request")]

    def __str__(self) -> str:
        return f"{self.user_id} → {self.request_id}"
