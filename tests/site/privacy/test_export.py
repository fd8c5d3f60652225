"""Download my data: one zip of every portrait, each avatar's LoRA with a README, the orders and
refunds, the consent and terms records; and the deletion receipt as a file and an email."""

import io
import json
import zipfile
from datetime import UTC, datetime

import pytest
from django.core import mail
from django.core.files.base import ContentFile
from django.urls import reverse
from PIL import Image
from rest_framework.test import APIClient

from accounts.models import User
from avatars.models import Avatar
from orders.models import Order, Refund
from portrait_site.privacy.deletion import user_delete_everything
from tests.factories import (
    AvatarFactory,
    OrderFactory,
    PhotoFactory,
    PortraitFactory,
    TemplateRequestFactory,
    TemplateVoteFactory,
    UserFactory,
)
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
        f"{folder}/portraits/{first.template.slug}-original-1-{first.public_id.hex[:8]}.json"))
    assert first_json["seed"] == 42 and first_json["likeness_score"] == 81.5
    assert first_json["parameters"] == {"prompt": "a photo of lks1234 woman", "steps": 2}
    assert first_json["shown_as_style_example"] == []
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


def test_the_zip_holds_the_persons_style_requests_with_their_reference_images_and_votes(client):
    user, _, _ = person_with_everything()
    mine = TemplateRequestFactory(author=user, title="Rainy Tokyo street", description="Neon in the rain.",
                                  reference_image=ContentFile(png_bytes((1, 2, 3)), name="r.png"))
    TemplateVoteFactory(request=mine)
    theirs = TemplateRequestFactory(title="Someone else's idea")
    TemplateVoteFactory(user=user, request=theirs)
    TemplateRequestFactory(title="Not mine at all", reference_image=ContentFile(png_bytes(), name="n.png"))
    client.force_login(user)

    archive = open_zip(client.get(reverse("accounts:my_data_download")))

    [request] = json.loads(archive.read("style_requests.json"))
    assert (request["title"], request["description"], request["status"], request["votes"]) == (
        "Rainy Tokyo street", "Neon in the rain.", "open", 1)
    assert archive.read(request["reference_image"]) == png_bytes((1, 2, 3))
    assert [name for name in archive.namelist() if name.startswith("style_requests/")] == [request["reference_image"]]
    [vote] = json.loads(archive.read("style_votes.json"))
    assert vote["request"] == "Someone else's idea" and vote["voted_at"]
    assert "style_votes.json" in archive.read("README.txt").decode()


def test_the_readmes_are_in_the_readers_language_and_their_times_in_the_readers_zone(client):
    user, ready, _ = person_with_everything()
    Avatar.objects.filter(pk=ready.pk).update(trained_at=datetime(2026, 12, 1, 20, 17, tzinfo=UTC))
    User.objects.filter(pk=user.pk).update(language="zh-hans", time_zone="Asia/Shanghai")
    client.force_login(user)

    archive = open_zip(client.get(reverse("accounts:my_data_download")))

    readme = archive.read("README.txt").decode()
    lora_readme = archive.read(f"avatars/summer-me-{ready.public_id.hex[:8]}/lora/README.md").decode()
    assert "压缩包里有什么" in readme and "(Asia/Shanghai 时间)" in readme.replace("（", "(").replace("）", ")")
    assert "What is in here" not in readme
    # 20:17 UTC on 1 December is 04:17 on 2 December in Shanghai, and says so.
    assert "训练完成于： 2026-12-02 04:17 (Asia/Shanghai)" in lora_readme
    assert "微型引擎：并非真实模型" in lora_readme and "Load it with diffusers" not in lora_readme
    assert "UTC" not in lora_readme


def test_the_readme_names_the_sdxl_pipeline_and_the_real_base_model(client, settings):
    settings.LIKENESS_BASE_MODEL = "/models/my-sdxl-finetune"
    settings.LIKENESS_MODEL_FAMILY = "sdxl"
    user, ready, _ = person_with_everything()
    Avatar.objects.filter(pk=ready.pk).update(engine_label="/models/my-sdxl-finetune")
    client.force_login(user)

    archive = open_zip(client.get(reverse("accounts:my_data_download")))
    readme = archive.read(f"avatars/summer-me-{ready.public_id.hex[:8]}/lora/README.md").decode()

    assert "StableDiffusionXLPipeline" in readme and '"/models/my-sdxl-finetune"' in readme
    assert "Base family: SDXL" in readme and "tiny engine" not in readme


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


def test_archives_are_limited_per_person_the_export_and_portrait_zips_together(client, settings):
    settings.LIKENESS_ARCHIVES_PER_HOUR = 2
    owner = UserFactory()
    ready = AvatarFactory(user=owner, status=Avatar.Status.READY)
    PortraitFactory(avatar=ready, image__data=png_bytes())
    client.force_login(owner)
    export_url = reverse("accounts:my_data_download")
    zip_url = reverse("avatars:portraits_download_all", args=[ready.public_id])

    statuses = [client.get(export_url).status_code, client.get(zip_url).status_code]
    refused_zip, refused_export = client.get(zip_url), client.get(export_url)
    other = UserFactory()
    client.force_login(other)

    assert statuses == [200, 200]
    assert refused_zip.status_code == 429 and refused_export.status_code == 429
    assert "2 archives this hour already" in refused_zip.content.decode()
    # Another person's archives are their own.
    assert client.get(export_url).status_code == 200
