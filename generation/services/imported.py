"""Imported responses: baselines whose outputs already exist (e.g. published Alpaca 65B or DaVinci003 outputs).

One JSONL row per response: `{"example_id": 12, "response": "..."}` or `{"prompt": "...", "response": "..."}`.
Rows are matched to the snapshot by example id or by the exact prompt text; unmatched rows are
reported (and not stored). A malformed row rejects the whole file with its line number, and so does
a file of which no row matches a prompt (it would leave an empty "completed" run).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import IO

from django.db import transaction
from django.utils import timezone

from annotation.datasets.lima_format import MAX_ERRORS, FormatError, RowError, load_json_row, text_lines
from annotation.input_limits import InputLimits
from annotation.datasets.models import Dataset
from generation.models import Backend, GenerationRun, ModelSpec, Response, RunStatus


@dataclass
class ImportedRun:
    run: GenerationRun
    matched: int
    unmatched: list[str] = field(default_factory=list)
    missing: int = 0


def _parse(stream: IO[bytes]) -> list[tuple[int, dict]]:
    records: list[tuple[int, dict]] = []
    errors: list[RowError] = []
    for line, text in text_lines(stream, limits=InputLimits.from_settings()):
        if not text.strip():
            continue
        record = load_json_row(text, line=line, errors=errors)
        if record is None:
            continue
        if not isinstance(record, dict):
            errors.append(RowError(line, "", "expected a JSON object"))
        elif not isinstance(record.get("response"), str):
            errors.append(RowError(line, "response", "missing or not a string"))
        elif not isinstance(record.get("example_id"), int) and not isinstance(record.get("prompt"), str):
            errors.append(RowError(line, "example_id", "each row needs an integer example_id or a prompt string"))
        else:
            records.append((line, record))
    if errors:
        raise FormatError(errors)
    if not records:
        raise FormatError([RowError(1, "", "the file holds no rows")])
    return records


def import_responses(*, model: ModelSpec, dataset: Dataset, stream: IO[bytes], user) -> ImportedRun:
    if model.backend != Backend.IMPORTED:
        raise FormatError([RowError(None, "model", f"{model.name} is not an imported model")])
    records = _parse(stream)
    rows = list(dataset.rows.all())
    by_example = {row.example_id: row for row in rows if row.example_id}
    by_prompt = {}
    for row in rows:
        by_prompt.setdefault(row.conversations[0].strip(), row)
    matched, unmatched, seen = [], [], {}
    misses: list[RowError] = []
    for line, record in records:
        by_id = isinstance(record.get("example_id"), int)
        row = by_example.get(record["example_id"]) if by_id else by_prompt.get(record["prompt"].strip())
        if row is None:
            unmatched.append(f"line {line}: no prompt of {dataset.name} matches")
            misses.append(RowError(line, "example_id" if by_id else "prompt", f"no prompt of {dataset.name} matches"))
            continue
        if row.pk in seen:
            raise FormatError([RowError(line, "", f"a second response for the prompt of line {seen[row.pk]}")])
        seen[row.pk] = line
        matched.append((row, record["response"]))
    if not matched:
        raise FormatError(misses[:MAX_ERRORS], truncated=len(misses) > MAX_ERRORS)
    with transaction.atomic():
        run = GenerationRun.objects.create(
            model=model, dataset=dataset, decoding={}, total=len(rows), created_by=user, status=RunStatus.COMPLETED,
            started_at=timezone.now(), finished_at=timezone.now(),
            environment={"backend": "imported", "matched": len(matched), "unmatched": len(unmatched)},
        )
        Response.objects.bulk_create(Response(run=run, row=row, text=text, finish_reason="imported") for row, text in matched)
        if len(matched) < len(rows):
            run.total = len(matched)
            run.environment["missing_prompts"] = len(rows) - len(matched)
            run.save(update_fields=["total", "environment"])
    return ImportedRun(run=run, matched=len(matched), unmatched=unmatched, missing=len(rows) - len(matched))
