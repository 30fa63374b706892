"""Saving judgment sets collected outside the tool, so the study statistics and charts run on them."""

from __future__ import annotations

import hashlib
from typing import IO

from django.core.exceptions import ValidationError
from django.db import transaction

from annotation.evaluation.judgment_import import parse_judgments
from annotation.datasets.lima_format import FormatError, RowError
from annotation.evaluation.models import ExternalJudgment, ExternalJudgmentSet
from annotation.input_limits import InputLimits

SAVE_BATCH = 2000


def judgment_format(filename: str) -> str:
    """csv or jsonl from the file name, or FormatError (the upload form and the API share this rule)."""
    name = filename.lower()
    if name.endswith(".csv"):
        return "csv"
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    raise FormatError([RowError(None, "file", f"{filename!r}: expected a .csv or .jsonl file")])


class _HashingReader:
    """The upload as the parser reads it (line by line), hashed on the way."""

    def __init__(self, stream: IO[bytes], digest):
        self._stream = stream
        self._digest = digest

    def readline(self, size: int = -1) -> bytes:
        line = self._stream.readline(size)
        self._digest.update(line)
        return line


def import_external_judgments(*, name: str, stream: IO[bytes], filename: str, user, target: str | None = None,
                              seed: int = 0, tournament: bool = False) -> ExternalJudgmentSet:
    """Parse the whole file, then save it in one transaction: any bad row raises FormatError and nothing is saved."""
    if not name.strip():
        raise ValidationError({"name": "a name for the judgment set is needed"})
    fmt = judgment_format(filename)
    digest = hashlib.sha256()
    imported = parse_judgments(_HashingReader(stream, digest), fmt=fmt, target=target or None,  # type: ignore[arg-type]
                               limits=InputLimits.from_settings(), tournament=tournament)
    with transaction.atomic():
        judgment_set = ExternalJudgmentSet.objects.create(
            name=name.strip(), target=imported.target, baselines=imported.baselines, filename=filename[:255], file_format=fmt,
            sha256=digest.hexdigest(), judgment_count=len(imported.judgments), seed=seed, created_by=user,
        )
        ExternalJudgment.objects.bulk_create(
            (ExternalJudgment(
                judgment_set=judgment_set, item=j.item, model=first, prompt=j.prompt, baseline=j.baseline, annotator=j.annotator, group=j.group,
                verdict=j.verdict, target_len=j.target_len, baseline_len=j.baseline_len, target_on_left=j.target_on_left,
            ) for j, first in zip(imported.judgments, imported.first_models or [""] * len(imported.judgments))),
            batch_size=SAVE_BATCH,
        )
    return judgment_set
