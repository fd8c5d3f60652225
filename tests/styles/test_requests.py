"""Proposing a style: the checks on a template request's title, description and reference image, and duplicates."""

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction

from styles.models import TemplateRequest
from styles.services import (
    DuplicateTemplateRequest,
    template_request_create,
    template_request_vote_set,
)
from tests.factories import TemplateRequestFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_creating_a_request_casts_the_authors_single_vote():
    author = UserFactory()
    request = template_request_create(author=author, title="  Rainy   Tokyo night ", description="Neon, rain.")
    assert request.title == "Rainy Tokyo night"
    assert list(request.votes.values_list("user_id", flat=True)) == [author.pk]
    assert template_request_vote_set(user=author, request_id=request.pk, voted=True) == (True, 1)


@pytest.mark.parametrize("title, message", [
    ("", "Give the style a title."),
    ("   \n\t ", "Give the style a title."),
    ("x" * 121, "Keep the title to 120 characters (this one has 121)."),
    ("y" * 10_000, "Keep the title to 120 characters (this one has 10000)."),
])
def test_bad_titles_are_refused_with_a_clear_message(title, message):
    with pytest.raises(ValidationError) as refused:
        template_request_create(author=UserFactory(), title=title)
    assert refused.value.messages == [message]
    assert not TemplateRequest.objects.exists()


def test_a_title_of_exactly_120_characters_is_fine():
    assert len(template_request_create(author=UserFactory(), title="z" * 120).title) == 120


def test_too_long_description_is_refused():
    with pytest.raises(ValidationError, match="2000 characters"):
        template_request_create(author=UserFactory(), title="Long story", description="d" * 2001)


def test_the_same_title_in_other_case_and_spacing_is_a_duplicate_carrying_the_existing_request():
    existing = template_request_create(author=UserFactory(), title="Film Noir Detective")
    with pytest.raises(DuplicateTemplateRequest) as duplicate:
        template_request_create(author=UserFactory(), title="  film   noir DETECTIVE")
    assert duplicate.value.existing == existing
    assert TemplateRequest.objects.count() == 1


def test_a_declined_title_may_be_requested_again():
    declined = TemplateRequestFactory(title="Clown portraits", status=TemplateRequest.Status.DECLINED)
    again = template_request_create(author=UserFactory(), title="clown portraits")
    assert again.pk != declined.pk


def test_the_database_refuses_two_live_requests_with_the_same_title():
    TemplateRequestFactory(title="Snowy mountain")
    with pytest.raises(IntegrityError), transaction.atomic():
        TemplateRequestFactory(title="snowy  mountain")


def test_reference_images_that_are_not_pictures_are_refused():
    fake = SimpleUploadedFile("look.png", b"<?php echo 'hi'; ?>", content_type="image/png")
    with pytest.raises(ValidationError, match="could not be read as a picture"):
        template_request_create(author=UserFactory(), title="Look", reference_image=fake)
    assert not TemplateRequest.objects.exists()


def test_reference_images_over_the_size_caps_are_refused(make_upload, monkeypatch):
    with pytest.raises(ValidationError, match="4096 pixels"):
        template_request_create(author=UserFactory(), title="Wide", reference_image=make_upload(size=(4097, 8)))
    monkeypatch.setattr("styles.services.requests.REFERENCE_IMAGE_MAX_BYTES", 100)
    with pytest.raises(ValidationError, match="larger than 0 MB|larger than"):
        template_request_create(author=UserFactory(), title="Heavy", reference_image=make_upload(size=(200, 200)))


def test_reference_images_in_other_formats_are_refused(make_upload):
    with pytest.raises(ValidationError, match="JPEG, PNG or WebP"):
        template_request_create(author=UserFactory(), title="Gif", reference_image=make_upload(fmt="GIF"))



def test_a_good_reference_image_passes_the_checks_and_is_stored_re_encoded_without_exif(faces_dir):
    from PIL import Image

    photo = sorted(p for p in faces_dir.rglob("*.jp*g") if "multi" not in p.parts)[0]
    with Image.open(photo) as source:
        exif = Image.Exif()
        exif[0x010F] = "SecretCam"  # Make
        encoded = io.BytesIO()
        source.convert("RGB").save(encoded, format="JPEG", exif=exif.tobytes())
    upload = SimpleUploadedFile("look.jpg", encoded.getvalue(), content_type="image/jpeg")
    request = template_request_create(author=UserFactory(), title="Like this", reference_image=upload)
    with request.reference_image.open("rb") as stored, Image.open(stored) as image:
        assert image.format == "PNG"
        assert not image.getexif()
        assert b"SecretCam" not in request.reference_image.open("rb").read()


def test_an_unsafe_reference_image_is_refused(make_upload, monkeypatch):
    from avatars.engine import safety

    monkeypatch.setattr(safety, "nudity_verdict", lambda image: safety.NudityVerdict(
        is_safe=False, score=0.9, labels=["FEMALE_BREAST_EXPOSED"]))
    with pytest.raises(ValidationError, match="explicit content"):
        template_request_create(author=UserFactory(), title="Nope", reference_image=make_upload())
    assert not TemplateRequest.objects.exists()
