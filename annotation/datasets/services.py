"""Dataset writes: atomic import of GAIR/lima JSONL or CSV, and freezing approved examples into a snapshot."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import IO

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from annotation.datasets import lima_format
from annotation.datasets.attribution import attribution_of
from annotation.models import Example, ExampleRevision, Role, Status, Turn
from annotation.datasets.models import Dataset, DatasetRow
from annotation.input_limits import InputLimits

IMPORT_BATCH = 500


@dataclass(frozen=True)
class ImportResult:
    created: int
    by_split: dict[str, int]


def parse_upload(stream: IO[bytes], *, filename: str, default_split: str) -> list[lima_format.ParsedRow]:
    """Parse by file extension; raises lima_format.FormatError with line numbers on any bad row."""
    name = filename.lower()
    limits = InputLimits.from_settings()
    if name.endswith(".csv"):
        return lima_format.parse_csv(stream, default_split=default_split, limits=limits)
    if name.endswith((".jsonl", ".json", ".ndjson")):
        return lima_format.parse_jsonl(stream, default_split=default_split, limits=limits)
    raise lima_format.FormatError([lima_format.RowError(0, "file", f"{filename!r}: expected a .jsonl or .csv file")])


def import_examples(*, rows: list[lima_format.ParsedRow], user, status: str, author_group: str = "",
                    provenance: dict | None = None) -> ImportResult:
    """Create one example per parsed row, all or nothing."""
    if status not in Status.values:
        raise ValidationError({"status": f"unknown status {status!r}"})
    now = timezone.now()
    by_split: dict[str, int] = {}
    with transaction.atomic():
        for start in range(0, len(rows), IMPORT_BATCH):
            batch = rows[start:start + IMPORT_BATCH]
            examples = Example.objects.bulk_create(
                Example(
                    split=row.split, source=row.source, status=status, is_refusal=row.is_refusal,
                    is_multi_turn=len(row.conversations) > 2, title=row.title, created_by=user,
                    author_group=author_group, provenance={**(provenance or {}), "line": row.line},
                    reviewed_by=user if status == Status.APPROVED else None,
                    reviewed_at=now if status == Status.APPROVED else None,
                )
                for row in batch
            )
            Turn.objects.bulk_create(
                Turn(example=example, position=position, role=Role.USER if position % 2 == 0 else Role.ASSISTANT, text=text)
                for example, row in zip(examples, batch)
                for position, text in enumerate(row.conversations)
            )
            ExampleRevision.objects.bulk_create(
                ExampleRevision(
                    example=example, version=1, action=ExampleRevision.Action.IMPORTED, user=user,
                    snapshot={
                        "split": row.split, "source": row.source, "status": status, "is_refusal": row.is_refusal,
                        "title": row.title,
                        "turns": [
                            {"role": Role.USER if i % 2 == 0 else Role.ASSISTANT, "text": text}
                            for i, text in enumerate(row.conversations)
                        ],
                    },
                )
                for example, row in zip(examples, batch)
            )
            for row in batch:
                by_split[row.split] = by_split.get(row.split, 0) + 1
    return ImportResult(created=len(rows), by_split=by_split)


def _conversations(examples) -> list[tuple[Example, list[str]]]:
    return [(example, [turn.text for turn in example.turns.all()]) for example in examples]


def freeze_dataset(*, name: str, split: str, user, description: str = "") -> Dataset:
    """Snapshot every approved example of a split; the hash covers the exact GAIR/lima JSONL bytes."""
    if Dataset.objects.filter(name=name).exists():
        raise ValidationError({"name": f"a dataset named {name!r} already exists; snapshots are immutable"})
    with transaction.atomic():
        examples = (
            Example.objects.filter(split=split, status=Status.APPROVED).order_by("id").prefetch_related("turns")
        )
        rows = _conversations(examples)
        if not rows:
            raise ValidationError({"split": f"there are no approved {split} examples to freeze"})
        digest = hashlib.sha256()
        for example, conversations in rows:
            digest.update(lima_format.dumps_jsonl_row(conversations=conversations, source=example.source).encode())
        dataset = Dataset.objects.create(
            name=name, split=split, description=description, content_hash=digest.hexdigest(),
            row_count=len(rows), created_by=user,
        )
        DatasetRow.objects.bulk_create(
            DatasetRow(
                dataset=dataset, position=position, example=example, source=example.source,
                conversations=conversations, is_refusal=example.is_refusal,
                attribution=attribution_of(example.provenance),
            )
            for position, (example, conversations) in enumerate(rows)
        )
    return dataset
