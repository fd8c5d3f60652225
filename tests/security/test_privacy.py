"""Privacy, proven on storage and on every table.

Photos are gone after training, and the person is gone after "delete everything".

The real intake, training and rendering run on the tiny engine (inline jobs), then every
file left in the private media folder is hashed and every row of every model is read.
"""

import hashlib
import io
from importlib import import_module
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import models
from django.test import Client
from django.urls import reverse
from PIL import Image

from accounts.models import DeletionReceipt, User
from accounts.notices import notice_create
from accounts.tokens import api_token_create
from avatars import services
from avatars.models import Avatar, Photo, Portrait
from orders.models import Order
from orders.services import order_create_for_avatar, order_fulfil
from styles.models import TemplateRequest
from styles.services import template_request_create, template_request_vote_toggle
from tests.factories import StyleTemplateFactory, TemplateRequestFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.slow, pytest.mark.usefixtures("small_engine")]


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def stored_files(root: Path) -> dict[str, str]:
    """Every file in the private media folder: name -> content hash."""
    return {p.relative_to(root).as_posix(): digest(p.read_bytes()) for p in root.rglob("*") if p.is_file()}


def upload(avatar, path: Path) -> Photo:
    return services.photo_add(avatar=avatar, uploaded_file=SimpleUploadedFile(path.name, path.read_bytes()))


def landscape_png() -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.linear_gradient("L").resize((640, 480)).convert("RGB").save(buffer, format="PNG")
    return SimpleUploadedFile("mood.png", buffer.getvalue(), content_type="image/png")


def train(faces_dir, private_media, django_capture_on_commit_callbacks):
    """A person with a trained avatar and rendered portraits, and the hashes of every photo they gave us."""
    templates = [StyleTemplateFactory(), StyleTemplateFactory()]
    user = UserFactory(email="private.person@example.com")
    avatar = services.avatar_create(user=user, subject_class="man")
    uploaded = {}
    for path in sorted((faces_dir / "obama").glob("*.jpg")):
        uploaded[path.name] = digest(path.read_bytes())
        upload(avatar, path)
    kept = {
        p.image.name: digest(default_storage.open(p.image.name).read())
        for p in avatar.photos.exclude(image="")
    }
    assert len(kept) >= 3
    services.avatar_templates_set(avatar=avatar, templates=templates)
    order = order_create_for_avatar(user=user, avatar=avatar)
    with django_capture_on_commit_callbacks(execute=True):
        order_fulfil(order_id=order.pk, via="test")
    avatar.refresh_from_db()
    assert avatar.status == Avatar.Status.READY and avatar.portraits.count() == 2
    return {
        "user": user,
        "avatar": avatar,
        "order": order,
        "uploaded": uploaded,
        "kept": kept,
        "templates": templates,
    }


def check_no_uploaded_photo_is_left(trained, private_media):
    left = stored_files(private_media)

    photo_hashes = set(trained["uploaded"].values()) | set(trained["kept"].values())
    assert not photo_hashes & set(left.values())
    assert not set(trained["kept"]) & set(left)
    # What is left is the avatar's LoRA and its portraits (full size and web copy), nothing else.
    avatar = trained["avatar"]
    assert set(left) == {
        avatar.lora_file.name, *(name for p in avatar.portraits.all() for name in p.stored_file_names)
    }
    assert not Photo.objects.filter(avatar=avatar).exclude(image="").exists()
    assert not Photo.objects.filter(avatar=avatar, embedding__isnull=False).exists()


def _rows_pointing_at(model, field: models.Field, ids: set) -> int:
    return model._default_manager.filter(**{f"{field.attname}__in": ids}).count()


def test_photos_go_after_training_and_delete_everything_leaves_only_the_order_the_law_requires(
    client, private_media, faces_dir, django_capture_on_commit_callbacks
):
    # One training run serves both halves: it is the slow part.
    trained = train(faces_dir, private_media, django_capture_on_commit_callbacks)
    check_no_uploaded_photo_is_left(trained, private_media)

    user, avatar = trained["user"], trained["avatar"]
    files_of_others = stored_files(private_media)
    # Everything else a person can leave behind: a second avatar still collecting, a template
    # request with a reference image, votes, a notice, an API token, a signed-in session.
    second = services.avatar_create(user=user, name="Second")
    upload(second, faces_dir / "biden" / "biden-1.jpg")
    own_request = template_request_create(
        author=user, title="Rainy Tokyo night", reference_image=landscape_png()
    )
    template_request_vote_toggle(user=user, request_id=TemplateRequestFactory().pk)
    notice_create(user=user, message="Your style shipped")
    api_token_create(user=user, name="a script")
    client.force_login(user)
    # Signed in on a second device too: that session goes with the account, cached copy included.
    other_device = Client()
    other_device.force_login(user)
    other_device_session = other_device.cookies[settings.SESSION_COOKIE_NAME].value
    session_store = import_module(settings.SESSION_ENGINE).SessionStore
    assert session_store().exists(other_device_session)
    files_of_others = {
        name: h
        for name, h in files_of_others.items()
        if name not in {avatar.lora_file.name, *(n for p in avatar.portraits.all() for n in p.stored_file_names)}
    }
    files_of_user = set(stored_files(private_media)) - set(files_of_others)
    existed = {
        "avatars": 2,
        "photos": Photo.objects.filter(avatar__user=user).count(),
        "portraits": Portrait.objects.filter(avatar__user=user).count(),
        "lora_files": 1,
    }
    user_id, email = user.pk, user.email
    avatar_ids = set(Avatar.objects.filter(user=user).values_list("pk", flat=True))
    photo_ids = set(Photo.objects.filter(avatar__user=user).values_list("pk", flat=True))
    portrait_ids = set(Portrait.objects.filter(avatar__user=user).values_list("pk", flat=True))
    order_before = Order.objects.values().get(pk=trained["order"].pk)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("accounts:delete_everything"), {"email": email})

    assert response.status_code == 302
    receipt = DeletionReceipt.objects.get()
    assert response["Location"] == reverse("accounts:receipt", args=[receipt.token])
    # No file of theirs is left: the storage holds exactly what it held for others.
    assert stored_files(private_media) == files_of_others
    assert not TemplateRequest.objects.filter(pk=own_request.pk).exclude(reference_image="").exists()
    # The receipt lists what went, counted from what existed.
    removed = receipt.removed
    assert {key: removed[key] for key in existed} == existed
    assert removed["files"] + removed.get("reference_images", 0) == len(files_of_user)
    assert removed["account"] == 1 and removed["api_tokens"] == 1 and removed["notices"] == 1
    assert removed["votes"] == 2 and removed["sessions"] == 2
    assert removed["avatar_names"] == [avatar.name, "Second"]
    page = client.get(response["Location"]).content.decode()
    assert str(existed["photos"]) in page and email not in page

    # Every model, every row: nothing points at the person or their avatars, photos, portraits.
    pointing = []
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            target = field.related_model if field.is_relation else None
            ids = {User: {user_id}, Avatar: avatar_ids, Photo: photo_ids, Portrait: portrait_ids}.get(target)
            if ids and _rows_pointing_at(model, field, ids):
                pointing.append(f"{model._meta.label}.{field.name}")
        for row in model._default_manager.values():
            if email in str(row).lower():
                pointing.append(f"{model._meta.label} row {row.get('id')} holds the email")
    assert pointing == []
    assert not any(str(s.get_decoded().get("_auth_user_id")) == str(user_id) for s in Session.objects.all())
    assert not session_store().exists(other_device_session)
    assert other_device.get(reverse("avatars:home")).status_code == 302

    # The order stays for the books: amounts, dates and Stripe ids, with no link to the person.
    order = Order.objects.values().get(pk=trained["order"].pk)
    assert order["user_id"] is None and order["avatar_id"] is None
    kept_for_law = (
        "amount",
        "currency",
        "status",
        "created_at",
        "paid_at",
        "stripe_checkout_session_id",
        "stripe_payment_intent_id",
        "public_id",
    )
    assert {k: order[k] for k in kept_for_law} == {k: order_before[k] for k in kept_for_law}
    assert order["paid_at"] is not None
