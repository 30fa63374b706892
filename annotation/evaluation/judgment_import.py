"""Read pairwise judgments collected elsewhere, so they go through the same statistics (no Django import).

The format, CSV (header row) or JSONL (one object per line), has one row per item x annotator:

=================  ========  ===========================================================
column / key       required  meaning
=================  ========  ===========================================================
prompt_id          yes       the prompt both responses answer (any string; JSON numbers too)
model_a            yes       the model whose response was shown first / on the left
model_b            yes       the model whose response was shown second / on the right
verdict            yes       ``a``, ``b`` or ``tie`` (any case), or the better model's name
annotator          yes       who judged (a pseudonym is fine)
annotator_group    yes       e.g. ``author``, ``crowd``, ``llm``
length_a           no        length of response A (a whole number, any unit used consistently)
length_b           no        length of response B
target_model       no        the model under study (a study's own export names it in every row)
=================  ========  ===========================================================

Other columns are ignored. One of the two models is the *target* (the model under study, LIMA
in the paper), the other its baseline. Pass `target=`; without it the target is the model the
`target_model` column names (one name in every row that has one), else the one model that appears
in every row, and the file is rejected when that is ambiguous.

A *tournament* (`tournament=True`) has no target: any models against each other, as in Chatbot
Arena. Each row is then stored with its pair in a fixed order (the names sorted), `model` the first
and `baseline` the second, and the verdict read as "target" = the first won, so two annotators who
saw the pair in opposite orders give comparable verdicts.

An item is the prompt with its unordered pair of models, so the same comparison shown in
either order is one item. Every problem is reported with its line number and nothing is
returned unless the whole file is valid: unknown verdicts, missing fields, a row without the
target model, the same (item, annotator) twice, an annotator listed in two groups.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from typing import IO, Any, Literal

from annotation.datasets.lima_format import MAX_ERRORS, FormatError, RowError, load_json_row, text_lines
from annotation.evaluation.stats import PairwiseJudgment
from annotation.input_limits import InputLimits

REQUIRED = ("prompt_id", "model_a", "model_b", "verdict", "annotator", "annotator_group")
OPTIONAL = ("length_a", "length_b")
ITEM_SEPARATOR = "::"
MAX_LENGTH = 2**31 - 1  # what the database's integer column holds


@dataclass(frozen=True)
class ImportedJudgments:
    target: str
    baselines: list[str]
    judgments: list[PairwiseJudgment]
    # Tournaments: each judgment's first model (its verdict's "target"); empty when the file has one target.
    first_models: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Row:
    line: int
    prompt_id: str
    model_a: str
    model_b: str
    side: Literal["a", "b", "tie"]
    annotator: str
    group: str
    length_a: int | None
    length_b: int | None
    target_model: str | None = None


class _Errors:
    """Collects row errors up to MAX_ERRORS; `full` tells the reader to stop."""

    def __init__(self) -> None:
        self.errors: list[RowError] = []
        self.truncated = False

    def add(self, line: int, field: str, message: str) -> None:
        if len(self.errors) >= MAX_ERRORS:
            self.truncated = True
            return
        self.errors.append(RowError(line, field, message))

    @property
    def full(self) -> bool:
        return self.truncated

    def raise_if_any(self) -> None:
        if self.errors:
            raise FormatError(sorted(self.errors, key=lambda error: error.line), self.truncated)


def _text(value: Any, *, line: int, name: str, errors: _Errors) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        errors.add(line, name, "missing")
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        errors.add(line, name, f"expected a string, got {type(value).__name__}")
        return None
    text = str(value).strip()
    if "\x00" in text:
        errors.add(line, name, "contains a NUL character")
        return None
    return text


def _length(value: Any, *, line: int, name: str, errors: _Errors) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    # isdecimal, not isdigit: "²" is a digit that int() refuses. Length first: int() of 100,000 digits raises.
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdecimal() and len(value.strip()) <= 10:
        value = int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_LENGTH:
        return value
    shown = f"{value[:20]}… ({len(value):,} characters)" if isinstance(value, str) and len(value) > 40 else repr(value)
    errors.add(line, name, f"expected a whole number from 0 to {MAX_LENGTH:,}, got {shown}")
    return None


def _side(verdict: str, model_a: str, model_b: str, *, line: int, errors: _Errors) -> Literal["a", "b", "tie"] | None:
    lowered = verdict.lower()
    if lowered in ("a", "b", "tie"):
        return lowered  # type: ignore[return-value]
    if verdict == model_a or (lowered == model_a.lower() and lowered != model_b.lower()):
        return "a"
    if verdict == model_b or lowered == model_b.lower():
        return "b"
    errors.add(line, "verdict", f"unknown verdict {verdict[:100]!r} (expected a, b, tie, {model_a!r} or {model_b!r})")
    return None


def _validate(record: dict[str, Any], *, line: int, errors: _Errors) -> _Row | None:
    start = len(errors.errors)
    values = {name: _text(record.get(name), line=line, name=name, errors=errors) for name in REQUIRED}
    lengths = {name: _length(record.get(name), line=line, name=name, errors=errors) for name in OPTIONAL}
    side = None
    if values["model_a"] and values["model_b"] and values["model_a"] == values["model_b"]:
        errors.add(line, "model_b", f"model_a and model_b are both {values['model_a']!r}")
    elif values["verdict"] and values["model_a"] and values["model_b"]:
        side = _side(values["verdict"], values["model_a"], values["model_b"], line=line, errors=errors)
    if len(errors.errors) > start or side is None:
        return None
    named = record.get("target_model")
    return _Row(
        line=line, prompt_id=values["prompt_id"], model_a=values["model_a"], model_b=values["model_b"], side=side,
        annotator=values["annotator"], group=values["annotator_group"], length_a=lengths["length_a"],
        length_b=lengths["length_b"], target_model=named.strip() if isinstance(named, str) and named.strip() else None,
    )


def _named_target(rows: list[_Row], errors: _Errors) -> str | None:
    """The model a target_model column names, when every row that has one names the same model."""
    first: _Row | None = None
    for row in rows:
        if row.target_model is None:
            continue
        if first is None:
            first = row
        elif row.target_model != first.target_model:
            errors.add(row.line, "target_model", f"{row.target_model!r} here, {first.target_model!r} on line {first.line}; "
                                                 "a file has one target model (or name it)")
            return None
    return first.target_model if first else None


def _infer_target(rows: list[_Row], errors: _Errors) -> str | None:
    if any(row.target_model for row in rows):
        return _named_target(rows, errors)
    common = {rows[0].model_a, rows[0].model_b}
    for row in rows[1:]:
        common &= {row.model_a, row.model_b}
    if len(common) == 1:
        return common.pop()
    if not common:
        errors.add(1, "model_a", "no model appears in every row; name the target model")
    else:
        errors.add(1, "model_a", f"every row compares {' and '.join(sorted(common))}; name which one is the target")
    return None


def _judgments(rows: list[_Row], target: str | None, errors: _Errors, *, tournament: bool = False) -> ImportedJudgments:
    """Cross-row checks (target, duplicates, groups) and the conversion to model terms; raises on any error."""
    if not rows and not errors.errors:
        errors.add(1, "", "the file holds no judgments")
    if tournament:
        if target:
            errors.add(1, "target", "a tournament has no target model: leave the target empty")
        target = ""
    elif target is not None:
        target = target.strip()
    elif rows:
        target = _infer_target(rows, errors)
    seen: dict[tuple[str, frozenset[str], str], int] = {}
    firsts: list[str] = []
    group_of: dict[str, tuple[str, int]] = {}
    judgments = []
    for row in rows:
        key = (row.prompt_id, frozenset((row.model_a, row.model_b)), row.annotator)
        if key in seen:
            errors.add(row.line, "annotator", f"{row.annotator!r} already judged prompt {row.prompt_id!r} "
                                              f"({row.model_a} vs {row.model_b}) on line {seen[key]}")
            continue
        seen[key] = row.line
        group, first_line = group_of.setdefault(row.annotator, (row.group, row.line))
        if group != row.group:
            errors.add(row.line, "annotator_group",
                       f"{row.annotator!r} is in group {group!r} on line {first_line}, here {row.group!r}")
            continue
        if target is None:
            continue
        if tournament:
            first, second = sorted((row.model_a, row.model_b))
            on_left = first == row.model_a
            verdict = "tie" if row.side == "tie" else ("target" if (row.side == "a") == on_left else "baseline")
            judgments.append(PairwiseJudgment(
                item=f"{row.prompt_id}{ITEM_SEPARATOR}{first}{ITEM_SEPARATOR}{second}", prompt=row.prompt_id, baseline=second,
                annotator=row.annotator, group=row.group, verdict=verdict,
                target_len=row.length_a if on_left else row.length_b, baseline_len=row.length_b if on_left else row.length_a,
                target_on_left=on_left,
            ))
            firsts.append(first)
            continue
        if target not in (row.model_a, row.model_b):
            errors.add(row.line, "model_a", f"neither {row.model_a!r} nor {row.model_b!r} is the target model {target!r}")
            continue
        target_on_left = row.model_a == target
        baseline = row.model_b if target_on_left else row.model_a
        if row.side == "tie":
            verdict = "tie"
        else:
            verdict = "target" if (row.side == "a") == target_on_left else "baseline"
        judgments.append(PairwiseJudgment(
            item=f"{row.prompt_id}{ITEM_SEPARATOR}{baseline}", prompt=row.prompt_id, baseline=baseline,
            annotator=row.annotator, group=row.group, verdict=verdict,
            target_len=row.length_a if target_on_left else row.length_b,
            baseline_len=row.length_b if target_on_left else row.length_a,
            target_on_left=target_on_left,
        ))
    errors.raise_if_any()
    assert target is not None  # no errors means a target was given or inferred
    if tournament:
        models = list(dict.fromkeys(name for row in rows for name in (row.model_a, row.model_b)))
        return ImportedJudgments(target="", baselines=models, judgments=judgments, first_models=firsts)
    return ImportedJudgments(
        target=target, baselines=list(dict.fromkeys(j.baseline for j in judgments)), judgments=judgments
    )


def parse_judgments_jsonl(stream: IO[bytes] | IO[str], *, target: str | None = None,
                          limits: InputLimits | None = None, tournament: bool = False) -> ImportedJudgments:
    """Every judgment of a JSONL file, or FormatError listing the bad lines (up to MAX_ERRORS)."""
    rows: list[_Row] = []
    errors = _Errors()
    for line, text in text_lines(stream, limits=limits):
        if not text.strip():
            continue
        if errors.full:
            break
        problems: list[RowError] = []
        record = load_json_row(text, line=line, errors=problems)
        if record is None:
            errors.add(line, problems[0].field, problems[0].message)
            continue
        if not isinstance(record, dict):
            errors.add(line, "", f"expected a JSON object, got {type(record).__name__}")
            continue
        if (row := _validate(record, line=line, errors=errors)) is not None:
            rows.append(row)
    return _judgments(rows, target, errors, tournament=tournament)


def parse_judgments_csv(stream: IO[bytes] | IO[str], *, target: str | None = None,
                        limits: InputLimits | None = None, tournament: bool = False) -> ImportedJudgments:
    """Every judgment of a CSV file with a header row, or FormatError with line numbers."""
    # csv reads the physical lines as they come; quoted fields may span several, so line numbers follow the reader.
    reader = csv.reader(text for _, text in text_lines(stream, limits=limits))
    try:
        header = [name.strip().lower() for name in next(reader)]
    except StopIteration:
        raise FormatError([RowError(1, "", "the file is empty")]) from None
    except csv.Error as exc:
        raise FormatError([RowError(1, "", f"unreadable CSV header ({exc})")]) from None
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise FormatError([RowError(1, "header", f"missing column(s): {', '.join(missing)}")])
    rows: list[_Row] = []
    errors = _Errors()
    while not errors.full:
        line = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.add(line, "", f"unreadable CSV ({exc})")
            break
        if not any(cell.strip() for cell in record):
            continue
        if len(record) != len(header):
            errors.add(line, "", f"expected {len(header)} columns, got {len(record)}")
            continue
        if (row := _validate(dict(zip(header, record)), line=line, errors=errors)) is not None:
            rows.append(row)
    return _judgments(rows, target, errors, tournament=tournament)


def parse_judgments(
    stream: IO[bytes] | IO[str], *, fmt: Literal["csv", "jsonl"], target: str | None = None,
    limits: InputLimits | None = None, tournament: bool = False,
) -> ImportedJudgments:
    """Dispatch on the declared format (a file name's extension, as the upload form reports it)."""
    if fmt == "csv":
        return parse_judgments_csv(stream, target=target, limits=limits, tournament=tournament)
    if fmt == "jsonl":
        return parse_judgments_jsonl(stream, target=target, limits=limits, tournament=tournament)
    raise ValueError(f"unknown judgment format {fmt!r} (expected csv or jsonl)")
