"""The whole flow once on S3-compatible storage (moto's server): private objects, photos gone, downloads work.

The storage is built by portrait_site/settings/storage.py itself from LIKENESS_STORAGE=s3 and the
LIKENESS_S3_* variables (read fresh here), so the test covers the options production gets.
"""

import io
import os
import runpy
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import boto3
import pytest
from django.urls import reverse
from PIL import Image

from avatars.models import Avatar, Portrait
from tests.factories import UserFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

BUCKET = "likeness-private"
SETTINGS_FILE = Path(__file__).resolve().parents[2] / "portrait_site" / "settings" / "storage.py"


def unsigned_get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.fixture
def s3(settings):
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        credentials = {"aws_access_key_id": "likeness-test", "aws_secret_access_key": "likeness-test-secret"}
        # moto keeps its buckets in the process, across servers: start each test from none.
        urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", data=b"", method="POST"), timeout=10)
        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **credentials)
        client.create_bucket(Bucket=BUCKET)
        environment = {
            "LIKENESS_STORAGE": "s3",
            "LIKENESS_S3_BUCKET": BUCKET,
            "LIKENESS_S3_ENDPOINT_URL": endpoint,
            "LIKENESS_S3_REGION": "us-east-1",
            "LIKENESS_S3_ACCESS_KEY_ID": credentials["aws_access_key_id"],
            "LIKENESS_S3_SECRET_ACCESS_KEY": credentials["aws_secret_access_key"],
        }
        with mock.patch.dict(os.environ, environment):
            production = runpy.run_path(str(SETTINGS_FILE))
        settings.LIKENESS_STORAGE = "s3"
        settings.STORAGES = {**settings.STORAGES, "default": production["STORAGES"]["default"]}
        yield SimpleNamespace(client=client, endpoint=endpoint)
    finally:
        server.stop()


def keys(s3, prefix: str) -> set[str]:
    listing = s3.client.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return {item["Key"] for item in listing.get("Contents", [])}


def test_the_whole_flow_on_s3_keeps_every_object_private_and_no_photo_after_training(
    s3, paid_avatar, settings, client
):
    from avatars.gpu.worker import training_job_execute

    avatar = paid_avatar()
    photo_keys = set(avatar.photos.filter(status="accepted").values_list("image", flat=True))
    assert len(photo_keys) == 3 and keys(s3, "uploads/") == photo_keys

    # The job as the worker runs it; the renders it queues run at once, here.
    settings.LIKENESS_RUN_JOBS_INLINE = True
    training_job_execute(job_id=avatar.training_jobs.get().pk)

    avatar = Avatar.objects.get(pk=avatar.pk)
    assert avatar.status == Avatar.Status.READY
    portrait = Portrait.objects.get(avatar=avatar)
    assert keys(s3, "avatars/") == {avatar.lora_file.name}
    assert keys(s3, "portraits/") == set(portrait.stored_file_names)
    # The photos lived in the bucket until the avatar was trained, and not a moment longer.
    assert keys(s3, "uploads/") == set()

    for key in keys(s3, ""):
        grants = s3.client.get_object_acl(Bucket=BUCKET, Key=key)["Grants"]
        assert [grant["Permission"] for grant in grants] == ["FULL_CONTROL"]
        assert grants[0]["Grantee"]["Type"] == "CanonicalUser"
        assert unsigned_get(f"{s3.endpoint}/{BUCKET}/{key}") == 403
    # The refusal is the ACL's doing, not the server's: a public object is served to anyone.
    s3.client.put_object(Bucket=BUCKET, Key="control/public.txt", Body=b"public", ACL="public-read")
    assert unsigned_get(f"{s3.endpoint}/{BUCKET}/control/public.txt") == 200

    url = reverse("avatars:portrait_download", args=[portrait.public_id])
    client.force_login(UserFactory())
    assert client.get(url).status_code == 404
    client.force_login(avatar.user)
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    stored = s3.client.get_object(Bucket=BUCKET, Key=portrait.image.name)["Body"].read()
    # The download is the stored picture, pixel for pixel, with the engine written into its metadata.
    assert stored.startswith(b"\x89PNG")
    downloaded, kept = Image.open(io.BytesIO(response.content)), Image.open(io.BytesIO(stored))
    assert downloaded.tobytes() == kept.tobytes() and downloaded.size == kept.size


def test_the_orphan_sweep_works_on_s3_and_leaves_what_rows_name_and_young_files(s3):
    from datetime import timedelta

    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from django.utils import timezone

    from avatars.services import media_orphans_delete
    from tests.factories import PhotoFactory, PortraitFactory

    photo = PhotoFactory()
    photo.image.save("selfie.jpg", ContentFile(b"selfie"), save=True)
    portrait = PortraitFactory(avatar=photo.avatar)
    orphans = {
        default_storage.save("uploads/0123456789abcdef/left-behind.jpg", ContentFile(b"a selfie")),
        default_storage.save("avatars/0123456789abcdef/left-behind.safetensors", ContentFile(b"lora")),
    }
    kept = {photo.image.name, *portrait.stored_file_names}
    assert keys(s3, "") == kept | orphans

    # Every object was written just now: younger than an upload in flight, so none goes yet.
    assert media_orphans_delete() == []
    assert keys(s3, "") == kept | orphans

    # Two days on, the objects no row names go; the rows' stay.
    removed = media_orphans_delete(now=timezone.now() + timedelta(days=2))

    assert sorted(removed) == sorted(orphans)
    assert keys(s3, "") == kept
