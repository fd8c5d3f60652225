"""A finished portrait shown as an example of its style, with the consent of the person in it."""

from __future__ import annotations

from django.core.files.base import ContentFile
from django.utils.translation import gettext as _

from avatars.models import Portrait
from avatars.selectors.portraits import engine_label_is_test_output
from avatars.services.avatars import AvatarError
from styles.models import StyleExample
from styles.services import style_example_create


def portrait_style_example_create(*, portrait: Portrait, consent_note: str, by, caption: str = "") -> StyleExample:
    """Show a finished portrait on its style's page, the consent of the person in it recorded.
    Raises AvatarError for the tiny engine's output (it shows nobody) or a portrait whose file is gone."""
    if engine_label_is_test_output(portrait.engine_label):
        raise AvatarError(_("This portrait is the tiny engine's output, not a picture of anyone: it can't be an example."))
    try:
        with portrait.image.open("rb") as picture:
            image = ContentFile(picture.read())
    except (FileNotFoundError, ValueError):
        raise AvatarError(_("This portrait's file is gone.")) from None
    return style_example_create(
        template=portrait.template, image=image, consent_note=consent_note, caption=caption,
        recorded_by=by.email, source_portrait=portrait,
    )
