"""The accounts tables: people, notices, deletion receipts, terms accepted, photo consents, email confirmations, API tokens."""

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.utils.translation import gettext_lazy as _


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra_fields)


class User(AbstractUser):
    """A customer or operator; the email address is the login."""

    username = None
    first_name = None
    last_name = None
    email = models.EmailField(_("email address"), unique=True)
    display_name = models.CharField(max_length=80, blank=True, verbose_name=_("display name"))
    # Set when the person opened the link mailed to this address (accounts.verification).
    email_verified_at = models.DateTimeField(null=True, blank=True, verbose_name=_("email verified at"))
    # The language and time zone the person reads in: pages while signed in, and every mail a
    # worker sends them later. Blank until first captured (accounts.locale): the browser's.
    language = models.CharField(max_length=15, blank=True, verbose_name=_("language"))
    time_zone = models.CharField(max_length=64, blank=True, verbose_name=_("time zone"))

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()

    def __str__(self) -> str:
        return self.email

    def save(self, *args, **kwargs):
        # Every way a password changes (the reset link, the change form, the admin, the
        # changepassword command) ends here with set_password's new password pending, as
        # Django's own password_changed hook does: a new password ends every API token.
        # (A hash upgraded at sign-in clears the pending password first, so it ends none.)
        password_changed = self._password is not None and self.pk is not None
        super().save(*args, **kwargs)
        if password_changed:
            ApiToken.objects.filter(user=self).delete()


class Notice(models.Model):
    """A message shown to a user on their next visit (e.g. a requested template shipped)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notices", verbose_name=_("user"))
    # The English sentence (a catalogue id) and its figures: worded when shown (accounts.notices).
    message = models.CharField(max_length=300, verbose_name=_("message"))
    params = models.JSONField(default=dict, blank=True, verbose_name=_("params"))
    link = models.CharField(max_length=300, blank=True, verbose_name=_("link"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    read_at = models.DateTimeField(null=True, blank=True, verbose_name=_("read at"))

    class Meta:
        verbose_name = _("notice")
        verbose_name_plural = _("notices")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "read_at"])]

    def __str__(self) -> str:
        return self.message


class DeletionReceipt(models.Model):
    """What a deletion removed and when. Kept without a user link: the user may be gone."""

    user_email_hash = models.CharField(max_length=64, db_index=True, verbose_name=_("user email hash"))
    token = models.CharField(max_length=64, unique=True, verbose_name=_("token"))
    scope = models.CharField(max_length=40, verbose_name=_("scope"))
    removed = models.JSONField(default=dict, verbose_name=_("removed"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("deletion receipt")
        verbose_name_plural = _("deletion receipts")

    def __str__(self) -> str:
        return f"{self.scope} at {self.created_at:%Y-%m-%d %H:%M}"


class TermsAcceptance(models.Model):
    """One person accepting one version of the terms and privacy notice (accounts.terms)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="terms_acceptances", verbose_name=_("user"))
    version = models.CharField(max_length=40, verbose_name=_("version"))
    accepted_at = models.DateTimeField(auto_now_add=True, verbose_name=_("accepted at"))

    class Meta:
        verbose_name = _("terms acceptance")
        verbose_name_plural = _("terms acceptances")
        ordering = ["-accepted_at"]
        constraints = [models.UniqueConstraint(fields=["user", "version"], name="terms_accepted_once_per_version")]

    def __str__(self) -> str:
        return f"{self.user} accepted {self.version}"


class PhotoConsent(models.Model):
    """Explicit consent to process the face photos of one avatar (PIPL's separate consent, GDPR
    Art. 9). It goes with the avatar: withdrawing it is deleting the avatar (accounts.consent)."""

    avatar = models.OneToOneField("avatars.Avatar", on_delete=models.CASCADE, related_name="photo_consent", verbose_name=_("avatar"))
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="photo_consents", verbose_name=_("user"))
    # The sentences the person agreed to, as shown, with the figures of that moment.
    statement = models.TextField(verbose_name=_("statement"))
    terms_version = models.CharField(max_length=40, verbose_name=_("terms version"))
    given_at = models.DateTimeField(auto_now_add=True, verbose_name=_("given at"))

    class Meta:
        verbose_name = _("photo consent")
        verbose_name_plural = _("photo consents")

    def __str__(self) -> str:
        return f"Photo consent for avatar {self.avatar_id}"


class EmailConfirmation(models.Model):
    """One mailed link that confirms an address (accounts.verification). Only the link's token's
    SHA-256 is kept: the database alone opens no link, and no key, public or not, forges one."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="email_confirmations")
    # The address the link was mailed to: once the account's address changes, the link confirms nothing.
    email = models.EmailField()
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # The first opening: the only one that may sign a fresh account in.
    opened_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Confirmation of {self.email}"


class ApiToken(models.Model):
    """One named API key of a person (accounts.tokens). Only the key's SHA-256 is kept: the key
    itself is shown once, when it is made."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=80)
    key_hash = models.CharField(max_length=64, unique=True)
    # The key's first characters, so a person can tell their tokens apart.
    key_prefix = models.CharField(max_length=8)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_prefix}...)"
