"""The sweep of stored files that no row points to."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.apps import apps
from django.conf import settings
from django.core.files.storage import default_storage
from django.db.models import FileField
from django.utils import timezone

from portrait_site.core.files import storage_delete_files, storage_empty_folders_delete, storage_walk

logger = logging.getLogger(__name__)


def media_names_referenced() -> set[str]:
    """Every stored file name a row points to: each FileField and ImageField of every model
    (photos, LoRA files, both files of a portrait, style pictures, reference images). Receipts
    and exports are made on the fly and never stored."""
    names = set()
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, FileField):
                names.update(model._base_manager.exclude(**{field.attname: ""}).values_list(field.attname, flat=True))
    names.discard(None)
    return names


def media_orphans_delete(*, now=None, dry_run: bool = False) -> list[str]:
    """Delete the stored files no row points to (a deletion that failed half-way, a row deleted
    around its services) and return their names.

    A file younger than settings.LIKENESS_ORPHAN_MEDIA_MIN_AGE_HOURS is never touched: an upload
    or a render writes its file before the row that names it commits. On local storage, folders
    left empty as long are deleted too, and listed with a trailing "/". `dry_run` lists the files only.
    """
    cutoff = (now or timezone.now()) - timedelta(hours=settings.LIKENESS_ORPHAN_MEDIA_MIN_AGE_HOURS)
    listed = list(storage_walk())
    # Read after the listing: a row that committed while the listing ran still saves its file.
    referenced = media_names_referenced()
    orphans = []
    for name in listed:
        if name in referenced:
            continue
        try:
            modified = default_storage.get_modified_time(name)
        except FileNotFoundError:
            continue
        if modified < cutoff:
            orphans.append(name)
    if dry_run:
        return orphans
    failed = set(storage_delete_files(orphans))
    removed = [name for name in orphans if name not in failed]
    removed += storage_empty_folders_delete(untouched_since=cutoff)
    if removed:
        logger.info("The orphan sweep deleted %d stored files and empty folders no row pointed to", len(removed))
    return removed
