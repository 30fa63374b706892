"""A study's raw data as streamed CSV / JSONL, and its statistics report as Markdown.

Each export is a header plus a generator of rows read with a server-side cursor
(`.iterator(chunk_size=...)` over `values_list`), so memory stays flat however many judgments a
study has; the views wrap the generator in a `StreamingHttpResponse`. On PostgreSQL the judgments
export (the big one) is written by PostgreSQL instead, the same bytes (see below). Small per-study lookups
(model names of the runs, annotators) are read once up front: they grow with the number of
models and annotators, never with the number of rows.

Annotators are pseudonymised by default: a stable keyed hash per study, so the same person has
the same pseudonym throughout one study's exports but cannot be linked across studies or back to
an account without the server's secret key. Researchers may ask for real usernames.

CSV files are RFC 4180 (CRLF records; a field with a comma, quote, CR or LF quoted) and text cells
that a spreadsheet would run as a formula are neutralised with a leading single quote unless the
caller asks for `raw` values (annotation/datasets/csv_cells.py says why and how).

Attention checks are not comparisons of models: the judgments and items exports leave them out
(the study page shows each annotator's score on them), so a re-imported export counts what the
results page counts.

This module deliberately does not import the statistics stack (numpy, scipy, scikit-learn):
exports run in processes that never compute statistics, and the stack costs ~150 MB of memory.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import queue
import struct
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timezone
from typing import TYPE_CHECKING, Any, Literal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import F, Q, TextField
from django.db.models.functions import Cast, Length

from annotation.datasets.csv_cells import FORMULA_PREFIXES, LINE_TERMINATOR, NEUTRALISING_PREFIX, csv_writer, neutralised, spreadsheet_safe
from annotation.evaluation.annotators import annotator_groups
from annotation.evaluation.models import ComparisonItem, Judgment, Rating, Study
from generation.models import GenerationRun, Response

if TYPE_CHECKING:
    from annotation.evaluation.stats import StatisticsReport

CHUNK_SIZE = 2000
FLUSH_BYTES = 64 * 1024
KINDS = ("judgments", "items", "responses", "ratings")
FORMATS = ("csv", "jsonl")

ExportKind = Literal["judgments", "items", "responses", "ratings"]


@dataclass(frozen=True)
class Export:
    """What one export holds: its columns, the columns whose values are JSON text, and the rows."""

    kind: str
    columns: tuple[str, ...]
    rows: Iterator[tuple[Any, ...]]
    json_columns: frozenset[str] = field(default_factory=frozenset)


# --- annotators --------------------------------------------------------------------------------


def pseudonym(*, study_pk: int, user_pk: int) -> str:
    """12 hex digits of HMAC-SHA256(SECRET_KEY, "study:user"): stable within a study, unlinkable across studies."""
    message = f"{study_pk}:{user_pk}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()[:12]


def annotator_labels(study: Study, *, identities: bool = False) -> dict[int, tuple[str, str]]:
    """user id -> (name shown in exports, annotator group) for everyone who judged or rated the study; one query."""
    judged = Judgment.objects.filter(item__study=study).values("annotator_id")
    rated = Rating.objects.filter(item__study=study).values("annotator_id")
    users = dict(get_user_model().objects.filter(Q(pk__in=judged) | Q(pk__in=rated)).values_list("pk", "username"))
    groups = annotator_groups(list(users))
    return {pk: (username if identities else pseudonym(study_pk=study.pk, user_pk=pk), groups[pk]) for pk, username in users.items()}


def _run_models(study: Study) -> dict[int, str]:
    """run id -> model name for the study's target and baselines; one query."""
    runs = GenerationRun.objects.filter(Q(pk=study.target_run_id) | Q(baseline_of_studies=study)).values_list("pk", "model__name")
    return dict(runs)


def _json_text(value) -> str | None:
    """A JSON column's text as PostgreSQL writes jsonb (`", "` between items, characters as they are), whatever the database."""
    return None if value is None else json.dumps(value, ensure_ascii=False)


def _iso(moment) -> str | None:
    """UTC with microseconds always written, as the PostgreSQL-formatted CSV writes it."""
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds") if moment is not None else None


# --- the four exports --------------------------------------------------------------------------

JUDGMENT_COLUMNS = (
    "study", "item", "prompt_id", "prompt", "target_model", "baseline_model", "model_a", "model_b", "response_a", "response_b",
    "length_a", "length_b", "verdict", "verdict_model_terms", "annotator", "annotator_group", "seconds", "reason", "created_at",
)


def judgment_export(study: Study, *, identities: bool = False) -> Export:
    """One row per pairwise judgment, in the external-judgment format's columns plus the full trail.

    `verdict` is the side the annotator pressed (a, b or tie) and `model_a` / `model_b` say which
    model was on which side, so the file re-imports through `annotation.evaluation.judgment_import`;
    `verdict_model_terms` is the same verdict as target / baseline / tie. `response_a` / `response_b`
    are the texts as annotators saw them (scrubbed of self-identification); `length_a` / `length_b`
    are the lengths in characters of the models' own responses, the ones the study's length-bias
    statistic uses.
    """
    labels = annotator_labels(study, identities=identities)
    models = _run_models(study)
    target = models.get(study.target_run_id, "")
    rows = (
        Judgment.objects.filter(item__study=study, item__attention_check="")
        .order_by("item_id", "annotator_id")
        .values_list(
            "item__public_id", "item__row__position", "item__row__conversations", "item__baseline_run_id",
            "item__target_is_a", "item__text_a", "item__text_b", Length("item__target_response__text"),
            Length("item__baseline_response__text"), "side", "verdict", "annotator_id", "seconds", "reason", "created_at",
        )
    )

    def generate() -> Iterator[tuple[Any, ...]]:
        for (item, position, prompt, baseline_run, target_is_a, text_a, text_b, target_len, baseline_len, side, verdict,
             annotator, seconds, reason, created_at) in rows.iterator(chunk_size=CHUNK_SIZE):
            baseline = models.get(baseline_run, "")
            name, group = labels[annotator]
            if target_is_a:
                model_a, model_b, length_a, length_b = target, baseline, target_len, baseline_len
            else:
                model_a, model_b, length_a, length_b = baseline, target, baseline_len, target_len
            yield (study.pk, str(item), position, _json_text(prompt), target, baseline, model_a, model_b, text_a, text_b, length_a, length_b,
                   side, verdict, name, group, seconds, reason, _iso(created_at))

    return Export("judgments", JUDGMENT_COLUMNS, generate(), frozenset({"prompt"}))


ITEM_COLUMNS = (
    "study", "item", "prompt_id", "prompt", "target_model", "baseline_model", "model_a", "model_b", "response_a", "response_b",
    "target_response_id", "baseline_response_id", "is_shared", "scrubbed",
)


def item_export(study: Study) -> Export:
    """One row per comparison item (pairwise) or rated response (absolute): what was shown, on which side."""
    models = _run_models(study)
    target = models.get(study.target_run_id, "")
    rows = (
        ComparisonItem.objects.filter(study=study, attention_check="")
        .order_by("id")
        .values_list("public_id", "row__position", "row__conversations", "baseline_run_id", "target_is_a",
                     "text_a", "text_b", "target_response_id", "baseline_response_id", "is_shared", Cast("scrubbed", TextField()))
    )

    def generate() -> Iterator[tuple[Any, ...]]:
        for (item, position, prompt, baseline_run, target_is_a, text_a, text_b, target_response, baseline_response, is_shared,
             scrubbed) in rows.iterator(chunk_size=CHUNK_SIZE):
            baseline = models.get(baseline_run, "")
            model_a, model_b = (target, baseline) if target_is_a else (baseline, target)
            yield (study.pk, str(item), position, _json_text(prompt), target, baseline, model_a, model_b, text_a, text_b, target_response,
                   baseline_response, is_shared, scrubbed)

    return Export("items", ITEM_COLUMNS, generate(), frozenset({"prompt", "scrubbed"}))


RESPONSE_COLUMNS = (
    "study", "response_id", "run", "model", "role", "prompt_id", "prompt", "text", "error", "finish_reason", "prompt_tokens",
    "completion_tokens", "latency_ms", "created_at",
)


def response_export(study: Study) -> Export:
    """Every response of the study's runs (target and baselines), unscrubbed, as the models wrote them."""
    models = _run_models(study)
    rows = (
        Response.objects.filter(run_id__in=list(models))
        .order_by("run_id", "row__position")
        .values_list("pk", "run_id", "row__position", "row__conversations", "text", "error", "finish_reason",
                     "prompt_tokens", "completion_tokens", "latency_ms", "created_at")
    )

    def generate() -> Iterator[tuple[Any, ...]]:
        for (pk, run, position, prompt, text, error, finish_reason, prompt_tokens, completion_tokens, latency_ms,
             created_at) in rows.iterator(chunk_size=CHUNK_SIZE):
            role = "target" if run == study.target_run_id else "baseline"
            yield (study.pk, pk, run, models[run], role, position, _json_text(prompt), text, error, finish_reason, prompt_tokens,
                   completion_tokens, latency_ms, _iso(created_at))

    return Export("responses", RESPONSE_COLUMNS, generate(), frozenset({"prompt"}))


RATING_COLUMNS = (
    "study", "item", "prompt_id", "prompt", "model", "response", "grade", "annotator", "annotator_group", "seconds", "reason",
    "created_at",
)


def rating_export(study: Study, *, identities: bool = False) -> Export:
    """One row per absolute Fail / Pass / Excellent grade, with the response that was rated."""
    labels = annotator_labels(study, identities=identities)
    target = _run_models(study).get(study.target_run_id, "")
    rows = (
        Rating.objects.filter(item__study=study)
        .order_by("item_id", "annotator_id")
        .values_list("item__public_id", "item__row__position", "item__row__conversations", "item__text_a",
                     "grade", "annotator_id", "seconds", "reason", "created_at")
    )

    def generate() -> Iterator[tuple[Any, ...]]:
        for item, position, prompt, text, grade, annotator, seconds, reason, created_at in rows.iterator(chunk_size=CHUNK_SIZE):
            name, group = labels[annotator]
            yield (study.pk, str(item), position, _json_text(prompt), target, text, grade, name, group, seconds, reason, _iso(created_at))

    return Export("ratings", RATING_COLUMNS, generate(), frozenset({"prompt"}))


def study_export(study: Study, kind: ExportKind, *, identities: bool = False) -> Export:
    if kind == "judgments":
        return judgment_export(study, identities=identities)
    if kind == "items":
        return item_export(study)
    if kind == "responses":
        return response_export(study)
    if kind == "ratings":
        return rating_export(study, identities=identities)
    raise ValueError(f"unknown export {kind!r} (expected one of {', '.join(KINDS)})")


# --- encodings -----------------------------------------------------------------------------------


def csv_chunks(export: Export, *, raw: bool = False) -> Iterator[str]:
    """Header and rows as CSV, in pieces of about 64 KB (one write per piece, not per row).

    JSON columns (the prompt's turns) hold their JSON text; booleans are true/false and missing
    values empty, as the external-judgment reader expects. Formula-leading text cells are
    neutralised unless `raw`.
    """
    buffer = io.StringIO()
    writer = csv_writer(buffer)
    writer.writerow(export.columns)
    booleans = [index for index, name in enumerate(export.columns) if name in ("is_shared",)]
    for row in export.rows:
        if booleans:
            row = tuple(("true" if value else "false") if index in booleans else value for index, value in enumerate(row))
        writer.writerow(row if raw else spreadsheet_safe(row))
        if buffer.tell() >= FLUSH_BYTES:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def jsonl_chunks(export: Export) -> Iterator[str]:
    """One JSON object per row, JSON columns as nested values, in pieces of about 64 KB."""
    columns = export.columns
    nested = [index for index, name in enumerate(columns) if name in export.json_columns]
    pieces: list[str] = []
    size = 0
    for row in export.rows:
        if nested:
            row = list(row)
            for index in nested:
                if row[index] is not None:
                    row[index] = json.loads(row[index])
        line = json.dumps(dict(zip(columns, row)), ensure_ascii=False) + "\n"
        pieces.append(line)
        size += len(line)
        if size >= FLUSH_BYTES:
            yield "".join(pieces)
            pieces.clear()
            size = 0
    yield "".join(pieces)


def encoded(export: Export, fmt: str, *, raw: bool = False) -> Iterator[str]:
    if fmt == "csv":
        return csv_chunks(export, raw=raw)
    if fmt == "jsonl":
        return jsonl_chunks(export)
    raise ValueError(f"unknown export format {fmt!r} (expected csv or jsonl)")


# --- the judgments export by PostgreSQL ------------------------------------------------------------
#
# The judgments export is the big one (a million rows of ~1.2 KB in a large study). A row is an item's columns
# (study ... length_b: the prompt and both responses, ~1.2 KB) followed by one judgment's (verdict ... created_at,
# ~100 bytes), and a study has several judgments per item (its overlap). So PostgreSQL writes each item's part
# once, already as the file's bytes, and each judgment's part the same way; an item's judgment parts come as one
# value, joined by a NUL byte (which no PostgreSQL text can hold). The COPY is binary, so the server adds no
# escaping of its own: COPY's CSV escaping of 1.2 KB per row was most of the server's time (~170k rows/s at best,
# bench/bench_exports.py). Python's work is per item, not per row: the item's part is put in front of each of its
# judgment parts by one bytes.replace.
#
# The bytes are the Python writer's file: for CSV, cells quoted as Python's csv writer quotes them (a comma, a
# double quote, CR or LF), text cells neutralised unless raw, floats as Python writes them; for JSONL, the line
# json.dumps(record, ensure_ascii=False) writes (", " and ": " between items, the same escapes). What belongs to
# an item is computed once per item in a materialised CTE walked in item order, and each item's judgments are read
# beside it through the (item, annotator) unique index; the names of models and annotators are a handful of
# constants, encoded (and neutralised) in Python into the parameters; a verdict is one of five fixed words.
#
# psycopg2 (the project's driver) has no streaming COPY: copy_expert writes every COPY message into a file object
# and returns at the end. It runs in a thread writing into a small bounded queue that this generator drains,
# so memory stays flat and a slow client holds the COPY back. (psycopg 3's cursor.copy() streams without the
# thread; installing psycopg 3 makes Django use it for every connection, a driver change for the whole project.)

_FORMULA_STARTS = "ARRAY[" + ", ".join(f"chr({ord(c)})" for c in FORMULA_PREFIXES) + "]"
COPY_QUEUE_PIECES = 8  # pieces of ~FLUSH_BYTES waiting for the client at most
_CRLF = LINE_TERMINATOR.encode()
_ITEM_PART = JUDGMENT_COLUMNS[:JUDGMENT_COLUMNS.index("verdict")]  # the columns written once per item
_BASELINE = "(m.runs ->> q.x_baseline_run::text)"
# Python writes a float with a fractional part always (20.0); PostgreSQL writes 20. An integral value below 1e15
# (PostgreSQL writes those without an exponent) gets ".0"; a comparison, where a regexp_replace per row was a third
# of the whole export's time.
_PYTHON_FLOAT = ("CASE WHEN j.seconds = trunc(j.seconds) AND abs(j.seconds) < 1e15 AND j.seconds <> 'NaN' "
                 "THEN j.seconds::text || '.0' ELSE j.seconds::text END")
_ISO_UTC = "to_char(j.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')"


def _neutralised(expression: str) -> str:
    """SQL for csv_cells.neutralised: a leading single quote on a formula-leading text."""
    return f"CASE WHEN left({expression}, 1) = ANY ({_FORMULA_STARTS}) THEN chr({ord(NEUTRALISING_PREFIX)}) || ({expression}) ELSE ({expression}) END"


def _csv_cell(expression: str) -> str:
    """SQL for one text cell (already neutralised where the file asks for it) as csv_chunks writes it: quoted (quotes
    doubled) where it holds a comma, a double quote, CR or LF, as csv_cells.csv_writer quotes; NULL as an empty cell.
    (strpos, not a regular expression: a 1 KB response is scanned several times faster, and prose mostly has a comma
    early.)"""
    value = f"({expression})"
    special = " OR ".join(f"strpos({value}, {char}) > 0" for char in ("','", "'\"'", "chr(10)", "chr(13)"))
    return f"""COALESCE(CASE WHEN {special} THEN '"' || replace({value}, '"', '""') || '"' ELSE {value} END, '')"""


def _csv_cell_text(text: str) -> str:
    """One cell as csv_cells.csv_writer writes it (for the names sent as parameters)."""
    buffer = io.StringIO()
    csv_writer(buffer).writerow([text, ""])
    return buffer.getvalue()[:-len(LINE_TERMINATOR) - 1]


def _json(expression: str, *, empty: str = "null") -> str:
    """SQL for a value as json.dumps writes it: to_json escapes the characters json.dumps escapes, the same way."""
    return f"COALESCE(to_json({expression})::text, '{empty}')"


def _sql_concat(cells: list[tuple[str, str | None]], *, json_keys: bool, trailing: bool) -> str:
    """concat() of the cells in order: `v1,v2` (CSV) or `"k1": v1, "k2": v2` (JSON); a cell whose SQL is None is
    written by the one before it. `trailing`: with a separator after the last, so that an item part and a judgment
    part join without one."""
    separator = "', '" if json_keys else "','"
    pieces: list[str] = []
    for key, value in cells:
        if value is not None:
            pieces += [f"'\"{key}\": '", value, separator] if json_keys else [value, separator]
    return f"concat({', '.join(pieces if trailing else pieces[:-1])})"


def _judgment_cells(study: Study, fmt: str, shown) -> dict[str, str | None]:
    """column -> SQL writing its cell over the item row q (CSV text cells already neutralised unless raw: q.c_*),
    the judgment j and the names m; None where the cell before writes this one too (an annotator's name and group
    are one lookup). `shown`: SQL of a text as the CSV shows it (neutralised, or as stored when raw)."""
    length_a = "CASE WHEN q.x_target_is_a THEN q.x_target_len ELSE q.x_baseline_len END"
    length_b = "CASE WHEN q.x_target_is_a THEN q.x_baseline_len ELSE q.x_target_len END"
    model_a = f"CASE WHEN q.x_target_is_a THEN m.target ELSE {_BASELINE} END"
    model_b = f"CASE WHEN q.x_target_is_a THEN {_BASELINE} ELSE m.target END"
    person = "m.people ->> j.annotator_id::text"
    if fmt == "csv":
        return {
            "study": str(int(study.pk)), "item": "q.x_item", "prompt_id": "q.x_position", "prompt": _csv_cell("q.c_prompt"),
            "target_model": "m.target", "baseline_model": _BASELINE, "model_a": model_a, "model_b": model_b,
            "response_a": _csv_cell("q.c_text_a"), "response_b": _csv_cell("q.c_text_b"), "length_a": length_a,
            "length_b": length_b, "verdict": "j.side", "verdict_model_terms": "j.verdict",
            "annotator": f"COALESCE({person}, ',')", "annotator_group": None, "seconds": _PYTHON_FLOAT,
            "reason": f"CASE WHEN j.reason = '' THEN '' ELSE {_csv_cell(shown('j.reason'))} END", "created_at": _ISO_UTC,
        }
    missing = "'\"\"'"  # a name the Python writer looks up with a default of ""
    return {
        "study": str(int(study.pk)), "item": _json("q.x_item"), "prompt_id": _json("q.x_position"),
        "prompt": "COALESCE(q.x_prompt::text, 'null')", "target_model": "m.target",
        "baseline_model": f"COALESCE({_BASELINE}, {missing})", "model_a": f"COALESCE({model_a}, {missing})",
        "model_b": f"COALESCE({model_b}, {missing})", "response_a": _json("q.x_text_a"), "response_b": _json("q.x_text_b"),
        "length_a": _json(length_a), "length_b": _json(length_b), "verdict": _json("j.side"),
        "verdict_model_terms": _json("j.verdict"), "annotator": f"COALESCE({person}, '\"\", \"annotator_group\": \"\"')",
        "annotator_group": None, "seconds": f"COALESCE({_PYTHON_FLOAT}, 'null')", "reason": _json("j.reason"),
        "created_at": _json(_ISO_UTC),
    }


def _names(study: Study, *, identities: bool, fmt: str, raw: bool) -> tuple[dict[str, str], dict[str, str], str]:
    """(run -> model, annotator -> name and group, target model), as the file writes them: CSV cells (neutralised
    unless raw), or JSON values; an annotator's as the two cells, `name,group` or `"name", "annotator_group": "group"`."""
    if fmt == "csv":
        encode = _csv_cell_text if raw else (lambda name: _csv_cell_text(neutralised(name)))
        between = ","
    else:
        encode = lambda name: json.dumps(name, ensure_ascii=False)  # noqa: E731
        between = ', "annotator_group": '
    labels = annotator_labels(study, identities=identities)
    models = _run_models(study)
    return ({str(pk): encode(name) for pk, name in models.items()},
            {str(pk): encode(name) + between + encode(group) for pk, (name, group) in labels.items()},
            encode(models.get(study.target_run_id, "")))


def _judgment_copy_sql(study: Study, fmt: str, *, identities: bool = False, raw: bool = False) -> tuple[str, list[Any]]:
    """(COPY statement, parameters): per item, in the Python writer's order (item, then annotator), the item's part
    of its lines and its judgments' parts joined by NUL, in binary format. Four more parameters follow these: the
    items' id range, (low, low, high, high) for low <= id < high, None for no bound (`_judgment_statements`)."""
    runs, people, target = _names(study, identities=identities, fmt=fmt, raw=raw)
    items = (
        ComparisonItem.objects.filter(study=study, attention_check="")
        .order_by()
        .annotate(
            x_item=Cast("public_id", TextField()), x_position=F("row__position"), x_prompt=F("row__conversations"),
            x_baseline_run=F("baseline_run_id"), x_target_is_a=F("target_is_a"), x_text_a=F("text_a"), x_text_b=F("text_b"),
            x_target_len=Length("target_response__text"), x_baseline_len=Length("baseline_response__text"),
        )
        .values_list("id", "x_item", "x_position", "x_prompt", "x_baseline_run", "x_target_is_a", "x_text_a", "x_text_b",
                     "x_target_len", "x_baseline_len")
    )
    items_sql, items_params = items.query.sql_with_params()
    shown = (lambda expression: expression) if raw else _neutralised
    cells = _judgment_cells(study, fmt, shown)
    json_keys = fmt == "jsonl"
    head = _sql_concat([(name, cells[name]) for name in _ITEM_PART], json_keys=json_keys, trailing=True)
    tail = _sql_concat([(name, cells[name]) for name in JUDGMENT_COLUMNS[len(_ITEM_PART):]], json_keys=json_keys, trailing=False)
    if json_keys:
        head, tail = f"'{{' || {head}", f"{tail} || '}}'"
    item_texts = (f"{shown('q.x_prompt::text')} AS c_prompt, {shown('q.x_text_a')} AS c_text_a, "
                  f"{shown('q.x_text_b')} AS c_text_b")  # neutralised once, read by the cell's several tests
    sql = (f"WITH m AS (SELECT %s::jsonb AS runs, %s::jsonb AS people, %s::text AS target), "
           f"i AS MATERIALIZED (SELECT q.id, {head} AS head FROM (SELECT q.*, {item_texts} FROM ({items_sql}) q) q "
           f"CROSS JOIN m WHERE (%s::bigint IS NULL OR q.id >= %s) AND (%s::bigint IS NULL OR q.id < %s) ORDER BY q.id) "
           f"SELECT i.head, x.tails FROM i CROSS JOIN m CROSS JOIN LATERAL (SELECT string_agg(convert_to({tail}, 'UTF8'), "
           f"'\\x00'::bytea ORDER BY j.annotator_id) AS tails FROM {Judgment._meta.db_table} j "
           f"WHERE j.item_id = i.id) x WHERE x.tails IS NOT NULL")
    return f"COPY ({sql}) TO STDOUT (FORMAT binary)", [json.dumps(runs), json.dumps(people), target, *items_params]


_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
_INT16 = struct.Struct("!h")
_INT32 = struct.Struct("!i")


class _ItemLines:
    """Reads COPY's binary format (a header; per tuple an int16 field count, then per field an int32 length and the
    bytes; int16 -1 at the end) of (item part, judgment parts joined by NUL) tuples, in whatever pieces it arrives,
    and hands out the lines in pieces of about FLUSH_BYTES."""

    def __init__(self, put, line_end: bytes) -> None:
        self.put, self.line_end = put, line_end
        self.pending = b""
        self.header = True
        self.parts: list[bytes] = []
        self.size = 0

    def write(self, data: bytes) -> None:
        buffer = self.pending + data if self.pending else data
        position, end = 0, len(buffer)
        if self.header:
            if end < 19:
                self.pending = buffer
                return
            if buffer[:11] != _COPY_SIGNATURE:
                raise ValueError("not a binary COPY")
            position = 19 + _INT32.unpack_from(buffer, 15)[0]  # after the header extension
            if end < position:
                self.pending = buffer
                return
            self.header = False
        line_end = self.line_end
        while position + 2 <= end:
            (fields,) = _INT16.unpack_from(buffer, position)
            if fields == -1:  # the trailer
                position += 2
                break
            if position + 6 > end:
                break
            (length,) = _INT32.unpack_from(buffer, position + 2)
            at = position + 6 + length
            if at + 4 > end:
                break
            head = buffer[position + 6:at]
            (length,) = _INT32.unpack_from(buffer, at)
            if at + 4 + length > end:
                break
            tails = buffer[at + 4:at + 4 + length]
            position = at + 4 + length
            lines = tails.replace(b"\x00", line_end + head)
            self.parts += (head, lines, line_end)
            self.size += len(lines)
            if self.size >= FLUSH_BYTES:
                self.flush()
        self.pending = buffer[position:]

    def flush(self) -> None:
        if self.parts:
            self.put(b"".join(self.parts))  # UTF-8: the connection's encoding (Django sets it)
            self.parts, self.size = [], 0


ITEMS_PER_COPY = 1000  # items per COPY statement when an export runs on several connections
STREAM_PIECES = 256  # pieces of ~FLUSH_BYTES (16 MB) that one connection may read ahead of the client


def _item_ranges(study: Study) -> list[tuple[int | None, int | None]]:
    """The study's item ids cut into ranges of ITEMS_PER_COPY items, covering every id (the first and last are
    open), so that items added since still fall in one."""
    table = ComparisonItem._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM {table} WHERE study_id = %s) s "
                       f"WHERE n %% %s = 1 AND n > 1 ORDER BY id", [study.pk, ITEMS_PER_COPY])
        cuts = [row[0] for row in cursor.fetchall()]
    return list(zip([None, *cuts], [*cuts, None]))


def _private_connections(count: int) -> list[Any]:
    """`count` new driver connections with Django's settings, each in a read-only REPEATABLE READ transaction
    reading the first one's snapshot, so that together they read one state of the database."""
    params = connection.get_connection_params()
    opened = []
    try:
        for _ in range(count):
            driver = connection.get_new_connection(params)
            driver.set_session(isolation_level="REPEATABLE READ", readonly=True)
            opened.append(driver)
        with opened[0].cursor() as cursor:
            cursor.execute("SELECT pg_export_snapshot()")
            (snapshot,) = cursor.fetchone()
        for driver in opened[1:]:
            with driver.cursor() as cursor:
                cursor.execute("SET TRANSACTION SNAPSHOT %s", [snapshot])
    except BaseException:
        for driver in opened:
            driver.close()
        raise
    return opened


class _Stopped(Exception):
    """The client went away: ends the COPY."""


_END = object()  # after each statement's pieces


def _copy_out(statements: list[tuple[str, list[Any]]], *, first: bytes, line_end: bytes) -> Iterator[bytes]:
    """The lines of binary COPYs of (item part, judgment parts) tuples, statement after statement, after `first` (a
    header or nothing), in UTF-8 pieces of about FLUSH_BYTES (as the server sent them: nothing decoded here and
    encoded again for the response).

    Inside a transaction (the caller's writes must be seen) one statement runs on Django's connection. Otherwise
    up to LIMA_EXPORT_CONNECTIONS private connections sharing one snapshot run the statements in turns (statement
    k on connection k mod n), each reading ahead into its own bounded queue while the client drains the one whose
    turn it is: memory stays bounded, and a slow client holds the COPYs back.
    """
    shared = connection.in_atomic_block
    streams = 1 if shared else max(1, min(settings.LIMA_EXPORT_CONNECTIONS, len(statements)))
    if shared:
        connection.ensure_connection()
        drivers = [connection.connection]
    else:
        drivers = _private_connections(streams)
    queues = [queue.Queue(maxsize=COPY_QUEUE_PIECES if streams == 1 else STREAM_PIECES) for _ in range(streams)]
    stop = threading.Event()
    failure: list[BaseException] = []

    def copy(number: int) -> None:
        driver, pieces = drivers[number], queues[number]

        def put(piece: str) -> None:
            if stop.is_set():
                raise _Stopped
            pieces.put(piece)

        try:
            with driver.cursor() as cursor:
                # The statement's estimated cost makes PostgreSQL compile it with LLVM first (~0.8 s for ~95
                # expressions that then run once per item, more than the JIT code saves) and start parallel workers
                # for each range's few items (~30 ms each, on cores the other connections use).
                # LOCAL: for this transaction only (a pooler may hand the server connection to someone else after it)
                cursor.execute("SET LOCAL jit = off; SET LOCAL max_parallel_workers_per_gather = 0")
                for sql, params in statements[number::streams]:
                    lines = _ItemLines(put, line_end)
                    cursor.copy_expert(cursor.mogrify(sql, params).decode(), lines)  # copy_expert takes no parameters
                    lines.flush()
                    put(_END)
        except BaseException as exc:  # handed to the consumer, raised there
            failure.append(exc)
        finally:
            pieces.put(None)

    workers = [threading.Thread(target=copy, args=(number,), name=f"export-copy-{number}", daemon=True)
               for number in range(streams)]
    for worker in workers:
        worker.start()
    finished = False
    try:
        if first:
            yield first
        for number in range(len(statements)):
            pieces = queues[number % streams]
            while (piece := pieces.get()) is not _END:
                if piece is None:  # that connection failed
                    raise failure[0] if failure else RuntimeError("an export connection ended early")
                yield piece
        finished = True
    finally:
        stop.set()
        for worker, pieces in zip(workers, queues):
            while worker.is_alive():  # let a blocked writer reach the stop flag
                try:
                    pieces.get(timeout=0.1)
                except queue.Empty:
                    pass
            worker.join()
        if not shared:
            for driver in drivers:
                driver.close()
        elif not finished or failure:
            connection.close()  # an interrupted COPY leaves the connection mid-protocol: the next request opens a new one
    if failure and not isinstance(failure[0], _Stopped):
        raise failure[0]


def _judgment_statements(study: Study, fmt: str, *, identities: bool, raw: bool) -> list[tuple[str, list[Any]]]:
    """The COPY statements of a judgments export: one for the whole study inside a transaction or with one
    connection, else one per range of ITEMS_PER_COPY items."""
    sql, params = _judgment_copy_sql(study, fmt, identities=identities, raw=raw)
    whole = connection.in_atomic_block or settings.LIMA_EXPORT_CONNECTIONS <= 1
    return [(sql, [*params, low, low, high, high]) for low, high in ([(None, None)] if whole else _item_ranges(study))]


def postgres_judgment_csv(study: Study, *, identities: bool = False, raw: bool = False) -> Iterator[bytes]:
    """The judgments CSV (the same bytes as `csv_chunks(judgment_export(...))`), written by PostgreSQL."""
    header = io.StringIO()
    csv_writer(header).writerow(JUDGMENT_COLUMNS)
    return _copy_out(_judgment_statements(study, "csv", identities=identities, raw=raw), first=header.getvalue().encode(),
                     line_end=_CRLF)


def postgres_judgment_jsonl(study: Study, *, identities: bool = False) -> Iterator[bytes]:
    """The judgments JSONL (the same lines as `jsonl_chunks(judgment_export(...))`), written by PostgreSQL."""
    return _copy_out(_judgment_statements(study, "jsonl", identities=identities, raw=False), first=b"", line_end=b"\n")


def study_export_chunks(study: Study, kind: ExportKind, fmt: str, *, identities: bool = False, raw: bool = False) -> Iterator[bytes]:
    """What the export views stream, as UTF-8: the judgments export from PostgreSQL where the database is PostgreSQL,
    else Python's.

    `raw` leaves formula-leading CSV cells as they are (for programs; JSONL is always raw).
    """
    if kind == "judgments" and connection.vendor == "postgresql":
        if fmt == "csv":
            return postgres_judgment_csv(study, identities=identities, raw=raw)
        if fmt == "jsonl":
            return postgres_judgment_jsonl(study, identities=identities)
    return (chunk.encode() for chunk in encoded(study_export(study, kind, identities=identities), fmt, raw=raw))


# --- the statistics report as Markdown ---------------------------------------------------------


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _share(interval) -> str:
    if interval is None:
        return "—"
    return f"{100 * interval.estimate:.1f}% [{100 * interval.low:.1f}–{100 * interval.high:.1f}]"


def _number(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _cell(text: Any) -> str:
    """Table cells hold names from users and files: keep them on one line and out of the table syntax."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("\r", " ")


def _table(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> list[str]:
    header = list(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return lines


def _outcome_section(title: str, outcomes, target: str) -> list[str]:
    lines = [f"## {title}", ""]
    if not outcomes:
        return lines + ["No judgments.", ""]
    rows = []
    for row in outcomes:
        if row.insufficient:
            rows.append((row.baseline, row.n_judgments, row.n_prompts, row.message, "", "", ""))
        else:
            rows.append((row.baseline, row.n_judgments, row.n_prompts, _share(row.target_wins), _share(row.ties),
                         _share(row.baseline_wins), _share(row.target_wins_or_ties)))
    header = ("Baseline", "Judgments", "Prompts", f"{target} wins", "Tie", "Baseline wins", f"{target} ≥ baseline")
    return lines + _table(header, rows) + [""]


def report_markdown(report: StatisticsReport, *, title: str, target: str) -> str:
    """A readable report: Figure 1 (humans, then the LLM judge), agreement, ratings, biases, annotators, notes."""
    confidence = f"{100 * report.confidence:g}%"
    lines = [
        f"# {title}", "",
        f"Target model: **{target}**. Shares count every judgment; intervals are {confidence} cluster-bootstrap "
        f"intervals over prompts ({report.resamples} resamples, seed {report.seed}).", "",
    ]
    lines += _outcome_section("Preference of human annotators (LIMA Figure 1)", report.human, target)
    lines += _outcome_section("Preference of the LLM judge (LIMA Figure 2)", report.llm, target)

    lines += ["## Agreement between annotator groups", ""]
    for name, agreement in (("By annotator group", report.agreement), ("Humans pooled vs the LLM judge", report.human_llm_agreement)):
        lines += [f"### {name}", ""]
        if agreement.insufficient:
            lines += [agreement.message or "Not enough shared items.", ""]
            continue
        lines += _table(
            ("Groups", "Annotator pairs", "Comparisons", "Tie-discounted", "With ties", "Without ties", "Mean Cohen's κ",
             "Krippendorff's α (both groups' annotators pooled)"),
            ((pair.label, pair.annotator_pairs, pair.comparisons, _percent(pair.tie_discounted), _percent(pair.agreement_with_ties),
              _percent(pair.agreement_without_ties), _number(pair.mean_cohen_kappa), _number(pair.krippendorff_alpha))
             for pair in agreement.group_pairs),
        )
        lines += ["", f"{agreement.annotators} annotators, {agreement.shared_items} shared items, Krippendorff's α over all: "
                      f"{_number(agreement.krippendorff_alpha)}.", ""]

    lines += ["## Absolute ratings", ""]
    ratings = report.ratings
    if ratings.insufficient and not ratings.n_ratings:
        lines += [ratings.message or "No ratings.", ""]
    else:
        shares = ratings.shares or {}
        lines += _table(("Grade", "Ratings", "Share"),
                        ((grade, count, _share(shares.get(grade))) for grade, count in ratings.counts.items()))
        lines += ["", f"{ratings.n_ratings} ratings of {ratings.n_items} responses. {ratings.message}".rstrip(), ""]

    lines += ["## Position bias", ""]
    if report.position_bias:
        lines += _table(("LLM judge", "Items asked in both orders", "Flips", "Flip share", "Prefers first position"),
                        ((bias.judge, bias.pairs, bias.flips, bias.message if bias.insufficient else _share(bias.flip_share),
                          _percent(bias.first_position_share)) for bias in report.position_bias))
        lines.append("")
    else:
        lines += ["No LLM judge was asked in both orders.", ""]
    side = report.side_preference
    lines += [("Human annotators: " + side.message) if side.insufficient or side.left_share is None else
              f"Human annotators picked the left response in {_share(side.left_share)} of {side.decisive} decisive verdicts "
              "(50% = no side bias).", ""]

    lines += ["## Length bias", ""]
    for who, bias in report.length_bias.items():
        if bias.insufficient:
            lines += [f"- {who}: {bias.message}"]
        else:
            lines += [f"- {who}: Spearman ρ between length difference and verdict {_number(bias.spearman)}, "
                      f"Pearson r {_number(bias.pearson)} over {bias.n} judgments."]
    lines.append("")

    lines += ["## Annotators", ""]
    lines += _table(("Annotator", "Group", "Judgments", "Shared items", "Agreement with others (tie-discounted)"),
                    ((a.annotator, a.group, a.judgments, a.shared_items,
                      a.message if a.tie_discounted_with_others is None and a.message else _percent(a.tie_discounted_with_others))
                     for a in report.annotators))
    lines.append("")
    if report.notes:
        lines += ["## Notes", ""] + [f"- {note}" for note in report.notes] + [""]
    return "\n".join(lines)
