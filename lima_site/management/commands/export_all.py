"""Export everything (accounts, examples, datasets, models, runs, responses, studies, judgments,
training runs) as one JSON file that `restore_all` loads into an empty database.

Django's own serialisation (dumpdata) with natural keys, so the file does not depend on
content-type ids and restores into any freshly migrated database, PostgreSQL or SQLite.
"""

import gzip
from pathlib import Path

from django.core.management import call_command
from django.core.management.base import BaseCommand

APPS = ["auth.group", "auth.user", "authtoken", "annotation", "datasets", "generation", "evaluation", "training", "orchestration"]


class Command(BaseCommand):
    help = "Write every example, response, judgment and run to a (gzipped) JSON file."

    def add_arguments(self, parser):
        parser.add_argument("output", help="file to write; .gz compresses it")

    def handle(self, *args, output, **options):
        path = Path(output)
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "wt", encoding="utf-8") as stream:
            # exact-json: Django's json, with timestamps to the microsecond (lima_site/exact_json.py).
            call_command("dumpdata", *APPS, format="exact-json", natural_foreign=True, natural_primary=True, indent=None,
                         stdout=stream)
        self.stdout.write(self.style.SUCCESS(f"Exported to {path} ({path.stat().st_size:,} bytes)"))
