"""`python manage.py media_orphans_delete [--dry-run]`: delete the stored files no row points to,
older than LIKENESS_ORPHAN_MEDIA_MIN_AGE_HOURS (and, on local storage, folders left empty as
long), and list each one. The schedule runs it daily."""

from django.core.management.base import BaseCommand

from avatars.services import media_orphans_delete


class Command(BaseCommand):
    help = "Delete stored media files that no row points to (older than LIKENESS_ORPHAN_MEDIA_MIN_AGE_HOURS)."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="list the files, delete nothing")

    def handle(self, *args, dry_run: bool = False, **options):
        names = media_orphans_delete(dry_run=dry_run)
        verb = "would delete" if dry_run else "deleted"
        for name in names:
            self.stdout.write(f"{verb} {name}")
        folders = sum(name.endswith("/") for name in names)
        summary = f"{len(names) - folders} file(s) no row points to"
        if folders:
            summary += f" and {folders} empty folder(s)"
        self.stdout.write(f"{summary}: {verb}.")
