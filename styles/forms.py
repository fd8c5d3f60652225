"""The template requests page's form: a proposed style's title, description and reference image."""

from django import forms
from django.utils.translation import gettext_lazy as _

from styles.services import DESCRIPTION_MAX_LENGTH, TITLE_MAX_LENGTH


class TemplateRequestForm(forms.Form):
    title = forms.CharField(max_length=TITLE_MAX_LENGTH, label=_("Title"), help_text=_("e.g. “Rainy Tokyo street at night”"))
    description = forms.CharField(
        max_length=DESCRIPTION_MAX_LENGTH, required=False, label=_("Description"), widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("The light, the place, the clothes, the mood."),
    )
    # A plain file field: the service does the image checks, so they are the same everywhere.
    reference_image = forms.FileField(
        required=False, label=_("Reference image"), help_text=_("Optional: a picture of the look. JPEG, PNG or WebP, up to 5 MB."),
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
    )

    def __init__(self, *args, **kwargs):
        # No ":" after the labels: a Latin colon after Chinese words reads as a typo.
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
