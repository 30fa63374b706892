"""The shared shape of the `import_*` commands: importer parameters as options, a tqdm bar, a per-rule summary."""

from __future__ import annotations

import argparse
import dataclasses

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from annotation.importers.batch import InputError
from annotation.services import curation


class ImportCommand(BaseCommand):
    """Subclasses set `importer`; every field of its parameter dataclass becomes a --option (defaults from the paper)."""

    importer = ""

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", help="dump file or folder")
        parser.add_argument("--user", default="", help="username recorded as the importer of the candidates")
        parser.add_argument("--dry-run", action="store_true", help="apply the rules and report, write nothing")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar (logs, CI)")
        for field in dataclasses.fields(curation.IMPORTERS[self.importer].params):
            default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
            option = "--" + field.name.replace("_", "-")
            if isinstance(default, bool):
                parser.add_argument(option, action=argparse.BooleanOptionalAction, default=None, help=f"(default {default})")
            elif isinstance(default, dict):
                parser.add_argument(option, action="append", metavar="NAME=VALUE", help="repeatable")
            elif isinstance(default, tuple):
                parser.add_argument(option, help=f"comma-separated (default {', '.join(default)})")
            else:
                parser.add_argument(option, type=type(default), help=f"(default {default})")

    def _parameters(self, options: dict) -> dict:
        parameters = {}
        for field in dataclasses.fields(curation.IMPORTERS[self.importer].params):
            value = options.get(field.name)
            if value is None:
                continue
            if isinstance(value, list):
                pairs = [item.split("=", 1) for item in value]
                if any(len(pair) != 2 for pair in pairs):
                    raise CommandError(f"--{field.name.replace('_', '-')} takes NAME=VALUE")
                value = {name.strip(): category.strip() for name, category in pairs}
            parameters[field.name] = value
        return parameters

    def handle(self, *args, **options) -> None:
        user = None
        if options["user"]:
            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"no user {options['user']!r}")
        bar = tqdm(total=0, unit="B", unit_scale=True, desc=self.importer, disable=options["no_progress"])

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        try:
            result = curation.import_and_save(importer=self.importer, path=options["path"], params=self._parameters(options),
                                              user=user, progress=progress, dry_run=options["dry_run"])
        except InputError as exc:
            raise CommandError(f"stopped, nothing was saved: {exc}") from exc
        except (ValidationError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        finally:
            bar.close()
        report = result.report
        self.stdout.write(f"{self.importer}: read {report['read']:,}, kept {report['kept']:,}, "
                          f"skipped {report['skipped_count']:,} malformed records")
        for rule, count in sorted(report["rejected"].items(), key=lambda item: -item[1]):
            self.stdout.write(f"  rejected by {rule}: {count:,}")
        for problem in report["skipped"][:20]:
            self.stdout.write(f"  skipped {problem}")
        verb = "would create" if options["dry_run"] else "created"
        self.stdout.write(self.style.SUCCESS(f"{verb} {result.created:,} candidates; {result.existing:,} were already imported"))
