"""Dataset writes: atomic import of GAIR/lima JSONL or CSV, and freezing approved examples into a snapshot."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import IO

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from annotation.datasets import formats, lima_format
from annotation.datasets.attribution import attribution_of
from annotation.models import Example, ExampleRevision, Role, Status, Turn, conversation_hash
from annotation.datasets.models import Dataset, DatasetRow
from annotation.input_limits import InputLimits
from annotation.services.contamination import contamination_report, matches_touching

IMPORT_BATCH = 500
# Key of the PostgreSQL advisory lock that example imports hold for their transaction (any constant
# shared by every process works; these are the bytes of "lima").
IMPORT_LOCK_KEY = 0x6C696D61


@dataclass(frozen=True)
class DuplicateRow:
    """A row left out because its conversation is already stored (`example_id`) or came earlier in the file
    (`first_line`); `exact` when the texts are identical, not only equal after normalisation."""

    line: int
    example_id: int | None = None
    first_line: int | None = None
    exact: bool = True
    unit: str = "line"

    def __str__(self) -> str:
        how = "" if self.exact else " after normalising whitespace and Unicode"
        if self.example_id is not None:
            return f"{self.unit} {self.line}: already stored as example {self.example_id}{how}"
        return f"{self.unit} {self.line}: same conversation as {self.unit} {self.first_line}{how}"


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
            exact = sum(duplicate.exact for duplicate in self.duplicates)
            kinds = f"{exact} exact, {len(self.duplicates) - exact} equal after normalising"
            shown = "; ".join(str(duplicate) for duplicate in self.duplicates[:5])
            more = f"; and {len(self.duplicates) - 5} more" if len(self.duplicates) > 5 else ""
            text += f"; {len(self.duplicates)} duplicates skipped ({kinds}: {shown}{more})"
        return text


def parse_upload(stream: IO[bytes], *, filename: str, default_split: str,
                 sources: lima_format.SourcePolicy = lima_format.SourcePolicy()) -> formats.ParsedFile:
    """Detect the file's container and record shape (formats.py) and parse every row; raises
    lima_format.FormatError naming each bad line, record or row."""
    return formats.read_dataset(stream, filename=filename, default_split=default_split, sources=sources,
                                limits=InputLimits.from_settings())


def _lock_example_imports() -> None:
    """Serialise example imports until the transaction ends, so two uploads of one file at once cannot
    both find its conversations missing. SQLite (the embedded setup) has a single writer already: a
    second import waits or fails with "database is locked", never duplicates."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [IMPORT_LOCK_KEY])


def _stored_texts(example_ids: set[int]) -> dict[int, list[str]]:
    texts: dict[int, list[str]] = {pk: [] for pk in example_ids}
    ordered = sorted(example_ids)
    for start in range(0, len(ordered), IMPORT_BATCH):
        turns = (Turn.objects.filter(example_id__in=ordered[start:start + IMPORT_BATCH])
                 .order_by("example_id", "position").values_list("example_id", "text"))
        for example_id, text in turns:
            texts[example_id].append(text)
    return texts


def _new_rows(rows: list[lima_format.ParsedRow]) -> tuple[list[tuple[lima_format.ParsedRow, str]], list[DuplicateRow]]:
    """Rows whose normalised conversation is neither stored nor earlier in the file, with their hashes; and the rest."""
    hashes = [conversation_hash(row.conversations) for row in rows]
    unique = list(dict.fromkeys(hashes))
    stored: dict[str, int] = {}
    for start in range(0, len(unique), IMPORT_BATCH):
        stored.update(Example.objects.filter(content_hash__in=unique[start:start + IMPORT_BATCH])
                      .order_by("-pk").values_list("content_hash", "pk"))
    stored_texts = _stored_texts({stored[digest] for digest in hashes if digest in stored})
    fresh: list[tuple[lima_format.ParsedRow, str]] = []
    duplicates: list[DuplicateRow] = []
    first: dict[str, lima_format.ParsedRow] = {}
    for row, digest in zip(rows, hashes):
        if digest in stored:
            duplicates.append(DuplicateRow(line=row.line, example_id=stored[digest], unit=row.unit,
                                           exact=stored_texts[stored[digest]] == row.conversations))
        elif digest in first:
            duplicates.append(DuplicateRow(line=row.line, first_line=first[digest].line, unit=row.unit,
                                           exact=first[digest].conversations == row.conversations))
        else:
            first[digest] = row
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
                    is_multi_turn=len(row.conversations) > 2, title=row.title,
                    # Importing is not writing: nobody is the author of an imported row, so the researcher who imported
                    # "Submitted" examples finds them in their own review queue (four eyes is about the text's writer).
                    created_by=None, text_edited_by=None, author_group=author_group,
                    provenance={**(provenance or {}), **row.provenance, "line": row.line,
                                "imported_by": getattr(user, "username", "")},
                    content_hash=digest,
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


def contamination_problem(matches: list, *, split: str) -> str:
    """What a researcher reads before freezing a snapshot that shares prompts across train and dev/test."""
    shown = "; ".join(
        f"{m.evaluated.split} example {m.evaluated.example_id} ~ train example {m.training.example_id} ({m.kind}"
        + (f", {m.similarity:.2f}" if m.kind == "near" else "") + ")" for m in matches[:5])
    more = f"; and {len(matches) - 5} more" if len(matches) > 5 else ""
    other = "dev/test" if split == "train" else "training"
    return (f"{len(matches)} prompt pair(s) of this {split} snapshot duplicate {other} prompts: {shown}{more}. "
            "Fix them, or tick the box to freeze anyway.")


def freeze_dataset(*, name: str, split: str, user, description: str = "", accept_contamination: bool = False,
                   example_ids: list[int] | None = None) -> Dataset:
    """Snapshot every approved example of a split (or exactly `example_ids` of it, whatever their status: an
    ablation's variant chooses its own rows); the hash covers the exact GAIR/lima JSONL bytes.

    Unless `accept_contamination`, a snapshot whose prompts duplicate prompts across train and dev/test (exact,
    normalised or MinHash near duplicates, annotation.contamination) is refused with the pairs."""
    if Dataset.objects.filter(name=name).exists():
        raise ValidationError({"name": f"a dataset named {name!r} already exists; snapshots are immutable"})
    with transaction.atomic():
        chosen = Q(status=Status.APPROVED) if example_ids is None else Q(pk__in=example_ids)
        examples = (
            Example.objects.filter(chosen, split=split).order_by("id").prefetch_related("turns")
        )
        rows = _conversations(examples)
        if not rows:
            raise ValidationError({"split": f"there are no approved {split} examples to freeze"})
        if not accept_contamination:
            touching = matches_touching(contamination_report(), {example.pk for example, _ in rows})
            if touching:
                raise ValidationError({"accept_contamination": contamination_problem(touching, split=split)})
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
