from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models


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
    email = models.EmailField("email address", unique=True)
    display_name = models.CharField(max_length=80, blank=True)
    # Set when the person opened the link mailed to this address (accounts.verification).
    email_verified_at = models.DateTimeField(null=True, blank=True)

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

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notices")
    message = models.CharField(max_length=300)
    link = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "read_at"])]

    def __str__(self) -> str:
        return self.message


class DeletionReceipt(models.Model):
    """What a deletion removed and when. Kept without a user link: the user may be gone."""

    user_email_hash = models.CharField(max_length=64, db_index=True)
    token = models.CharField(max_length=64, unique=True)
    scope = models.CharField(max_length=40)
    removed = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.scope} at {self.created_at:%Y-%m-%d %H:%M}"


class TermsAcceptance(models.Model):
    """One person accepting one version of the terms and privacy notice (accounts.terms)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="terms_acceptances")
    version = models.CharField(max_length=40)
    accepted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-accepted_at"]
        constraints = [models.UniqueConstraint(fields=["user", "version"], name="terms_accepted_once_per_version")]

    def __str__(self) -> str:
        return f"{self.user} accepted {self.version}"


class PhotoConsent(models.Model):
    """Explicit consent to process the face photos of one avatar (PIPL's separate consent, GDPR
    Art. 9). It goes with the avatar: withdrawing it is deleting the avatar (accounts.consent)."""

    avatar = models.OneToOneField("avatars.Avatar", on_delete=models.CASCADE, related_name="photo_consent")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="photo_consents")
    # The sentences the person agreed to, as shown, with the figures of that moment.
    statement = models.TextField()
    terms_version = models.CharField(max_length=40)
    given_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Photo consent for avatar {self.avatar_id}"


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
