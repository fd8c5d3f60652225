"""Download my data: one zip of every portrait, each avatar's LoRA with a README, the orders and
refunds, the consent and terms records; and the deletion receipt as a file and an email."""

import io
import json
import zipfile

import pytest
from django.core import mail
from django.core.files.base import ContentFile
from django.urls import reverse
from PIL import Image
from rest_framework.test import APIClient

from avatars.models import Avatar
from orders.models import Order, Refund
from portrait_site.privacy.deletion import user_delete_everything
from tests.factories import AvatarFactory, OrderFactory, PhotoFactory, PortraitFactory, UserFactory
from tests.tiny_lora import lora_output_change, tiny_avatar_lora

pytestmark = pytest.mark.django_db


def png_bytes(colour=(120, 80, 60), size=(96, 128)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def person_with_everything(lora_bytes: bytes = b"\0" * 2048):
    user = UserFactory(email="keeper@example.com")
    ready = AvatarFactory(user=user, name="Summer me", status=Avatar.Status.READY, identity_token="lks1234",
                          subject_class="woman", engine_label="tiny engine: not a real model")
    ready.lora_file.save("avatar.safetensors", ContentFile(lora_bytes))
    first = PortraitFactory(avatar=ready, image=ContentFile(png_bytes(), name="p.png"), width=96, height=128,
                            seed=42, likeness_score=81.5, parameters={"prompt": "a photo of lks1234 woman", "steps": 2})
    PortraitFactory(avatar=ready, template=first.template, image=ContentFile(png_bytes((10, 20, 30)), name="q.png"),
                    version=2, more_like_me_of=first, parameters={"lora_scale": 1.0})
    collecting = AvatarFactory(user=user, name="Work me")
    PhotoFactory(avatar=collecting, image=ContentFile(b"a selfie", name="s.jpg"))
    order = OrderFactory(user=user, avatar=ready, status=Order.Status.REFUNDED, stripe_payment_intent_id="pi_42")
    Refund.objects.create(order=order, amount=order.amount, currency=order.currency,
                          reason="Every first portrait failed", status=Refund.Status.SUCCEEDED)
    return user, ready, first


def open_zip(response) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def test_the_zip_holds_portraits_with_parameters_the_lora_with_a_readme_orders_and_records(client):
    user, ready, first = person_with_everything()
    UserFactory()  # someone else, whose nothing must appear
    client.force_login(user)

    response = client.get(reverse("accounts:my_data_download"))

    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith('attachment; filename="likeness-my-data-')
    archive = open_zip(response)
    names = archive.namelist()
    folder = f"avatars/summer-me-{ready.public_id.hex[:8]}"
    pngs = sorted(name for name in names if name.endswith(".png"))
    assert len(pngs) == 2 and all(name.startswith(f"{folder}/portraits/") for name in pngs)
    assert {archive.read(name) for name in pngs} == {png_bytes(), png_bytes((10, 20, 30))}
    with Image.open(io.BytesIO(archive.read(pngs[0]))) as image:
        assert image.size == (96, 128)
    first_json = json.loads(archive.read(
        f"{folder}/portraits/{first.template.slug}-v1-{first.public_id.hex[:8]}.json"))
    assert first_json["seed"] == 42 and first_json["likeness_score"] == 81.5
    assert first_json["parameters"] == {"prompt": "a photo of lks1234 woman", "steps": 2}
    assert archive.read(f"{folder}/lora/avatar.safetensors") == b"\0" * 2048
    readme = archive.read(f"{folder}/lora/README.md").decode()
    assert "load_lora_weights" in readme and "lks1234 woman" in readme and "StableDiffusionPipeline" in readme
    assert "tiny engine: not a real model" in readme

    orders = json.loads(archive.read("orders.json"))
    assert orders[0]["status"] == "refunded" and orders[0]["payment_reference"] == "pi_42"
    assert orders[0]["refunds"][0]["reason"] == "Every first portrait failed"
    consents = json.loads(archive.read("photo_consents.json"))
    assert {consent["avatar"] for consent in consents} == {"Summer me", "Work me"}
    terms = json.loads(archive.read("terms_acceptances.json"))
    assert [acceptance["version"] for acceptance in terms] == [ready.user.terms_acceptances.get().version]
    assert json.loads(archive.read("account.json"))["email"] == "keeper@example.com"
    assert "Your uploaded photos" in archive.read("README.txt").decode()
    # Photos are not in it: they are deleted once trained, and a collecting avatar's are on its page.
    assert not [name for name in names if name.endswith(".jpg")]
    assert sum(1 for name in names if name.endswith("avatar.json")) == 2


def test_the_readme_names_the_sdxl_pipeline_and_the_real_base_model(client, settings):
    settings.LIKENESS_BASE_MODEL = "/models/my-sdxl-finetune"
    settings.LIKENESS_MODEL_FAMILY = "sdxl"
    user, ready, _ = person_with_everything()
    Avatar.objects.filter(pk=ready.pk).update(engine_label="/models/my-sdxl-finetune")
    client.force_login(user)

    archive = open_zip(client.get(reverse("accounts:my_data_download")))
    readme = archive.read(f"avatars/summer-me-{ready.public_id.hex[:8]}/lora/README.md").decode()

    assert "StableDiffusionXLPipeline" in readme and '"/models/my-sdxl-finetune"' in readme
    assert "Stable Diffusion XL 1.0" in readme and "tiny engine" not in readme


def test_the_api_gives_the_same_zip():
    user, _, _ = person_with_everything()
    api = APIClient()
    api.force_authenticate(user)

    response = api.get("/api/v1/me/export/")

    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert "orders.json" in open_zip(response).namelist()


@pytest.mark.slow  # trains a LoRA for four steps on the tiny engine
def test_the_zipped_lora_loads_with_diffusers_and_changes_the_tiny_pipelines_output(client, tmp_path):
    user, ready, _ = person_with_everything(lora_bytes=tiny_avatar_lora())
    client.force_login(user)

    archive = open_zip(client.get(reverse("accounts:my_data_download")))
    archive.extractall(tmp_path)
    lora = tmp_path / f"avatars/summer-me-{ready.public_id.hex[:8]}/lora/avatar.safetensors"

    assert lora_output_change(lora) > 1e-3


def test_a_deletion_receipt_downloads_as_a_text_file(client):
    user, ready, _ = person_with_everything()
    client.force_login(user)
    deleted = client.post(reverse("accounts:avatar_delete", args=[ready.public_id]), {"confirm": "on"})
    token = deleted.url.rstrip("/").rsplit("/", 1)[1]

    page = client.get(deleted.url)
    response = client.get(reverse("accounts:receipt_download", args=[token]))
    missing = client.get(reverse("accounts:receipt_download", args=["no-such-token"]))

    assert reverse("accounts:receipt_download", args=[token]) in page.content.decode()
    assert response.status_code == 200 and response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="likeness-deletion-receipt-')
    text = response.content.decode()
    assert "An avatar is deleted" in text and "Avatars: Summer me" in text and token in text
    assert [line.split() for line in text.splitlines() if line.strip().endswith("Portraits")] == [["2", "Portraits"]]
    assert missing.status_code == 404


def test_deleting_everything_mails_the_receipt_to_the_address_that_goes(django_capture_on_commit_callbacks):
    user, _, _ = person_with_everything()

    with django_capture_on_commit_callbacks(execute=True):
        receipt = user_delete_everything(user=user)

    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["keeper@example.com"]
    body = mail.outbox[0].body
    assert "Everything is deleted" in body and receipt.token in body
    assert "Your consents and terms acceptances" in body


def test_a_mail_server_that_is_down_does_not_undo_the_deletion(django_capture_on_commit_callbacks, monkeypatch):
    user, _, _ = person_with_everything()

    def refuse(*args, **kwargs):
        raise ConnectionRefusedError("no mail server")

    monkeypatch.setattr("django.core.mail.backends.locmem.EmailBackend.send_messages", refuse)
    with django_capture_on_commit_callbacks(execute=True):
        user_delete_everything(user=user)

    assert not type(user).objects.filter(pk=user.pk).exists()
