"""Private files: streaming one (a photo, a portrait) to its owner, one way for the pages and the
API; deleting them with the folders they leave empty."""

import logging
import os
import posixpath
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponse
from django.utils.http import content_disposition_header

logger = logging.getLogger(__name__)


def private_file_response(field_file, *, content_type: str, download_name: str | None = None) -> FileResponse:
    try:
        opened = field_file.open("rb")
    except FileNotFoundError:
        raise Http404("This file is no longer stored.") from None
    response = FileResponse(
        opened,
        content_type=content_type,
        as_attachment=download_name is not None,
        filename=download_name or "",
    )
    response["Cache-Control"] = "private, no-store"
    return response


# Archives built for download stay in memory up to this size, then go to disk: a person with
# many portraits makes a big zip, and many at once must not fill the web process's memory.
SPOOL_BYTES = 32 * 1024 * 1024


def private_spool_response(spool, *, content_type: str, download_name: str) -> FileResponse:
    """A private download streamed from a rewound spool (tempfile.SpooledTemporaryFile), which
    the response closes when it is sent."""
    response = FileResponse(spool, content_type=content_type, as_attachment=True, filename=download_name)
    response["Cache-Control"] = "private, no-store"
    return response


def private_bytes_response(content: bytes, *, content_type: str, download_name: str) -> HttpResponse:
    """A private download made on the fly (a zip, a file with its metadata written in)."""
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=download_name)
    response["Cache-Control"] = "private, no-store"
    return response


def storage_delete_files(names: list[str], *, storage=None) -> list[str]:
    """Delete stored files, then the folders they leave empty (a deleted avatar's
    `uploads/<id>/`, `portraits/<id>/`), up to the storage's root. Object stores have no
    folders, only names, so there the files are all. Returns the names that could not be
    deleted, each logged: the orphan sweep (avatars.services.media_orphans_delete) removes them later."""
    storage = storage or default_storage
    failed = []
    for name in names:
        try:
            storage.delete(name)
        except OSError:
            logger.exception("Could not delete %s; the orphan sweep removes it later", name)
            failed.append(name)
    storage_prune_empty_folders(names, storage=storage)
    return failed


def storage_prune_empty_folders(names: list[str], *, storage=None) -> None:
    storage = storage or default_storage
    try:
        root = Path(storage.path("")).resolve()
    except NotImplementedError:
        return
    folders = {Path(storage.path(name)).resolve().parent for name in names}
    for folder in sorted(folders, key=lambda path: len(path.parts), reverse=True):
        while folder != root and root in folder.parents:
            try:
                folder.rmdir()
            except OSError:
                # Not empty (another file of the folder's), or already gone with a deeper one.
                if folder.exists():
                    break
            folder = folder.parent


def storage_walk(folder: str = "", *, storage=None) -> Iterator[str]:
    """The name of every file in storage under `folder`, through the storage API: local folders
    and S3 prefixes alike."""
    storage = storage or default_storage
    folders, files = storage.listdir(folder)
    for name in files:
        yield posixpath.join(folder, name) if folder else name
    for name in folders:
        yield from storage_walk(posixpath.join(folder, name) if folder else name, storage=storage)


def storage_empty_folders_delete(*, untouched_since: datetime, storage=None) -> list[str]:
    """Delete the empty folders under a local storage's root that nothing changed since
    `untouched_since` (those deletions left before folders went with their files), and return
    their names, each ending in "/". Object stores have no folders: nothing to do there.

    A folder is made a moment before the upload's file is written into it: the age keeps the
    sweep from taking it away in between. A parent emptied now is a young folder: the next run takes it."""
    storage = storage or default_storage
    try:
        root = Path(storage.path("")).resolve()
    except NotImplementedError:
        return []
    removed = []
    for folder, _subfolders, _files in os.walk(root, topdown=False):
        path = Path(folder)
        if path == root or any(path.iterdir()):
            continue
        if datetime.fromtimestamp(path.stat().st_mtime, tz=UTC) >= untouched_since:
            continue
        try:
            path.rmdir()
        except OSError:
            continue  # a file arrived since the look
        removed.append(path.relative_to(root).as_posix() + "/")
    return removed
