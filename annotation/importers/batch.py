"""What every importer returns: candidates, a per-rule report, and the errors that stop an import."""

from __future__ import annotations

import io
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Callable, Iterator

from annotation.input_limits import InputLimits, LineTooLong, bounded_lines, human_size

# Progress callback: (bytes read so far, total bytes of the input); called every few MB.
Progress = Callable[[int, int], None]

MAX_REPORTED_PROBLEMS = 50
PROGRESS_EVERY_BYTES = 4 * 1024 * 1024


class InputError(Exception):
    """The input is unusable as a whole (malformed, truncated, wrong encoding): the import stops, nothing is saved."""

    def __init__(self, file: str | os.PathLike, line: int | None, message: str):
        self.file = str(file)
        self.line = line
        self.message = message
        where = f"{self.file}, line {line}" if line else self.file
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class RowProblem:
    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"{self.file}, line {self.line}: {self.message}" if self.line else f"{self.file}: {self.message}"


@dataclass
class Candidate:
    """One example proposed by an importer; `source_key` identifies it across re-runs (idempotent imports)."""

    source_key: str
    source: str
    split: str
    conversations: list[str]
    title: str
    community: str
    provenance: dict


@dataclass
class ImportReport:
    """Records read, kept and rejected per rule. A rejection is counted under the first rule that fails."""

    importer: str
    files: list[str] = field(default_factory=list)
    read: int = 0
    kept: int = 0
    bytes_read: int = 0
    rejected: Counter = field(default_factory=Counter)
    skipped: list[RowProblem] = field(default_factory=list)
    skipped_count: int = 0
    strict: bool = False

    def reject(self, rule: str, n: int = 1) -> None:
        self.rejected[rule] += n

    def skip(self, file: str | os.PathLike, line: int | None, message: str) -> None:
        """A record that parses but cannot be used: reported, or fatal in strict mode."""
        if self.strict:
            raise InputError(file, line, message)
        self.skipped_count += 1
        if len(self.skipped) < MAX_REPORTED_PROBLEMS:
            self.skipped.append(RowProblem(str(file), line, message))

    def as_dict(self) -> dict:
        return {
            "importer": self.importer,
            "files": self.files,
            "read": self.read,
            "kept": self.kept,
            "bytes_read": self.bytes_read,
            "rejected": dict(sorted(self.rejected.items())),
            "skipped_count": self.skipped_count,
            "skipped": [str(problem) for problem in self.skipped],
        }

    def summary_lines(self) -> list[str]:
        lines = [f"read {self.read:,}, kept {self.kept:,}, skipped {self.skipped_count:,} malformed records"]
        lines += [f"  rejected by {rule}: {n:,}" for rule, n in sorted(self.rejected.items(), key=lambda item: -item[1])]
        lines += [f"  skipped {problem}" for problem in self.skipped[:10]]
        return lines


@dataclass
class CandidateBatch:
    candidates: list[Candidate]
    report: ImportReport


class ProgressMeter:
    """Adds up bytes across the files of one import and calls the progress callback every few MB."""

    def __init__(self, total: int, callback: Progress | None):
        self.total = total
        self.done = 0
        self._callback = callback
        self._last = 0

    def add(self, n: int) -> None:
        self.done += n
        if self._callback is not None and self.done - self._last >= PROGRESS_EVERY_BYTES:
            self._last = self.done
            self._callback(self.done, self.total)

    def finish(self) -> None:
        if self._callback is not None:
            self._callback(self.total, self.total)


class CountingReader(io.RawIOBase):
    """A read-only binary stream that reports the bytes it hands out to a ProgressMeter."""

    def __init__(self, raw: IO[bytes], meter: ProgressMeter):
        self._raw = raw
        self._meter = meter

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self._meter.add(len(data))
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def files_under(path: str | os.PathLike, patterns: tuple[str, ...]) -> list[Path]:
    """The files an import reads: `path` itself, or the files matching `patterns` below it, sorted."""
    root = Path(path)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise InputError(root, None, "no such file or directory")
    found = sorted({p for pattern in patterns for p in root.rglob(pattern) if p.is_file()})
    if not found:
        raise InputError(root, None, f"no input files ({', '.join(patterns)}) in this directory")
    return found


def too_long(file: str | os.PathLike, error: LineTooLong) -> InputError:
    return InputError(file, error.line, f"the line is longer than {human_size(error.limit)} (LIMA_MAX_LINE_BYTES)")


def too_large(file: str | os.PathLike, limits: InputLimits) -> InputError:
    return InputError(file, None, f"larger than {human_size(limits.max_file_bytes)}, the most one file may be read whole "
                                  f"(LIMA_MAX_UPLOAD_BYTES)")


def utf8_lines(stream: IO[bytes], file: str | os.PathLike, limits: InputLimits) -> Iterator[tuple[int, str]]:
    """(line number, text) of a byte stream; a line that is not UTF-8 or longer than the limit stops the import."""
    try:
        for number, raw in bounded_lines(stream, max_line_bytes=limits.max_line_bytes):
            try:
                yield number, raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(file, number, f"not UTF-8 ({exc.reason} at byte {exc.start}); re-encode the file as UTF-8") from exc
    except LineTooLong as exc:
        raise too_long(file, exc) from None
