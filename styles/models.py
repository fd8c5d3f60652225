"""The styles tables: style templates with their words per language and family, example results, template requests and votes."""

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from avatars.engine.families import ModelFamily
from avatars.engine.passes import DEFAULT_FACE_STRENGTH, DEFAULT_HIRES_STRENGTH
from portrait_site.core.status import StatusModel


def template_image_path(instance, filename: str) -> str:
    return f"styles/{uuid.uuid4().hex}.png"


def example_image_path(instance, filename: str) -> str:
    return f"styles/examples/{uuid.uuid4().hex}.png"


def request_image_path(instance, filename: str) -> str:
    return f"requests/{uuid.uuid4().hex}.png"


def style_text_translated(*, translations: dict | None, field: str, written: str, language: str | None = None) -> str:
    """A style's `field` ("title" or "description") in `language` (the active one by default), from
    its `translations`, falling back to the default language's words (`written`) where none is written."""
    language = (language or translation.get_language() or settings.LANGUAGE_CODE).lower()
    translated = (translations or {}).get(language, {}).get(field, "")
    return translated.strip() or written


class StyleTemplate(models.Model):
    """A curated look that portraits are rendered in."""

    class Category(models.TextChoices):
        PROFESSIONAL = "professional", _("Professional")
        CEREMONY = "ceremony", _("Ceremony")
        CULTURAL = "cultural", _("Cultural")
        CINEMATIC = "cinematic", _("Cinematic")
        STUDIO = "studio", _("Studio")
        OUTDOOR = "outdoor", _("Outdoor")

    class Audience(models.TextChoices):
        ALL = "all", _("Everyone")
        WOMEN = "women", _("Women")
        MEN = "men", _("Men")

    class SeedPolicy(models.TextChoices):
        RANDOM = "random", _("A new seed each render")
        FIXED = "fixed", _("The template's fixed seed")

    slug = models.SlugField(max_length=80, unique=True, verbose_name=_("slug"))
    # The name and description in settings.LANGUAGE_CODE; `translations` holds the other
    # languages: {"zh-hans": {"title": ..., "description": ...}}, keyed by language code so a
    # language added to LIKENESS_LANGUAGES needs no migration. The prompt is not translated:
    # it stays in the language the model reads.
    title = models.CharField(max_length=120, verbose_name=_("title"))
    description = models.TextField(blank=True, verbose_name=_("description"))
    translations = models.JSONField(default=dict, blank=True, verbose_name=_("translations"))
    category = models.CharField(max_length=20, choices=Category.choices, default=Category.STUDIO, verbose_name=_("category"))
    audience = models.CharField(max_length=10, choices=Audience.choices, default=Audience.ALL, verbose_name=_("audience"))
    prompt = models.TextField(help_text="Must contain {identity}: where the person's avatar token goes.", verbose_name=_("prompt"))
    negative_prompt = models.TextField(blank=True, verbose_name=_("negative prompt"))
    # The wording for a family whose text encoder is a language model (sentences, not CLIP's
    # tags): {"zimage": {"prompt": ..., "negative_prompt": ...}}, keyed by family name
    # (avatars.engine.families.PROMPT_WORDING_FAMILIES). A family with no prompt here renders
    # `prompt` and `negative_prompt` above (see `wording_for`).
    prompt_by_family = models.JSONField(default=dict, blank=True, verbose_name=_("prompt by model family"))
    reference_image = models.ImageField(upload_to=template_image_path, blank=True, verbose_name=_("reference image"))
    img2img_strength = models.FloatField(
        default=0.75, validators=[MinValueValidator(0.05), MaxValueValidator(1.0)],
        help_text="How far the render may move away from the reference image (1.0 ignores it).", verbose_name=_("img2img strength"),
    )
    guidance_scale = models.FloatField(default=7.0, validators=[MinValueValidator(1.0), MaxValueValidator(20.0)], verbose_name=_("guidance scale"))
    steps = models.PositiveSmallIntegerField(default=25, validators=[MinValueValidator(1), MaxValueValidator(100)], verbose_name=_("steps"))
    width = models.PositiveSmallIntegerField(default=512, validators=[MinValueValidator(64), MaxValueValidator(1536)], verbose_name=_("width"))
    height = models.PositiveSmallIntegerField(default=640, validators=[MinValueValidator(64), MaxValueValidator(1536)], verbose_name=_("height"))
    seed_policy = models.CharField(max_length=10, choices=SeedPolicy.choices, default=SeedPolicy.RANDOM, verbose_name=_("seed policy"))
    seed = models.PositiveIntegerField(default=0, verbose_name=_("seed"))
    likeness_weight = models.FloatField(default=7.5, validators=[MinValueValidator(0), MaxValueValidator(10)], verbose_name=_("likeness weight"))
    beauty_weight = models.FloatField(default=2.5, validators=[MinValueValidator(0), MaxValueValidator(10)], verbose_name=_("beauty weight"))
    face_strength = models.FloatField(
        default=DEFAULT_FACE_STRENGTH, validators=[MinValueValidator(0.0), MaxValueValidator(0.8)],
        help_text="How much the face pass redraws the face with the person's avatar (0: no face pass). "
        "“More like me” raises it by 0.05 a click, to 0.6 at most.", verbose_name=_("face strength"),
    )
    output_long_side = models.PositiveSmallIntegerField(
        default=0, validators=[MaxValueValidator(4096)],
        help_text="The download's long side in pixels; 0: the model's default (1024 for SD 1.5, 2048 for SDXL). "
        "One not above the render's long side skips the high-resolution pass.", verbose_name=_("output long side"),
    )
    hires_strength = models.FloatField(
        default=DEFAULT_HIRES_STRENGTH, validators=[MinValueValidator(0.0), MaxValueValidator(0.6)],
        help_text="How much the high-resolution pass redraws the upscaled picture (0: upscale only).", verbose_name=_("hires strength"),
    )
    cover_image = models.ImageField(upload_to=template_image_path, blank=True, verbose_name=_("cover image"))
    is_published = models.BooleanField(default=False, verbose_name=_("is published"))
    # When the operator last published it (styles.services.template_publish); empty for the
    # styles the site was seeded with, which are not news. The gallery marks recent ones "New".
    published_at = models.DateTimeField(null=True, blank=True, verbose_name=_("published at"))
    sort_order = models.IntegerField(default=100, verbose_name=_("sort order"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("style template")
        verbose_name_plural = _("style templates")
        ordering = ["sort_order", "title"]
        indexes = [models.Index(fields=["is_published", "sort_order"])]

    def __str__(self) -> str:
        return self.title

    def translated(self, field: str, language: str | None = None) -> str:
        """`field` ("title" or "description") in `language` (the active one by default), falling
        back to the default language's where no translation is written."""
        return style_text_translated(
            translations=self.translations, field=field, written=getattr(self, field), language=language
        )

    def wording_for(self, model_family: ModelFamily) -> tuple[str, str]:
        """The prompt and negative prompt a render in `model_family` uses: that family's own
        wording where one is written, else the default one; no negative prompt for a family
        that takes none."""
        own = (self.prompt_by_family or {}).get(model_family.name) or {}
        if (own.get("prompt") or "").strip():
            prompt, negative_prompt = own["prompt"], own.get("negative_prompt") or ""
        else:
            prompt, negative_prompt = self.prompt, self.negative_prompt
        return prompt, negative_prompt if model_family.takes_negative_prompt else ""

    @property
    def display_title(self) -> str:
        """The name every page, mail and API answer shows."""
        return self.translated("title")

    @property
    def display_description(self) -> str:
        return self.translated("description")


class StyleExample(models.Model):
    """An example result shown on a style's page: the operator's own render in the style, or a
    portrait of someone who agreed to be shown. A customer's portrait becomes one only through
    styles.services.style_example_create_from_portrait, which records that consent here; it goes
    with the portrait (and so with the person's "delete everything")."""

    template = models.ForeignKey(StyleTemplate, on_delete=models.CASCADE, related_name="examples", verbose_name=_("template"))
    image = models.ImageField(upload_to=example_image_path, verbose_name=_("image"))
    caption = models.CharField(max_length=120, blank=True, verbose_name=_("caption"))
    sort_order = models.IntegerField(default=100, verbose_name=_("sort order"))
    source_portrait = models.ForeignKey(
        "avatars.Portrait", on_delete=models.CASCADE, null=True, blank=True, related_name="style_examples",
        verbose_name=_("made from portrait"),
    )
    consent_note = models.TextField(blank=True, verbose_name=_("consent"), help_text=_(
        "How and when the person in the picture agreed to be shown, in the operator's words."))
    consent_recorded_at = models.DateTimeField(null=True, blank=True, verbose_name=_("consent recorded at"))
    consent_recorded_by = models.CharField(max_length=254, blank=True, verbose_name=_("consent recorded by"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("style example")
        verbose_name_plural = _("style examples")
        ordering = ["sort_order", "pk"]

    def __str__(self) -> str:
        return self.caption or f"Example {self.pk} of {self.template_id}"


class TemplateRequest(StatusModel):
    """A customer's proposal for a new style, voted on by others."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        PLANNED = "planned", _("Planned")
        SHIPPED = "shipped", _("Shipped as a template")
        DECLINED = "declined", _("Declined")

    TRANSITIONS = {
        Status.OPEN: {Status.PLANNED, Status.DECLINED, Status.SHIPPED},
        Status.PLANNED: {Status.SHIPPED, Status.DECLINED, Status.OPEN},
        Status.DECLINED: {Status.OPEN},
        Status.SHIPPED: set(),
    }

    title = models.CharField(max_length=120, verbose_name=_("title"))
    # The title folded to lower case with single spaces: two requests for the same
    # style differ in case or spacing only, and the open ones must not coexist.
    title_key = models.CharField(max_length=120, editable=False, default="", verbose_name=_("title key"))
    description = models.TextField(max_length=2000, blank=True, verbose_name=_("description"))
    reference_image = models.ImageField(upload_to=request_image_path, blank=True, verbose_name=_("reference image"))
    # Set by the operator while curating; the draft template starts in it.
    category = models.CharField(
        max_length=20, choices=StyleTemplate.Category.choices, blank=True, verbose_name=_("category"),
        help_text=_("The category its draft template starts in."),
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="template_requests", verbose_name=_("author")
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN, verbose_name=_("status"))
    template = models.ForeignKey(
        StyleTemplate, on_delete=models.SET_NULL, null=True, blank=True, related_name="requests", verbose_name=_("template")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("template request")
        verbose_name_plural = _("template requests")
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
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="template_votes", verbose_name=_("user"))
    request = models.ForeignKey(TemplateRequest, on_delete=models.CASCADE, related_name="votes", verbose_name=_("request"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("template vote")
        verbose_name_plural = _("template votes")
        constraints = [models.UniqueConstraint(fields=["user", "request"], name="one_vote_per_user_and_request")]

    def __str__(self) -> str:
        return f"{self.user_id} → {self.request_id}"
