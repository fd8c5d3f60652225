"""The orphan sweep: stored files no row points to go, and it says which; files of rows, and
files younger than an upload in flight, stay."""

import io
import os
import time

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django_q.models import Schedule

from avatars.services import media_orphans_delete
from avatars.tasks import media_orphans_delete as scheduled_sweep
from styles.models import StyleExample
from tests.factories import (
    AvatarFactory,
    PhotoFactory,
    PortraitFactory,
    StyleTemplateFactory,
    TemplateRequestFactory,
)

pytestmark = pytest.mark.django_db

DAY = 24 * 3600


def _files(media_root) -> set[str]:
    return {str(path.relative_to(media_root)) for path in media_root.rglob("*") if path.is_file()}


def _age(media_root, name: str, *, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(media_root / name, (then, then))


def _every_kind_of_referenced_file() -> set[str]:
    avatar = AvatarFactory()
    photo = PhotoFactory(avatar=avatar)
    photo.image.save("selfie.jpg", ContentFile(b"selfie"), save=True)
    avatar.lora_file.save("avatar.safetensors", ContentFile(b"lora"), save=True)
    portrait = PortraitFactory(avatar=avatar)
    portrait.web_image.save("web.png", ContentFile(b"web"), save=True)
    template = StyleTemplateFactory()
    template.cover_image.save("cover.png", ContentFile(b"cover"), save=True)
    template.reference_image.save("reference.png", ContentFile(b"reference"), save=True)
    example = StyleExample.objects.create(template=template, image=ContentFile(b"example", name="example.png"))
    request = TemplateRequestFactory()
    request.reference_image.save("look.png", ContentFile(b"look"), save=True)
    return {
        photo.image.name, avatar.lora_file.name, *portrait.stored_file_names, template.cover_image.name,
        template.reference_image.name, example.image.name, request.reference_image.name,
    }


def test_the_sweep_deletes_old_files_no_row_points_to_and_reports_them(private_media, settings):
    settings.LIKENESS_ORPHAN_MEDIA_MIN_AGE_HOURS = 24
    referenced = _every_kind_of_referenced_file()
    orphans = {
        default_storage.save("uploads/0123456789abcdef/left-behind.jpg", ContentFile(b"a selfie")),
        default_storage.save("requests/forgotten.png", ContentFile(b"a face")),
    }
    in_flight = default_storage.save("portraits/fedcba9876543210/being-written.png", ContentFile(b"a render"))
    for name in referenced | orphans:
        _age(private_media, name, seconds=2 * DAY)
    _age(private_media, in_flight, seconds=23 * 3600)
    output = io.StringIO()

    call_command("media_orphans_delete", stdout=output)

    assert _files(private_media) == referenced | {in_flight}
    assert sorted(line.removeprefix("deleted ") for line in output.getvalue().splitlines()[:-1]) == sorted(orphans)
    assert output.getvalue().splitlines()[-1] == "2 file(s) no row points to: deleted."
    # The folder a stray selfie was alone in goes with it.
    assert not (private_media / "uploads" / "0123456789abcdef").exists()


def test_the_sweep_deletes_folders_left_empty_long_ago_and_keeps_young_ones(private_media):
    left_empty = private_media / "portraits" / "0123456789abcdef"
    left_empty.mkdir(parents=True)
    just_made = private_media / "uploads" / "fedcba9876543210"
    just_made.mkdir(parents=True)
    for folder in (left_empty, left_empty.parent, just_made.parent):
        then = time.time() - 2 * DAY
        os.utime(folder, (then, then))
    output = io.StringIO()

    call_command("media_orphans_delete", stdout=output)

    assert output.getvalue().splitlines() == [
        "deleted portraits/0123456789abcdef/", "0 file(s) no row points to and 1 empty folder(s): deleted.",
    ]
    assert not left_empty.exists()
    # An upload's folder is made a moment before its file: a young one stays.
    assert just_made.is_dir()


def test_a_dry_run_lists_and_deletes_nothing(private_media):
    _every_kind_of_referenced_file()
    orphan = default_storage.save("avatars/0123/old.safetensors", ContentFile(b"lora"))
    _age(private_media, orphan, seconds=30 * DAY)
    before = _files(private_media)
    output = io.StringIO()

    call_command("media_orphans_delete", "--dry-run", stdout=output)

    assert output.getvalue().splitlines() == [f"would delete {orphan}", "1 file(s) no row points to: would delete."]
    assert _files(private_media) == before


def test_the_sweep_is_scheduled_daily_and_returns_what_it_removed(private_media):
    schedule = Schedule.objects.get(func="avatars.tasks.media_orphans_delete")
    assert (schedule.schedule_type, schedule.repeats) == (Schedule.DAILY, -1)
    orphan = default_storage.save("portraits/abc/old.png", ContentFile(b"render"))
    _age(private_media, orphan, seconds=3 * DAY)

    assert scheduled_sweep() == [orphan]
    assert media_orphans_delete() == []
