"""Read and write the GAIR/lima formats (JSONL and CSV) with line-exact validation (no Django import).

A JSONL row is `{"conversations": [user, assistant, user, ...], "source": "..."}`; optional keys
`split`, `is_refusal` and `title`. A CSV file has a header with `source`, optional `split`,
`is_refusal`, `title`, and the conversation as `turn_1`, `turn_2`, ... (`prompt`/`response`
are accepted for single-turn files).
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from typing import IO, Iterable, Iterator

from annotation import paper
from annotation.datasets.csv_cells import csv_writer, spreadsheet_safe
from annotation.input_limits import InputLimits, JsonProblem, LineTooLong, bounded_lines, human_size, load_json

MAX_ERRORS = 50
AUTO_SPLIT = "auto"


@dataclass(frozen=True)
class RowError:
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", field {self.field}" if self.field else "")
        return f"{where}: {self.message}"


@dataclass
class ParsedRow:
    line: int
    split: str
    source: str
    conversations: list[str]
    is_refusal: bool = False
    title: str = ""
    provenance: dict = field(default_factory=dict)


class FormatError(Exception):
    """The file has errors; nothing from it may be saved."""

    def __init__(self, errors: list[RowError], truncated: bool = False):
        self.errors = errors
        self.truncated = truncated
        more = " (and more)" if truncated else ""
        super().__init__("; ".join(str(e) for e in errors[:5]) + more)


def _bool(value, *, line: int, name: str, errors: list[RowError]) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"", "0", "false", "no"}:
        return False
    if isinstance(value, str) and value.strip().lower() in {"1", "true", "yes"}:
        return True
    errors.append(RowError(line, name, f"expected true or false, got {value!r}"))
    return False


def _validate(
    *, line: int, conversations, source, split, is_refusal, title, default_split: str, errors: list[RowError]
) -> ParsedRow | None:
    start = len(errors)
    if not isinstance(conversations, list) or not conversations:
        errors.append(RowError(line, "conversations", "expected a non-empty list of utterances"))
        conversations = []
    for index, utterance in enumerate(conversations):
        if not isinstance(utterance, str):
            errors.append(RowError(line, f"conversations[{index}]", f"expected a string, got {type(utterance).__name__}"))
        elif not utterance.strip():
            errors.append(RowError(line, f"conversations[{index}]", "empty utterance"))
        elif "\x00" in utterance:
            errors.append(RowError(line, f"conversations[{index}]", "contains a NUL character"))
    normalised_source = None
    if not isinstance(source, str) or not source.strip():
        errors.append(RowError(line, "source", "missing"))
    elif (normalised_source := paper.normalise_source(source)) is None:
        known = ", ".join(sorted(paper.SOURCE_KEYS))
        errors.append(RowError(line, "source", f"unknown source {source!r} (known: {known})"))
    if split in (None, ""):
        split = default_split
    if split == AUTO_SPLIT:
        split = paper.TEST if len(conversations) == 1 else paper.TRAIN
    if split not in {key for key, _ in paper.SPLITS}:
        errors.append(RowError(line, "split", f"unknown split {split!r} (expected train, dev or test)"))
    elif split == paper.TRAIN and conversations and len(conversations) % 2:
        errors.append(
            RowError(line, "conversations", f"a training example must end with an assistant turn; got {len(conversations)} utterances")
        )
    refusal = _bool(is_refusal if is_refusal is not None else False, line=line, name="is_refusal", errors=errors)
    if title is not None and not isinstance(title, str):
        errors.append(RowError(line, "title", "expected a string"))
        title = ""
    elif title and "\x00" in title:
        errors.append(RowError(line, "title", "contains a NUL character"))
    if len(errors) > start:
        return None
    return ParsedRow(
        line=line, split=split, source=normalised_source, conversations=list(conversations),
        is_refusal=refusal, title=(title or "")[:200],
    )


def text_lines(stream: IO[bytes] | IO[str], *, limits: InputLimits | None = None) -> Iterator[tuple[int, str]]:
    """Numbered lines of a text or binary stream, decoding UTF-8 (with or without BOM) line by line.

    Read with readline(limit), never whole: a line over LIMA_MAX_LINE_BYTES stops the parse with its number
    after reading only the limit (a 200 MB one-line upload once took 423 s and 3.5 GB)."""
    max_line_bytes = (limits or InputLimits()).max_line_bytes
    try:
        for number, raw in bounded_lines(stream, max_line_bytes=max_line_bytes):
            if isinstance(raw, bytes):
                try:
                    raw = raw.decode("utf-8-sig" if number == 1 else "utf-8")
                except UnicodeDecodeError as exc:
                    raise FormatError([RowError(number, "", f"not valid UTF-8 ({exc.reason} at byte {exc.start})")]) from None
            elif number == 1:
                raw = raw.lstrip("\ufeff")
            yield number, raw
    except LineTooLong as exc:
        raise FormatError([RowError(exc.line, "", f"the line is longer than {human_size(exc.limit)} (LIMA_MAX_LINE_BYTES)")]) from None


def load_json_row(text: str, *, line: int, errors: list[RowError]) -> object | None:
    """One JSON line, or None with its problem added to `errors` (malformed, too deep, a lone surrogate, a NUL...)."""
    try:
        return load_json(text)
    except JsonProblem as problem:
        errors.append(RowError(line, problem.field, problem.message))
        return None


def _finish(rows: list[ParsedRow], errors: list[RowError], truncated: bool) -> list[ParsedRow]:
    if errors:
        raise FormatError(errors, truncated)
    if not rows:
        raise FormatError([RowError(1, "", "the file holds no rows")])
    return rows


def parse_jsonl(stream: IO[bytes] | IO[str], *, default_split: str = AUTO_SPLIT,
                limits: InputLimits | None = None) -> list[ParsedRow]:
    """All rows of a GAIR/lima JSONL file, or FormatError listing every bad line (up to MAX_ERRORS)."""
    rows: list[ParsedRow] = []
    errors: list[RowError] = []
    truncated = False
    for line, text in text_lines(stream, limits=limits):
        if not text.strip():
            continue
        if len(errors) >= MAX_ERRORS:
            truncated = True
            break
        record = load_json_row(text, line=line, errors=errors)
        if record is None:
            continue
        if not isinstance(record, dict):
            errors.append(RowError(line, "", f"expected a JSON object, got {type(record).__name__}"))
            continue
        if "conversations" not in record:
            errors.append(RowError(line, "conversations", "missing"))
            continue
        row = _validate(
            line=line, conversations=record.get("conversations"), source=record.get("source"),
            split=record.get("split"), is_refusal=record.get("is_refusal"), title=record.get("title"),
            default_split=default_split, errors=errors,
        )
        if row is not None:
            rows.append(row)
    return _finish(rows, errors, truncated)


_TURN_COLUMN = re.compile(r"^turn_(\d+)$")


def parse_csv(stream: IO[bytes] | IO[str], *, default_split: str = AUTO_SPLIT,
              limits: InputLimits | None = None) -> list[ParsedRow]:
    """All rows of a CSV file (header + one example per record), or FormatError with line numbers."""
    # csv reads the physical lines as they come; quoted fields may span several, so line numbers follow the reader.
    reader = csv.reader(text for _, text in text_lines(stream, limits=limits))
    try:
        header = [name.strip().lower() for name in next(reader)]
    except StopIteration:
        raise FormatError([RowError(1, "", "the file is empty")]) from None
    except csv.Error as exc:
        raise FormatError([RowError(1, "", f"unreadable CSV header ({exc})")]) from None
    turn_columns = sorted(
        ((int(m.group(1)), index) for index, name in enumerate(header) if (m := _TURN_COLUMN.match(name))),
    )
    if not turn_columns:
        aliases = [header.index(name) for name in ("prompt", "response") if name in header]
        turn_columns = [(number + 1, index) for number, index in enumerate(aliases)]
    if not turn_columns:
        raise FormatError([RowError(1, "header", "needs turn_1, turn_2, ... columns (or prompt and response)")])
    if "source" not in header:
        raise FormatError([RowError(1, "header", "needs a source column")])
    rows: list[ParsedRow] = []
    errors: list[RowError] = []
    truncated = False
    line = reader.line_num
    while True:
        start_line = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append(RowError(start_line, "", f"unreadable CSV ({exc})"))
            break
        line = start_line
        if not any(cell.strip() for cell in record):
            continue
        if len(errors) >= MAX_ERRORS:
            truncated = True
            break
        if len(record) != len(header):
            errors.append(RowError(line, "", f"expected {len(header)} columns, got {len(record)}"))
            continue
        cells = dict(zip(header, record))
        conversations = [record[index] for _, index in turn_columns]
        while conversations and not conversations[-1].strip():
            conversations.pop()
        row = _validate(
            line=line, conversations=conversations, source=cells.get("source"), split=cells.get("split"),
            is_refusal=cells.get("is_refusal"), title=cells.get("title"), default_split=default_split, errors=errors,
        )
        if row is not None:
            rows.append(row)
    return _finish(rows, errors, truncated)


def dumps_jsonl_row(*, conversations: list[str], source: str) -> str:
    """One canonical GAIR/lima line; the dataset hash is computed over these exact bytes."""
    return json.dumps({"conversations": conversations, "source": source}, ensure_ascii=False, sort_keys=True) + "\n"


def csv_lines(rows: Iterable[tuple[str, str, bool, list[str]]], max_turns: int, *, raw: bool = False) -> Iterator[str]:
    """CSV text, one string per record, for (split, source, is_refusal, conversations) rows.

    RFC 4180 with formula-leading turns neutralised for spreadsheets unless `raw` (see csv_cells).
    """
    buffer = io.StringIO()
    writer = csv_writer(buffer)

    def take() -> str:
        value = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return value

    writer.writerow(["split", "source", "is_refusal", *[f"turn_{n}" for n in range(1, max_turns + 1)]])
    yield take()
    for split, source, is_refusal, conversations in rows:
        record = [split, source, "true" if is_refusal else "false", *conversations, *[""] * (max_turns - len(conversations))]
        writer.writerow(record if raw else spreadsheet_safe(record))
        yield take()
