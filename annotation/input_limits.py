"""Limits on untrusted input (uploads and community dumps), and a JSON reader that refuses what cannot be stored.

Pure Python (no Django import at module level), shared by the importers and the upload parsers:

* `bounded_lines` reads a stream line by line with `readline(limit)`, so one endless line costs at most
  the limit in memory and stops with "line 1 is longer than 16 MiB" instead of filling the worker.
* `load_json` is `json.loads` that answers `JsonProblem` (with the field at fault) for input that parses
  but breaks later: nesting deep enough to exhaust the stack, integers with thousands of digits, NaN or
  Infinity, lone surrogates (`"\\ud800"`) and NUL characters, which PostgreSQL cannot store.

`InputLimits()` holds the defaults; `InputLimits.from_settings()` reads the LIMA_MAX_* settings.
"""

from __future__ import annotations

import io
import json
import math
import re
from dataclasses import dataclass
from typing import IO, Any, Iterator

MiB = 1024 * 1024
# Deeper than any record of the formats we read (GAIR/lima rows, Pushshift, judgments: under 10 levels),
# far below what exhausts Python's recursion limit anywhere in the code that handles the value later.
MAX_JSON_DEPTH = 64
# 64-bit integers at most: ids, scores and lengths; PostgreSQL's bigint holds them.
MAX_INTEGER_DIGITS = 18


@dataclass(frozen=True)
class InputLimits:
    """The defaults equal lima_site/settings.py's; tests and benchmarks pass smaller ones."""

    max_line_bytes: int = 16 * MiB
    max_decompression_ratio: int = 1000
    max_xml_elements: int = 200_000_000
    max_file_bytes: int = 256 * MiB

    @classmethod
    def from_settings(cls) -> "InputLimits":
        from django.conf import settings

        return cls(
            max_line_bytes=settings.LIMA_MAX_LINE_BYTES,
            max_decompression_ratio=settings.LIMA_MAX_DECOMPRESSION_RATIO,
            max_xml_elements=settings.LIMA_MAX_XML_ELEMENTS,
            max_file_bytes=settings.LIMA_MAX_UPLOAD_BYTES,
        )


def human_size(size: int) -> str:
    """16777216 -> '16 MiB' (limits are set in whole KiB/MiB/GiB; others keep one decimal)."""
    for unit, scale in (("GiB", 1024 * MiB), ("MiB", MiB), ("KiB", 1024)):
        if size >= scale:
            value = size / scale
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{size} bytes"


class LineTooLong(Exception):
    def __init__(self, line: int, limit: int):
        self.line = line
        self.limit = limit
        super().__init__(f"line {line} is longer than {human_size(limit)} (LIMA_MAX_LINE_BYTES)")


def bounded_lines(stream: IO[bytes] | IO[str], *, max_line_bytes: int) -> Iterator[tuple[int, bytes | str]]:
    """(line number, raw line) pairs; a line longer than the limit raises LineTooLong after reading only the limit."""
    number = 0
    while True:
        raw = stream.readline(max_line_bytes + 1)
        if not raw:
            return
        number += 1
        if len(raw) > max_line_bytes:
            raise LineTooLong(number, max_line_bytes)
        yield number, raw


class LineLengthGuard(io.RawIOBase):
    """A binary stream that raises LineTooLong once a line passes the limit, for parsers that read
    their own chunks (lxml's iterparse): a Posts.xml row of 300 MB stops at 16 MiB."""

    def __init__(self, raw: IO[bytes], *, max_line_bytes: int):
        self._raw = raw
        self._limit = max_line_bytes
        self._run = 0  # bytes of the current line so far
        self._lines = 1

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        # Chunks no longer than the limit: a line wholly inside one is short enough, only one that spans chunks can grow.
        data = self._raw.read(self._limit if size is None or size < 0 else min(size, self._limit))
        first = data.find(b"\n")
        if first == -1:
            self._run += len(data)
        else:
            if self._run + first > self._limit:
                raise LineTooLong(self._lines, self._limit)
            self._lines += data.count(b"\n")
            self._run = len(data) - data.rfind(b"\n") - 1
        if self._run > self._limit:
            raise LineTooLong(self._lines, self._limit)
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class JsonProblem(ValueError):
    """JSON that must not go further; `field` names where (``conversations[1]``), empty for the whole value."""

    def __init__(self, message: str, field: str = ""):
        self.message = message
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)


def _integer(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise JsonProblem(f"a number with {len(digits.lstrip('-')):,} digits (at most {MAX_INTEGER_DIGITS})")
    return int(digits)


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JsonProblem(f"the number {text[:20]} is out of range")
    return value


def _constant(name: str):
    raise JsonProblem(f"{name} is not a JSON value")


# Only an escape can put a lone surrogate or a NUL into a decoded string (raw bytes were strict UTF-8, and
# JSON forbids raw control characters in strings); a value without one needs no walk for them.
_RISKY_ESCAPE = re.compile(r"\\u(?:[dD][89a-fA-F]|0000)")


class MalformedJson(JsonProblem):
    """Not JSON at all (as opposed to JSON carrying a value we refuse); a reader may take it for truncation."""

    def __init__(self, error: json.JSONDecodeError):
        self.msg = error.msg
        self.lineno = error.lineno
        self.colno = error.colno
        super().__init__(f"invalid JSON ({error.msg} at column {error.colno})")


def load_json(text: str) -> Any:
    """json.loads for untrusted text: JsonProblem for malformed JSON and for values PostgreSQL or Python cannot handle."""
    try:
        value = json.loads(text, parse_int=_integer, parse_float=_finite, parse_constant=_constant)
    except json.JSONDecodeError as exc:
        raise MalformedJson(exc) from None
    except RecursionError:
        raise JsonProblem(f"nested deeper than {MAX_JSON_DEPTH} levels") from None
    if text.count("[") + text.count("{") > MAX_JSON_DEPTH or _RISKY_ESCAPE.search(text):
        _check(value)
    return value


def _field(path: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def _string_problem(text: str) -> str | None:
    if "\x00" in text:
        return "contains a NUL character"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            return f"contains a lone surrogate (\\u{ord(text[exc.start]):04x}), which is not valid Unicode"
    return None


def _check(value: Any) -> None:
    """Depth, lone surrogates and NULs, iteratively (a recursive walk would be what deep nesting attacks)."""
    pending: list[tuple[Any, str, int]] = [(value, "", 1)]
    while pending:
        item, path, depth = pending.pop()
        if isinstance(item, str):
            if (problem := _string_problem(item)) is not None:
                raise JsonProblem(problem, path)
        elif isinstance(item, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                raise JsonProblem(f"nested deeper than {MAX_JSON_DEPTH} levels", re.sub(r"\[.*", "", path))
            entries = item.items() if isinstance(item, dict) else enumerate(item)
            for key, child in entries:
                if isinstance(key, str) and (problem := _string_problem(key)) is not None:
                    raise JsonProblem(f"a key {problem}", path)
                pending.append((child, _field(path, key), depth + 1))
