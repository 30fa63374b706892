"""Load an `export_all` file into a freshly migrated, empty database (all or nothing)."""

import gzip
import shutil
import tempfile
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from annotation.models import Example


class Command(BaseCommand):
    help = "Restore an export_all file into an empty database."

    def add_arguments(self, parser):
        parser.add_argument("input")

    def handle(self, *args, input, **options):
        if Example.objects.exists() or get_user_model().objects.exists():
            raise CommandError("the database is not empty: restore into a freshly migrated database")
        path = Path(input)
        with tempfile.TemporaryDirectory() as tmp:
            plain = Path(tmp) / "export.json"
            if path.suffix == ".gz":
                with gzip.open(path, "rb") as source, plain.open("wb") as target:
                    shutil.copyfileobj(source, target)
            else:
                shutil.copyfile(path, plain)
            with transaction.atomic():
                # The data migration made the role groups and Table 1 quotas; the export holds the real ones.
                from annotation.models import Quota
                from django.contrib.auth.models import Group

                Quota.objects.all().delete()
                Group.objects.all().delete()
                call_command("loaddata", str(plain), verbosity=0)
        self.stdout.write(self.style.SUCCESS(f"Restored {path}"))
