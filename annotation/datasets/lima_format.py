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
from typing import IO, Callable, Iterable, Iterator

from annotation import paper
from annotation.datasets.csv_cells import csv_writer, spreadsheet_safe
from annotation.input_limits import InputLimits, JsonProblem, LineTooLong, bounded_lines, human_size, load_json

MAX_ERRORS = 50
AUTO_SPLIT = "auto"


@dataclass(frozen=True)
class RowError:
    """One problem: where (`unit` `line`: "line 4", "record 3" of a JSON array, "row 7" of a Parquet file; None
    for the whole file) and which field."""

    line: int | None
    field: str
    message: str
    unit: str = "line"

    def __str__(self) -> str:
        where = "the file" if self.line is None else f"{self.unit} {self.line}"
        where += f", field {self.field}" if self.field else ""
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
    unit: str = "line"  # what `line` counts: "line", "record" (of a JSON array) or "row" (of a Parquet file)


class FormatError(Exception):
    """The file has errors; nothing from it may be saved."""

    def __init__(self, errors: list[RowError], truncated: bool = False):
        self.errors = errors
        self.truncated = truncated
        more = " (and more)" if truncated else ""
        super().__init__("; ".join(str(e) for e in errors[:5]) + more)


def _bool(value, *, line: int, name: str, errors: list[RowError], unit: str = "line") -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"", "0", "false", "no"}:
        return False
    if isinstance(value, str) and value.strip().lower() in {"1", "true", "yes"}:
        return True
    errors.append(RowError(line, name, f"expected true or false, got {value!r}", unit))
    return False


@dataclass(frozen=True)
class SourcePolicy:
    """What a row without a source, or with one that is not ours, becomes.

    `default` is the source of rows that name none ("" refuses them); `unknown_as_other` files a source we do
    not know ("unknown", a team's own label) under "other", its name kept in the provenance."""

    default: str = ""
    unknown_as_other: bool = False


def _validate(
    *, line: int, conversations, source, split, is_refusal, title, default_split: str, errors: list[RowError],
    unit: str = "line", sources: SourcePolicy = SourcePolicy(), provenance: dict | None = None,
) -> ParsedRow | None:
    start = len(errors)
    provenance = dict(provenance or {})

    def error(name: str, message: str) -> None:
        errors.append(RowError(line, name, message, unit))

    if not isinstance(conversations, list) or not conversations:
        error("conversations", "expected a non-empty list of utterances")
        conversations = []
    for index, utterance in enumerate(conversations):
        if not isinstance(utterance, str):
            error(f"conversations[{index}]", f"expected a string, got {type(utterance).__name__}")
        elif not utterance.strip():
            error(f"conversations[{index}]", "empty utterance")
        elif "\x00" in utterance:
            error(f"conversations[{index}]", "contains a NUL character")
    normalised_source = None
    if source is None or (isinstance(source, str) and not source.strip()):
        if sources.default:
            normalised_source = sources.default
        else:
            error("source", "missing (choose a source for rows that name none)")
    elif not isinstance(source, str):
        error("source", f"expected a string, got {type(source).__name__}")
    elif (normalised_source := paper.normalise_source(source)) is None:
        if sources.unknown_as_other:
            normalised_source = paper.OTHER
            provenance["original_source"] = source.strip()[:200]
        else:
            known = ", ".join(sorted(paper.SOURCE_KEYS))
            error("source", f"unknown source {source[:100]!r} (known: {known}; or import unknown sources as \"other\")")
    if split in (None, ""):
        split = default_split
    if split == AUTO_SPLIT:
        split = paper.TEST if len(conversations) == 1 else paper.TRAIN
    if not isinstance(split, str):  # a list or object here once reached the set lookup below: TypeError, not a row error
        error("split", f"expected a string, got {type(split).__name__}")
    elif split not in {key for key, _ in paper.SPLITS}:
        error("split", f"unknown split {split!r} (expected train, dev or test)")
    elif split == paper.TRAIN and conversations and len(conversations) % 2:
        error("conversations", f"a training example must end with an assistant turn; got {len(conversations)} utterances")
    refusal = _bool(is_refusal if is_refusal is not None else False, line=line, name="is_refusal", errors=errors, unit=unit)
    if title is not None and not isinstance(title, str):
        error("title", "expected a string")
        title = ""
    elif title and "\x00" in title:
        error("title", "contains a NUL character")
    if len(errors) > start:
        return None
    return ParsedRow(
        line=line, split=split, source=normalised_source, conversations=list(conversations),
        is_refusal=refusal, title=(title or "")[:200], provenance=provenance, unit=unit,
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
        raise FormatError([RowError(None, "", "the file holds no rows")])
    return rows


# A record reader turns one record (a decoded JSON value, or a CSV row as a dict) into a row, or adds its errors.
RecordReader = Callable[[object, int, list[RowError]], "ParsedRow | None"]


def read_records(records: Iterable[tuple[int, object]], read: RecordReader, errors: list[RowError]) -> tuple[list[ParsedRow], bool]:
    """Rows of (number, record) pairs; a record of None had its problem added by the reader of the file. Stops at
    MAX_ERRORS, saying whether more records were left unread."""
    rows: list[ParsedRow] = []
    for number, record in records:
        if len(errors) >= MAX_ERRORS:
            return rows, True
        if record is not None and (row := read(record, number, errors)) is not None:
            rows.append(row)
    return rows, False


def jsonl_records(stream: IO[bytes] | IO[str], *, errors: list[RowError],
                  limits: InputLimits | None = None) -> Iterator[tuple[int, object]]:
    """(line, decoded value) of every non-blank line; a line that is not JSON adds its error and yields None."""
    for line, text in text_lines(stream, limits=limits):
        if text.strip():
            yield line, load_json_row(text, line=line, errors=errors)


def lima_record_reader(*, default_split: str = AUTO_SPLIT, sources: SourcePolicy = SourcePolicy(),
                       unit: str = "line") -> RecordReader:
    """A GAIR/lima record: {"conversations": [...], "source": ...}, with optional split, is_refusal, title."""

    def read(record: object, line: int, errors: list[RowError]) -> ParsedRow | None:
        if not isinstance(record, dict):
            errors.append(RowError(line, "", f"expected a JSON object, got {type(record).__name__}", unit))
            return None
        if "conversations" not in record:
            errors.append(RowError(line, "conversations", "missing", unit))
            return None
        return _validate(
            line=line, conversations=record.get("conversations"), source=record.get("source"),
            split=record.get("split"), is_refusal=record.get("is_refusal"), title=record.get("title"),
            default_split=default_split, errors=errors, unit=unit, sources=sources,
        )

    return read


def parse_jsonl(stream: IO[bytes] | IO[str], *, default_split: str = AUTO_SPLIT,
                limits: InputLimits | None = None, sources: SourcePolicy = SourcePolicy()) -> list[ParsedRow]:
    """All rows of a GAIR/lima JSONL file, or FormatError listing every bad line (up to MAX_ERRORS)."""
    errors: list[RowError] = []
    rows, truncated = read_records(
        jsonl_records(stream, errors=errors, limits=limits),
        lima_record_reader(default_split=default_split, sources=sources), errors,
    )
    return _finish(rows, errors, truncated)


_TURN_COLUMN = re.compile(r"^turn_(\d+)$")
# Columns of an Alpaca-style CSV (formats.py reads the records): the conversation is built from these.
ALPACA_COLUMNS = ("instruction", "input", "output")


def csv_records(stream: IO[bytes] | IO[str], *, errors: list[RowError], limits: InputLimits | None = None,
                sources: SourcePolicy = SourcePolicy()) -> Iterator[tuple[int, dict | None]]:
    """(line, {column: cell}) of every non-blank CSV record; turn_1, turn_2, ... (or prompt and response) are gathered
    into "conversations". The header is checked first (FormatError); a record with the wrong number of columns
    adds its error and yields None."""
    # csv reads the physical lines as they come; quoted fields may span several, so line numbers follow the reader.
    reader = csv.reader(text for _, text in text_lines(stream, limits=limits))
    try:
        header = [name.strip().lower() for name in next(reader)]
    except StopIteration:
        raise FormatError([RowError(None, "", "the file is empty")]) from None
    except csv.Error as exc:
        raise FormatError([RowError(1, "", f"unreadable CSV header ({exc})")]) from None
    turn_columns = sorted(
        ((int(m.group(1)), index) for index, name in enumerate(header) if (m := _TURN_COLUMN.match(name))),
    )
    if not turn_columns:
        aliases = [header.index(name) for name in ("prompt", "response") if name in header]
        turn_columns = [(number + 1, index) for number, index in enumerate(aliases)]
    if not turn_columns and "instruction" not in header:
        raise FormatError([RowError(1, "header", "needs turn_1, turn_2, ... columns (or prompt and response, or "
                                                 "Alpaca's instruction, input and output)")])
    if "source" not in header and not sources.default:
        raise FormatError([RowError(1, "header", "needs a source column, or a source chosen for rows that name none")])
    while True:
        line = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            errors.append(RowError(line, "", f"unreadable CSV ({exc})"))
            return
        if not any(cell.strip() for cell in record):
            continue
        if len(record) != len(header):
            errors.append(RowError(line, "", f"expected {len(header)} columns, got {len(record)}"))
            yield line, None
            continue
        cells: dict = dict(zip(header, record))
        if turn_columns:
            conversations = [record[index] for _, index in turn_columns]
            while conversations and not conversations[-1].strip():
                conversations.pop()
            cells["conversations"] = conversations
        yield line, cells


def parse_csv(stream: IO[bytes] | IO[str], *, default_split: str = AUTO_SPLIT,
              limits: InputLimits | None = None, sources: SourcePolicy = SourcePolicy()) -> list[ParsedRow]:
    """All rows of a CSV file (header + one example per record), or FormatError with line numbers."""
    errors: list[RowError] = []
    rows, truncated = read_records(
        csv_records(stream, errors=errors, limits=limits, sources=sources),
        lima_record_reader(default_split=default_split, sources=sources), errors,
    )
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
