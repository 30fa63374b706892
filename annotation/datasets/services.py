"""Dataset writes: atomic import of GAIR/lima JSONL or CSV, and freezing approved examples into a snapshot."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import IO

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from annotation.datasets import lima_format
from annotation.datasets.attribution import attribution_of
from annotation.models import Example, ExampleRevision, Role, Status, Turn, conversation_hash
from annotation.datasets.models import Dataset, DatasetRow
from annotation.input_limits import InputLimits

IMPORT_BATCH = 500
# Key of the PostgreSQL advisory lock that example imports hold for their transaction (any constant
# shared by every process works; these are the bytes of "lima").
IMPORT_LOCK_KEY = 0x6C696D61


@dataclass(frozen=True)
class DuplicateRow:
    """A row left out because its conversation is already stored (`example_id`) or came earlier in the file (`first_line`)."""

    line: int
    example_id: int | None = None
    first_line: int | None = None

    def __str__(self) -> str:
        if self.example_id is not None:
            return f"line {self.line}: already stored as example {self.example_id}"
        return f"line {self.line}: same conversation as line {self.first_line}"


@dataclass(frozen=True)
class ImportResult:
    created: int
    by_split: dict[str, int]
    duplicates: list[DuplicateRow] = field(default_factory=list)

    def summary(self) -> str:
        """What an importer is told: created examples per split and, never silently, the duplicates skipped."""
        counts = ", ".join(f"{n} {split}" for split, n in sorted(self.by_split.items()))
        text = f"Imported {self.created} examples" + (f" ({counts})" if counts else "")
        if self.duplicates:
            shown = "; ".join(str(duplicate) for duplicate in self.duplicates[:5])
            more = f"; and {len(self.duplicates) - 5} more" if len(self.duplicates) > 5 else ""
            text += f"; {len(self.duplicates)} duplicates skipped ({shown}{more})"
        return text


def parse_upload(stream: IO[bytes], *, filename: str, default_split: str) -> list[lima_format.ParsedRow]:
    """Parse by file extension; raises lima_format.FormatError with line numbers on any bad row."""
    name = filename.lower()
    limits = InputLimits.from_settings()
    if name.endswith(".csv"):
        return lima_format.parse_csv(stream, default_split=default_split, limits=limits)
    if name.endswith((".jsonl", ".json", ".ndjson")):
        return lima_format.parse_jsonl(stream, default_split=default_split, limits=limits)
    raise lima_format.FormatError([lima_format.RowError(0, "file", f"{filename!r}: expected a .jsonl or .csv file")])


def _lock_example_imports() -> None:
    """Serialise example imports until the transaction ends, so two uploads of one file at once cannot
    both find its conversations missing. SQLite (the embedded setup) has a single writer already: a
    second import waits or fails with "database is locked", never duplicates."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [IMPORT_LOCK_KEY])


def _new_rows(rows: list[lima_format.ParsedRow]) -> tuple[list[tuple[lima_format.ParsedRow, str]], list[DuplicateRow]]:
    """Rows whose normalised conversation is neither stored nor earlier in the file, with their hashes; and the rest."""
    hashes = [conversation_hash(row.conversations) for row in rows]
    unique = list(dict.fromkeys(hashes))
    stored: dict[str, int] = {}
    for start in range(0, len(unique), IMPORT_BATCH):
        stored.update(Example.objects.filter(content_hash__in=unique[start:start + IMPORT_BATCH])
                      .order_by("-pk").values_list("content_hash", "pk"))
    fresh: list[tuple[lima_format.ParsedRow, str]] = []
    duplicates: list[DuplicateRow] = []
    first_line: dict[str, int] = {}
    for row, digest in zip(rows, hashes):
        if digest in stored:
            duplicates.append(DuplicateRow(line=row.line, example_id=stored[digest]))
        elif digest in first_line:
            duplicates.append(DuplicateRow(line=row.line, first_line=first_line[digest]))
        else:
            first_line[digest] = row.line
            fresh.append((row, digest))
    return fresh, duplicates


def import_examples(*, rows: list[lima_format.ParsedRow], user, status: str, author_group: str = "",
                    provenance: dict | None = None) -> ImportResult:
    """Create one example per parsed row whose conversation is not stored yet, all or nothing.

    Duplicates (same conversation after normalisation, see `conversation_hash`) are skipped and
    reported; imports run one at a time, so concurrent uploads of one file store it once.
    """
    if status not in Status.values:
        raise ValidationError({"status": f"unknown status {status!r}"})
    now = timezone.now()
    by_split: dict[str, int] = {}
    with transaction.atomic():
        _lock_example_imports()
        fresh, duplicates = _new_rows(rows)
        for start in range(0, len(fresh), IMPORT_BATCH):
            batch = [row for row, _ in fresh[start:start + IMPORT_BATCH]]
            examples = Example.objects.bulk_create(
                Example(
                    split=row.split, source=row.source, status=status, is_refusal=row.is_refusal,
                    is_multi_turn=len(row.conversations) > 2, title=row.title, created_by=user, text_edited_by=user,
                    author_group=author_group, provenance={**(provenance or {}), "line": row.line}, content_hash=digest,
                    reviewed_by=user if status == Status.APPROVED else None,
                    reviewed_at=now if status == Status.APPROVED else None,
                )
                for row, digest in fresh[start:start + IMPORT_BATCH]
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
    return ImportResult(created=len(fresh), by_split=by_split, duplicates=duplicates)


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
                conversations=conversations, is_refusal=example.is_refusal, is_sensitive=example.is_sensitive,
                attribution=attribution_of(example.provenance),
            )
            for position, (example, conversations) in enumerate(rows)
        )
    return dataset
