"""Private files are private on the host too: only the account running Likeness reads them."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from avatars.models import Photo
from tests.factories import AvatarFactory

REPO_ROOT = Path(__file__).resolve().parents[2]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.django_db
def test_an_uploaded_photo_and_its_folders_are_readable_by_the_owner_only(private_media, faces_dir):
    avatar = AvatarFactory()
    api = APIClient()
    api.force_authenticate(avatar.user)
    selfie = sorted((faces_dir / "obama").iterdir())[0]

    response = api.post(
        f"/api/v1/avatars/{avatar.public_id}/photos/",
        {"photos": [SimpleUploadedFile("me.jpg", selfie.read_bytes(), content_type="image/jpeg")]},
        format="multipart",
    )

    assert response.status_code == 201, response.content
    stored = private_media / Photo.objects.get(avatar=avatar).image.name
    assert _mode(stored) == 0o600
    folders = [folder for folder in stored.parents if private_media in folder.parents]
    assert [folder.name for folder in folders] == [avatar.public_id.hex, "uploads"]
    assert {_mode(folder) for folder in folders} == {0o700}


def test_the_sqlite_database_and_its_folder_are_readable_by_the_owner_only(tmp_path):
    database = tmp_path / "var" / "likeness.sqlite3"
    # A shell's usual umask, as a service starts with: the site's own settings must narrow it.
    opened = subprocess.run(
        ["bash", "-c", 'umask 022 && exec "$0" -c "$1"', sys.executable,
         "import django; django.setup(); from django.db import connection; connection.ensure_connection()"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "portrait_site.settings",
             "DJANGO_SECRET_KEY": os.environ["DJANGO_SECRET_KEY"],
             "DATABASE_URL": f"sqlite:///{database}", "HOME": str(tmp_path)},
    )

    assert opened.returncode == 0, opened.stderr
    assert _mode(database) == 0o600
    assert _mode(database.parent) == 0o700
