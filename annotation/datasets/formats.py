"""The dataset files researchers bring, detected and read; and the same formats written back (no Django import).

Containers, told apart by their content before their name: JSONL (one record per line), a JSON array (`[...]`,
whatever the extension: a `.json` array is never read line by line), CSV (header row) and Parquet (`PAR1` magic).
Record shapes, detected from the first record and then required of every record:

=============  ===========================================================================================
GAIR/lima      ``{"conversations": ["user", "assistant", ...], "source": "..."}``
messages       Hugging Face chat: ``{"messages": [{"role": "user" | "assistant" | "system", "content": "..."}]}``
ShareGPT       ``{"conversations": [{"from": "human" | "gpt" | "system", "value": "..."}]}``
Alpaca         Alpaca / LLaMA-Factory: ``{"instruction", "input", "output", "system", "history": [[q, a], ...]}``;
               the prompt is the instruction, then the input after a blank line; an empty output is a prompt only
=============  ===========================================================================================

Every shape may also carry ``source``, ``split``, ``is_refusal`` and ``title``. LIMA's format has no system
prompt: a system message is kept in the example's provenance. Speakers must alternate, user first; the same
speaker twice in a row is reported as such.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import IO, Any, Iterable, Iterator

from annotation.datasets import lima_format
from annotation.datasets.lima_format import (
    AUTO_SPLIT, FormatError, ParsedRow, RecordReader, RowError, SourcePolicy,
)
from annotation.input_limits import InputLimits, JsonProblem, MalformedJson, human_size, load_json

LIMA, MESSAGES, SHAREGPT, ALPACA = "lima", "messages", "sharegpt", "alpaca"
SHAPE_LABELS = {
    LIMA: "GAIR/lima (conversations + source)",
    MESSAGES: "Hugging Face messages (role/content)",
    SHAREGPT: "ShareGPT (from/value)",
    ALPACA: "Alpaca / LLaMA-Factory (instruction/input/output/history)",
}
JSONL, JSON_ARRAY, CSV, PARQUET = "JSONL", "JSON array", "CSV", "Parquet"
# How a container numbers its records in error messages.
UNITS = {JSONL: "line", CSV: "line", JSON_ARRAY: "record", PARQUET: "row"}
PARQUET_MAGIC = b"PAR1"
PARQUET_BATCH = 1000

USER, ASSISTANT, SYSTEM = "user", "assistant", "system"
SPEAKERS = {
    "user": USER, "human": USER,
    "assistant": ASSISTANT, "gpt": ASSISTANT, "model": ASSISTANT, "bot": ASSISTANT, "chatgpt": ASSISTANT,
    "system": SYSTEM,
}


@dataclass(frozen=True)
class ParsedFile:
    container: str
    shape: str
    rows: list[ParsedRow]

    @property
    def description(self) -> str:
        """What the importer is told was detected: "ShareGPT (from/value), JSON array"."""
        return f"{SHAPE_LABELS[self.shape]}, {self.container}"


def detect_shape(record: object) -> str | None:
    """The record shape of one decoded record, or None when it is none we read."""
    if not isinstance(record, dict):
        return None
    if "instruction" in record:
        return ALPACA
    for key in ("messages", "conversations"):
        turns = record.get(key)
        if isinstance(turns, list) and turns and isinstance(turns[0], dict):
            return SHAREGPT if "from" in turns[0] else MESSAGES
    if isinstance(record.get("messages"), list):
        return MESSAGES
    if "conversations" in record:
        return LIMA
    return None


def _unknown_shape(record: object) -> str:
    if not isinstance(record, dict):
        return f"expected a JSON object, got {type(record).__name__}"
    keys = ", ".join(sorted(map(str, record))[:10]) or "none"
    return ("not a format we read (keys: " + keys + "); expected conversations (GAIR/lima or ShareGPT), "
            "messages (Hugging Face) or instruction/output (Alpaca / LLaMA-Factory)")


def _turns(record: dict, *, key: str, speaker_key: str, text_key: str, line: int, unit: str,
           errors: list[RowError]) -> tuple[list[str], list[str]] | None:
    """(utterances, system messages) of a list of speaker/text objects, or None with its error added."""

    def error(field: str, message: str) -> None:
        errors.append(RowError(line, field, message, unit))

    turns = record.get(key)
    if not isinstance(turns, list) or not turns:
        error(key, "missing" if turns is None else "expected a non-empty list of messages")
        return None
    texts: list[str] = []
    system: list[str] = []
    previous: tuple[int, str] | None = None
    for index, turn in enumerate(turns):
        field = f"{key}[{index}]"
        if not isinstance(turn, dict):
            error(field, f"expected an object with {speaker_key!r} and {text_key!r}, got {type(turn).__name__}")
            return None
        raw = turn.get(speaker_key)
        speaker = SPEAKERS.get(raw.strip().lower()) if isinstance(raw, str) else None
        if speaker is None:
            error(f"{field}.{speaker_key}", f"unknown speaker {raw!r} (expected user/human, assistant/gpt or system)")
            return None
        text = turn.get(text_key)
        if not isinstance(text, str):
            error(f"{field}.{text_key}", "missing" if text is None else f"expected text, got {type(text).__name__}")
            return None
        if speaker == SYSTEM:
            if texts:
                error(field, "a system message in the middle of the conversation (only one before the first turn is kept)")
                return None
            system.append(text)
            continue
        expected = USER if len(texts) % 2 == 0 else ASSISTANT
        if speaker != expected:
            if previous is not None:
                error(field, f"the same speaker twice in a row: {key}[{previous[0]}] and {field} are both {speaker} "
                             "turns (turns alternate, user first)")
            else:
                error(field, "the conversation starts with an assistant turn (turns alternate, user first)")
            return None
        texts.append(text)
        previous = (index, speaker)
    return texts, system


def _alpaca(record: dict, *, line: int, unit: str, errors: list[RowError]) -> tuple[list[str], list[str]] | None:
    def error(field: str, message: str) -> None:
        errors.append(RowError(line, field, message, unit))

    start = len(errors)
    values = {}
    for name in ("instruction", "input", "output", "system"):
        value = record.get(name)
        if value is not None and not isinstance(value, str):
            error(name, f"expected text, got {type(value).__name__}")
        values[name] = value if isinstance(value, str) else ""
    if not values["instruction"].strip() and len(errors) == start:
        error("instruction", "missing")
    history = record.get("history")
    conversation: list[str] = []
    if history not in (None, ""):
        if not isinstance(history, list):
            error("history", f"expected a list of [prompt, response] pairs, got {type(history).__name__}")
        else:
            for index, pair in enumerate(history):
                if (not isinstance(pair, (list, tuple)) or len(pair) != 2
                        or not all(isinstance(text, str) for text in pair)):
                    error(f"history[{index}]", "expected a [prompt, response] pair of texts")
                else:
                    conversation.extend(pair)
    if len(errors) > start:
        return None
    prompt = values["instruction"]
    if values["input"].strip():
        prompt = f"{prompt}\n\n{values['input']}"
    conversation.append(prompt)
    if values["output"].strip():
        conversation.append(values["output"])
    return conversation, [values["system"]] if values["system"].strip() else []


def record_reader(shape: str, *, unit: str, default_split: str, sources: SourcePolicy, detected_at: int) -> RecordReader:
    """The reader for every record of a file whose first record had `shape` (a record of another shape is an error
    that says what the file was taken for)."""
    if shape == LIMA:
        lima = lima_format.lima_record_reader(default_split=default_split, sources=sources, unit=unit)

    def read(record: object, line: int, errors: list[RowError]) -> ParsedRow | None:
        found = detect_shape(record)
        if found != shape:
            problem = _unknown_shape(record) if found is None else f"a {SHAPE_LABELS[found]} record"
            errors.append(RowError(line, "", f"{problem}; the file was read as {SHAPE_LABELS[shape]} "
                                             f"from {unit} {detected_at}", unit))
            return None
        assert isinstance(record, dict)
        if shape == LIMA:
            return lima(record, line, errors)
        if shape == ALPACA:
            parsed = _alpaca(record, line=line, unit=unit, errors=errors)
        else:
            key = "conversations" if shape == SHAREGPT and "conversations" in record else "messages"
            speaker_key, text_key = ("from", "value") if shape == SHAREGPT else ("role", "content")
            parsed = _turns(record, key=key, speaker_key=speaker_key, text_key=text_key, line=line, unit=unit, errors=errors)
        if parsed is None:
            return None
        conversation, system = parsed
        return lima_format._validate(
            line=line, conversations=conversation, source=record.get("source"), split=record.get("split"),
            is_refusal=record.get("is_refusal"), title=record.get("title"), default_split=default_split,
            errors=errors, unit=unit, sources=sources, provenance={"system": "\n\n".join(system)} if system else None,
        )

    return read


def _peek(stream: IO[bytes], size: int = 4096) -> bytes:
    head = stream.read(size)
    stream.seek(0)
    return head if isinstance(head, bytes) else head.encode()


def _whole_json(stream: IO[bytes], *, limits: InputLimits) -> object:
    """A file that is one JSON value, read whole (at most the upload limit)."""
    raw = stream.read(limits.max_file_bytes + 1)
    if len(raw) > limits.max_file_bytes:
        raise FormatError([RowError(None, "", f"a JSON array larger than {human_size(limits.max_file_bytes)} "
                                              "(LIMA_MAX_UPLOAD_BYTES); save it as JSONL instead")])
    try:
        text = raw.decode("utf-8-sig") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        raise FormatError([RowError(None, "", f"not valid UTF-8 ({exc.reason} at byte {exc.start})")]) from None
    try:
        value = load_json(text)
    except MalformedJson as problem:
        if problem.msg == "Extra data":
            raise FormatError([RowError(problem.lineno, "", "more than one JSON value: a file that starts with [ must be "
                                                            "one JSON array of records (or JSONL with one object per line)")]) from None
        raise FormatError([RowError(problem.lineno, "", f"the file is a JSON array with invalid JSON ({problem.msg} "
                                                        f"at column {problem.colno})")]) from None
    except JsonProblem as problem:
        raise FormatError([RowError(None, problem.field, problem.message)]) from None
    return value


def _one_object(stream: IO[bytes], *, limits: InputLimits) -> FormatError | None:
    """A `.json` file whose first line is not JSON may be one pretty-printed object: say so rather than list every line."""
    stream.seek(0)
    try:
        value = _whole_json(stream, limits=limits)
    except FormatError:
        return None
    if not isinstance(value, dict):
        return None
    lists = [key for key, item in value.items() if isinstance(item, list)]
    hint = f"; its {lists[0]!r} holds a list: save that list as the file" if len(lists) == 1 else ""
    return FormatError([RowError(None, "", "the file is one JSON object, not records: expected JSONL (one record per "
                                           f"line) or a JSON array of records{hint}")])


def _parquet_records(stream: IO[bytes], *, errors: list[RowError]) -> Iterator[tuple[int, object]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(stream)
        number = 0
        for batch in parquet.iter_batches(batch_size=PARQUET_BATCH):
            for record in batch.to_pylist():
                number += 1
                yield number, record
    except (pa.ArrowException, OSError) as exc:
        raise FormatError([RowError(None, "", f"unreadable Parquet file ({str(exc)[:200]})")]) from None


def _first(records: Iterable[tuple[int, object]]) -> tuple[tuple[int, object] | None, Iterator[tuple[int, object]]]:
    """The first record that decoded, and an iterator over all of them (the first included)."""
    seen: list[tuple[int, object]] = []
    iterator = iter(records)
    for number, record in iterator:
        seen.append((number, record))
        if record is not None or len(seen) >= lima_format.MAX_ERRORS:
            break

    def again() -> Iterator[tuple[int, object]]:
        yield from seen
        yield from iterator

    first = seen[-1] if seen and seen[-1][1] is not None else None
    return first, again()


def container_of(stream: IO[bytes], filename: str) -> str:
    """JSONL, JSON array, CSV or Parquet, from the first bytes, then the name; FormatError when neither tells."""
    head = _peek(stream)
    name = filename.lower()
    if head.startswith(PARQUET_MAGIC):
        return PARQUET
    if name.endswith(".parquet"):
        raise FormatError([RowError(None, "", f"{filename!r} is not a Parquet file (no PAR1 header)")])
    if name.endswith((".csv", ".tsv")):
        return CSV
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(b"["):
        return JSON_ARRAY
    if name.endswith((".jsonl", ".json", ".ndjson")):
        return JSONL
    raise FormatError([RowError(None, "file", f"{filename!r}: expected a .jsonl, .json, .csv or .parquet file")])


def read_dataset(stream: IO[bytes], *, filename: str, default_split: str = AUTO_SPLIT,
                 sources: SourcePolicy = SourcePolicy(), limits: InputLimits | None = None) -> ParsedFile:
    """Every row of an uploaded dataset file, with the container and record shape it was read as.

    All or nothing: FormatError lists every bad record (up to MAX_ERRORS) with its line, record or row number."""
    limits = limits or InputLimits()
    container = container_of(stream, filename)
    unit = UNITS[container]
    errors: list[RowError] = []
    records: Iterable[tuple[int, object]]
    if container == JSON_ARRAY:
        array = _whole_json(stream, limits=limits)
        if not isinstance(array, list):
            raise FormatError([RowError(None, "", "expected a JSON array of records")])
        records = enumerate(array, start=1)
    elif container == PARQUET:
        records = _parquet_records(stream, errors=errors)
    elif container == CSV:
        records = lima_format.csv_records(stream, errors=errors, limits=limits, sources=sources)
    else:
        records = lima_format.jsonl_records(stream, errors=errors, limits=limits)
    first, records = _first(records)
    misread = first is None or first[0] > 1 or detect_shape(first[1]) is None
    if misread and container == JSONL and filename.lower().endswith(".json"):
        if (whole := _one_object(stream, limits=limits)) is not None:
            raise whole
    if first is None:
        if errors:
            raise FormatError(errors, truncated=len(errors) >= lima_format.MAX_ERRORS)
        raise FormatError([RowError(None, "", "the file holds no rows")])
    shape = detect_shape(first[1])
    if shape is None:
        hint = ""
        if container == JSONL and isinstance(first[1], list):
            hint = " (a JSON array per line: is the file one JSON array split over lines?)"
        raise FormatError([RowError(first[0], "", _unknown_shape(first[1]) + hint, unit)])
    read = record_reader(shape, unit=unit, default_split=default_split, sources=sources, detected_at=first[0])
    rows, truncated = lima_format.read_records(records, read, errors)
    return ParsedFile(container=container, shape=shape, rows=lima_format._finish(rows, errors, truncated))


# Writing: each export is a stream of text chunks (JSONL, JSON array) or, for Parquet, one bytes buffer.

EXPORTS = {
    # URL suffix: (shape, container, content type)
    "jsonl": (LIMA, JSONL, "application/jsonl; charset=utf-8"),
    "json": (LIMA, JSON_ARRAY, "application/json; charset=utf-8"),
    "messages.jsonl": (MESSAGES, JSONL, "application/jsonl; charset=utf-8"),
    "sharegpt.json": (SHAREGPT, JSON_ARRAY, "application/json; charset=utf-8"),
    "alpaca.json": (ALPACA, JSON_ARRAY, "application/json; charset=utf-8"),
    "parquet": (LIMA, PARQUET, "application/vnd.apache.parquet"),
}


@dataclass(frozen=True)
class ExportRow:
    split: str
    source: str
    is_refusal: bool
    conversations: list[str]


def record_of(row: ExportRow, shape: str) -> dict[str, Any]:
    """One row in a record shape; every shape keeps source, split and is_refusal, so a re-import loses nothing."""
    extra = {"source": row.source, "split": row.split, "is_refusal": row.is_refusal}
    turns = row.conversations
    if shape == LIMA:
        return {"conversations": turns, **extra}
    if shape == MESSAGES:
        return {"messages": [{"role": USER if i % 2 == 0 else ASSISTANT, "content": text} for i, text in enumerate(turns)],
                **extra}
    if shape == SHAREGPT:
        return {"conversations": [{"from": "human" if i % 2 == 0 else "gpt", "value": text} for i, text in enumerate(turns)],
                **extra}
    if shape == ALPACA:
        # The last exchange is instruction/output; earlier ones go to history (LLaMA-Factory's layout).
        last = len(turns) - 1 if len(turns) % 2 else len(turns) - 2
        history = [[turns[i], turns[i + 1]] for i in range(0, last, 2)]
        output = turns[last + 1] if last + 1 < len(turns) else ""
        return {"instruction": turns[last], "input": "", "output": output, "history": history, **extra}
    raise ValueError(f"unknown shape {shape!r}")


def jsonl_chunks(rows: Iterable[ExportRow], shape: str) -> Iterator[str]:
    for row in rows:
        yield json.dumps(record_of(row, shape), ensure_ascii=False) + "\n"


def json_array_chunks(rows: Iterable[ExportRow], shape: str) -> Iterator[str]:
    """A JSON array streamed record by record."""
    opening = "["
    for row in rows:
        yield opening + "\n" + json.dumps(record_of(row, shape), ensure_ascii=False)
        opening = ","
    yield ("[" if opening == "[" else "") + "\n]\n"


def parquet_bytes(rows: Iterable[ExportRow]) -> bytes:
    """GAIR/lima rows as a Parquet file (conversations: list<string>), written in batches."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([("conversations", pa.list_(pa.string())), ("source", pa.string()), ("split", pa.string()),
                        ("is_refusal", pa.bool_())])
    buffer = io.BytesIO()
    with pq.ParquetWriter(buffer, schema) as writer:
        batch: list[dict[str, Any]] = []
        for row in rows:
            batch.append(record_of(row, LIMA))
            if len(batch) == PARQUET_BATCH:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                batch = []
        if batch:
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
    return buffer.getvalue()
