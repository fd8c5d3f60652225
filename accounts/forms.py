"""The accounts pages' forms: sign-up and sign-in (wrong passwords counted), password reset, terms, photo consent and deletions."""

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm, SetPasswordForm, UserCreationForm
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.services import password_reset_mail_send, sign_in_failure_record
from accounts.terms import terms_version


class NoColonMixin:
    """Labels read as headings above their fields: no trailing colon."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class TermsAcceptanceMixin(forms.Form):
    """A required "I accept" box tied to the version the person was shown: if the terms change
    while the page is open, the acceptance is refused rather than recorded for a text unread."""

    accept_terms = forms.BooleanField(
        required=True,
        label=_("I have read and accept the terms and the privacy notice."),
        error_messages={"required": _("Tick the box to accept the terms and the privacy notice.")},
    )
    terms_version = forms.CharField(widget=forms.HiddenInput)

    def clean_terms_version(self) -> str:
        version = self.cleaned_data["terms_version"]
        if version != terms_version():
            raise forms.ValidationError(_("The terms changed while this page was open. Read the new version, then accept."))
        return version


class SignupForm(NoColonMixin, TermsAcceptanceMixin, UserCreationForm):
    class Meta:
        model = User
        fields = ["email"]
        widgets = {"email": forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # One plain line instead of the validators' four-item list; their messages still explain a refusal.
        self.fields["password1"].help_text = _("At least 8 characters, not a common password, not only digits.")
        self.fields["password1"].widget.attrs["autocomplete"] = "new-password"
        self.fields["password2"].help_text = ""
        self.fields["terms_version"].initial = terms_version()

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()

    def validate_unique(self) -> None:
        # No "this address has an account" here: the form would tell anyone who asks.
        # accounts.services.account_sign_up mails the address's owner instead.
        pass


class SignInFailuresCountedMixin:
    """A wrong password counts against the account's sign-in limits (accounts.services.sign_in_check
    ran before the form, on the view). Only a wrong password: a refused attempt never reaches here."""

    def clean(self):
        try:
            return super().clean()
        except forms.ValidationError as error:
            if error.code == "invalid_login" and self.request is not None:
                sign_in_failure_record(request=self.request, account=self.cleaned_data.get("username", ""))
            raise


class AdminSignInForm(SignInFailuresCountedMixin, AdminAuthenticationForm):
    pass


class EmailAuthenticationForm(NoColonMixin, SignInFailuresCountedMixin, AuthenticationForm):
    username = forms.EmailField(
        label=_("Email address"), widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True})
    )

    def clean_username(self) -> str:
        return self.cleaned_data["username"].strip().lower()


class AvatarDeleteForm(NoColonMixin, forms.Form):
    confirm = forms.BooleanField(
        label=_("I understand: its photos, avatar file and portraits are deleted for good."), required=True
    )


class DeleteEverythingForm(NoColonMixin, forms.Form):
    email = forms.EmailField(
        label=_("Type your email address to confirm"),
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )

    def __init__(self, *args, user: User, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if email != self.user.email.lower():
            raise forms.ValidationError(_("That is not the email address of this account."))
        return email


class EmailPasswordResetForm(NoColonMixin, PasswordResetForm):
    def send_mail(self, subject_template_name, email_template_name, context, from_email, to_email,
                  html_email_template_name=None):
        """Django's reset mail, in the language and zone the account saved, at most
        settings.LIKENESS_PASSWORD_RESETS_PER_HOUR an hour (accounts.services)."""
        password_reset_mail_send(
            user=context["user"], subject_template=subject_template_name,
            body_template=email_template_name, context=context,
        )


class NewPasswordForm(NoColonMixin, SetPasswordForm):
    pass


class TermsAcceptForm(NoColonMixin, TermsAcceptanceMixin):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["terms_version"].initial = terms_version()
        self.fields["accept_terms"].label = _("I have read and accept the new terms and privacy notice.")


class PhotoConsentForm(NoColonMixin, forms.Form):
    consent = forms.BooleanField(
        required=True,
        label=_("Yes, I agree to this use of my photos for this avatar."),
        error_messages={"required": _("Tick the box to agree, or delete the avatar if you don't.")},
    )
