"""factory_boy factories for every app, in one place."""

import factory
from django.conf import settings
from django.utils import timezone

from accounts.models import PhotoConsent, TermsAcceptance, User
from avatars.models import Avatar, Photo, Portrait, RenderJob, TrainingJob
from orders.models import Order
from styles.models import StyleTemplate, TemplateRequest, TemplateVote

PASSWORD = "correct horse battery staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)
    # A person as most tests need one: address verified, current terms accepted. The
    # unverified and not-yet-accepted paths pass email_verified_at=None / terms_accepted=False.
    email_verified_at = factory.LazyFunction(timezone.now)

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save()

    @factory.post_generation
    def terms_accepted(obj, create, extracted, **kwargs):
        if create and extracted is not False:
            TermsAcceptance.objects.create(user=obj, version=settings.LIKENESS_TERMS_VERSION)


class StyleTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StyleTemplate

    slug = factory.Sequence(lambda n: f"style-{n}")
    title = factory.Sequence(lambda n: f"Style {n}")
    prompt = "a realistic photo portrait of {identity}, soft window light, 85mm"
    negative_prompt = "cartoon, plastic skin, deformed"
    is_published = True
    steps = 2
    width = 64
    height = 64


class TemplateRequestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TemplateRequest

    title = factory.Sequence(lambda n: f"Requested style {n}")
    title_key = factory.LazyAttribute(lambda o: TemplateRequest.title_key_for(o.title))
    description = "Please add this look."
    author = factory.SubFactory(UserFactory)


class TemplateVoteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TemplateVote

    user = factory.SubFactory(UserFactory)
    request = factory.SubFactory(TemplateRequestFactory)


class AvatarFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Avatar
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory)

    @factory.post_generation
    def photo_consent(obj, create, extracted, **kwargs):
        """Consent given, as on the consent screen; AvatarFactory(photo_consent=False) for none."""
        if create and extracted is not False:
            PhotoConsent.objects.create(avatar=obj, user=obj.user, statement="(given in a test)",
                                        terms_version=settings.LIKENESS_TERMS_VERSION)


class PhotoFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Photo

    avatar = factory.SubFactory(AvatarFactory)
    status = Photo.Status.ACCEPTED
    original_name = factory.Sequence(lambda n: f"selfie-{n}.jpg")


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    user = factory.SubFactory(UserFactory)
    avatar = factory.SubFactory(AvatarFactory, user=factory.SelfAttribute("..user"))
    amount = factory.LazyFunction(lambda: settings.LIKENESS_PRICE_MINOR)
    currency = factory.LazyFunction(lambda: settings.LIKENESS_CURRENCY)


class TrainingJobFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TrainingJob

    avatar = factory.SubFactory(AvatarFactory)


class RenderJobFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RenderJob

    avatar = factory.SubFactory(AvatarFactory)
    template = factory.SubFactory(StyleTemplateFactory)


class PortraitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Portrait

    avatar = factory.SubFactory(AvatarFactory)
    template = factory.SubFactory(StyleTemplateFactory)
    image = factory.django.FileField(filename="portrait.png", data=b"not read in this test")
    seed = factory.Sequence(lambda n: n)
