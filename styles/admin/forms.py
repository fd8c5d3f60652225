"""The styles admin's forms: a template's words in every language and per model family, each prompt checked against its model's limit."""

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from avatars.engine.families import PROMPT_WORDING_FAMILIES
from avatars.engine.prompts import (
    prompt_overflow,
    prompt_token_count,
    prompt_token_count_for,
    prompt_token_limit,
)
from avatars.engine.rendering import resolve_prompt
from avatars.gpu.engine_config import engine_spec
from styles.models import StyleExample, StyleTemplate

# The longest identity the site mints ("lks" and four hex digits, avatars.models.new_identity_token,
# where each digit is a token of its own) and the longest class word: a prompt that fits with
# it fits every avatar's.
WIDEST_IDENTITY = {"identity_token": "lks0a0a", "subject_class": "person"}


def _refuse_if_cut(text: str, *, what: str) -> None:
    spec = engine_spec()
    count, limit = prompt_token_count(spec, text), prompt_token_limit(spec)
    if count > limit:
        raise forms.ValidationError(
            _("%(what)s is %(count)s tokens; the model reads %(limit)s (its start and end included) and "
              "would silently drop “%(dropped)s”. Shorten it.")
            % {"what": what, "count": count, "limit": limit, "dropped": prompt_overflow(spec, text)}
        )


def _refuse_if_cut_for(model_family, text: str, *, what: str) -> None:
    count, limit, dropped = prompt_token_count_for(engine_spec(), model_family, text)
    if count > limit:
        raise forms.ValidationError(
            _("%(what)s is %(count)s tokens for %(family)s; its text encoder reads %(limit)s and would "
              "silently drop “%(dropped)s”. Shorten it.")
            % {"what": what, "count": count, "family": model_family.display_name, "limit": limit, "dropped": dropped}
        )


def token_count_label(text: str) -> str:
    spec = engine_spec()
    count, limit = prompt_token_count(spec, text), prompt_token_limit(spec)
    return _count_label(count, limit)


def _count_label(count: int, limit: int) -> str:
    if count > limit:
        return _("%(count)s of %(limit)s tokens (too long: the end is cut)") % {"count": count, "limit": limit}
    return _("%(count)s of %(limit)s tokens") % {"count": count, "limit": limit}


def translated_languages() -> list[tuple[str, str]]:
    """Every language but the default one, whose words are the title and description themselves."""
    return [(code, name) for code, name in settings.LANGUAGES if code != settings.LANGUAGE_CODE]


def translation_field(field: str, code: str) -> str:
    return f"{field}_{code.replace('-', '_')}"


def family_wording_fields() -> list[tuple[str, str, object]]:
    """(form field, "prompt" or "negative_prompt", family) for each wording a template holds per
    family: a prompt for each family the engine words separately, a negative prompt where it takes one."""
    return [
        (f"{field}_{member.name}", field, member)
        for member in PROMPT_WORDING_FAMILIES
        for field in ("prompt", "negative_prompt")
        if field == "prompt" or member.takes_negative_prompt
    ]


class StyleTemplateForm(forms.ModelForm):
    """The name and description in each language side by side: a field per language, kept in
    StyleTemplate.translations."""

    class Meta:
        model = StyleTemplate
        fields = "__all__"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        written = self.instance.translations or {}
        default_name = dict(settings.LANGUAGES).get(settings.LANGUAGE_CODE, settings.LANGUAGE_CODE)
        self.fields["title"].label = _("Title (%(language)s)") % {"language": default_name}
        self.fields["description"].label = _("Description (%(language)s)") % {"language": default_name}
        for code, name in translated_languages():
            self.fields[translation_field("title", code)] = forms.CharField(
                label=_("Title (%(language)s)") % {"language": name}, max_length=120, required=False,
                initial=written.get(code, {}).get("title", ""),
                help_text=_("Blank: the other title is shown."),
            )
            self.fields[translation_field("description", code)] = forms.CharField(
                label=_("Description (%(language)s)") % {"language": name}, required=False, widget=forms.Textarea(attrs={"rows": 4}),
                initial=written.get(code, {}).get("description", ""),
            )
        self.fields["prompt"].label = _("Prompt (CLIP tags; every family without a wording of its own)")
        self.fields["negative_prompt"].label = _("Negative prompt (CLIP tags)")
        wordings = self.instance.prompt_by_family or {}
        for name, field, member in family_wording_fields():
            text = wordings.get(member.name, {}).get(field, "")
            limit = member.prompt_token_limit
            if field == "prompt":
                label = _("Prompt (%(family)s)") % {"family": member.display_name}
                help_text = _("Sentences for its language model, with {identity}, up to %(limit)s tokens. "
                              "Blank: the default prompt and negative prompt are used.") % {"limit": limit}
            else:
                label = _("Negative prompt (%(family)s)") % {"family": member.display_name}
                help_text = _("Up to %(limit)s tokens. Used only with this family's own prompt.") % {"limit": limit}
            if text:
                count, limit, _dropped = prompt_token_count_for(engine_spec(), member, self._as_rendered(field, text))
                help_text = _("%(help)s Now: %(count)s.") % {"help": help_text, "count": _count_label(count, limit)}
            self.fields[name] = forms.CharField(
                label=label, required=False, initial=text, help_text=help_text,
                widget=forms.Textarea(attrs={"rows": 4}),
            )

    @staticmethod
    def _as_rendered(field: str, text: str) -> str:
        return resolve_prompt(text, **WIDEST_IDENTITY) if field == "prompt" else text

    def clean(self):
        cleaned = super().clean()
        for name, field, member in family_wording_fields():
            text = (cleaned.get(name) or "").strip()
            if not text:
                continue
            if field == "prompt" and "{identity}" not in text:
                self.add_error(name, _("The prompt must contain {identity}: that is where the person's avatar goes."))
                continue
            what = _("With the avatar's identity in it, the prompt") if field == "prompt" else _("The negative prompt")
            try:
                _refuse_if_cut_for(member, self._as_rendered(field, text), what=what)
            except forms.ValidationError as refusal:
                self.add_error(name, refusal)
        return cleaned

    def save(self, commit=True):
        translations = dict(self.instance.translations or {})
        for code, _name in translated_languages():
            words = {
                field: self.cleaned_data.get(translation_field(field, code), "").strip()
                for field in ("title", "description")
            }
            words = {field: text for field, text in words.items() if text}
            if words:
                translations[code] = words
            else:
                translations.pop(code, None)
        self.instance.translations = translations
        wordings = {}
        for name, field, member in family_wording_fields():
            text = self.cleaned_data.get(name, "").strip()
            if text:
                wordings.setdefault(member.name, {})[field] = text
        self.instance.prompt_by_family = wordings
        return super().save(commit=commit)

    def clean_prompt(self) -> str:
        prompt = self.cleaned_data["prompt"]
        if "{identity}" not in prompt:
            raise forms.ValidationError(
                _("The prompt must contain {identity}: that is where the person's avatar goes.")
            )
        _refuse_if_cut(resolve_prompt(prompt, **WIDEST_IDENTITY), what=_("With the avatar's identity in it, the prompt"))
        return prompt

    def clean_negative_prompt(self) -> str:
        negative_prompt = self.cleaned_data["negative_prompt"]
        _refuse_if_cut(negative_prompt, what=_("The negative prompt"))
        return negative_prompt


class StyleExampleInlineForm(forms.ModelForm):
    class Meta:
        model = StyleExample
        fields = ["image", "caption", "consent_note", "sort_order"]
        widgets = {"consent_note": forms.Textarea(attrs={"rows": 2, "cols": 30})}

    def clean_consent_note(self) -> str:
        note = self.cleaned_data.get("consent_note", "").strip()
        if not note:
            raise forms.ValidationError(_("Say how and when the person in the picture agreed to be shown "
                                          "(for your own render: “my own avatar”)."))
        return note
