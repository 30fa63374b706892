"""A study's raw data as streamed CSV / JSONL, and its statistics report as Markdown.

Each export is a header plus a generator of rows read with a server-side cursor
(`.iterator(chunk_size=...)` over `values_list`), so memory stays flat however many judgments a
study has; the views wrap the generator in a `StreamingHttpResponse`. Small per-study lookups
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
# The judgments export is the big one (a million rows of ~1.2 KB in a large study). On PostgreSQL the
# CSV is COPY's own (`COPY (SELECT ...) TO STDOUT (FORMAT csv, HEADER)`: RFC 4180 quoting by the server,
# no per-field work in Python) and the JSONL is one json_build_object per row read through a server-side
# cursor. Both are the Python writer's file: the SELECT does what csv_chunks does in Python (formula
# neutralisation unless raw, an empty text written bare like a missing value, floats as Python writes them),
# and the only per-row work left here is COPY's LF record end turned into RFC 4180's CRLF.
#
# psycopg2 (the project's driver) has no streaming COPY: copy_expert writes every row into a file object
# and returns at the end. It runs in a thread writing into a small bounded queue that this generator drains,
# so memory stays flat and a slow client holds the COPY back. (psycopg 3's cursor.copy() streams without the
# thread; installing psycopg 3 makes Django use it for every connection, a driver change for the whole project.)

_FORMULA_STARTS = "ARRAY[" + ", ".join(f"chr({ord(c)})" for c in FORMULA_PREFIXES) + "]"
COPY_QUEUE_PIECES = 8  # pieces of ~FLUSH_BYTES waiting for the client at most
_CRLF = LINE_TERMINATOR.encode()


def _neutralised(expression: str) -> str:
    """SQL for csv_cells.neutralised: a leading single quote on a formula-leading text."""
    return f"CASE WHEN left({expression}, 1) = ANY ({_FORMULA_STARTS}) THEN chr({ord(NEUTRALISING_PREFIX)}) || ({expression}) ELSE ({expression}) END"


def _csv_text(expression: str, *, raw: bool) -> str:
    """SQL for one text cell as csv_chunks writes it: neutralised unless raw; empty as NULL, so COPY writes it bare
    (COPY quotes an empty string to tell it from NULL, Python's csv writer does not)."""
    return f"NULLIF({expression if raw else _neutralised(expression)}, '')"


# Python writes a float with a fractional part always (20.0); PostgreSQL writes 20. An integral value below 1e15
# (PostgreSQL writes those without an exponent) gets ".0"; a comparison, where a regexp_replace per row was a third
# of the whole export's time.
_PYTHON_FLOAT = ("CASE WHEN j.seconds = trunc(j.seconds) AND abs(j.seconds) < 1e15 AND j.seconds <> 'NaN' "
                 "THEN j.seconds::text || '.0' ELSE j.seconds::text END")
_ISO_UTC = "to_char(j.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')"

# The judgments export's SQL does each piece of work where it is cheapest (bench/bench_exports.py: 1,000,000
# rows, ten judgments per item). What belongs to an item (its texts and their neutralisation, the prompt, the
# responses' lengths) is computed once per item in a materialised CTE walked in item order, and each item's
# judgments are read beside it through the (item, annotator) unique index; the names of models and annotators
# are a handful of constants, written (and neutralised) in Python into the parameters; a verdict is one of five
# fixed words that no spreadsheet reads as a formula, so it is written as stored.
_COLUMNS = "<columns>"  # where the SELECT list goes in _judgment_rows_sql's statement
_ITEM_CELLS = {
    # CTE column: (SQL over the per-item row q, whether it is a text cell that a spreadsheet could run)
    "x_prompt": ("q.x_prompt::text", True),
    "x_text_a": ("q.x_text_a", True),
    "x_text_b": ("q.x_text_b", True),
}


def _names(study: Study, *, identities: bool, neutralise: bool) -> tuple[dict[str, str], dict[str, str], dict[str, str], str]:
    """(runs, annotator names, annotator groups, target model) as the file writes them: neutralised for a CSV
    read by people, as stored for a raw CSV and JSONL."""
    labels = annotator_labels(study, identities=identities)
    models = _run_models(study)
    cell = neutralised if neutralise else (lambda text: text)
    return ({str(pk): cell(name) for pk, name in models.items()},
            {str(pk): cell(name) for pk, (name, _) in labels.items()},
            {str(pk): cell(group) for pk, (_, group) in labels.items()},
            cell(models.get(study.target_run_id, "")))


def _judgment_rows_sql(study: Study, *, identities: bool, cells: str) -> tuple[str, list[Any]]:
    """(WITH ... FROM clause, parameters) of the judgments export, shared by CSV and JSONL; rows come out in the
    Python writer's order (item, then annotator). `cells`: "neutralised" or "raw" CSV cells, or "json" values."""
    runs, names, groups, target = _names(study, identities=identities, neutralise=cells == "neutralised")
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
    per_item = ["q.id AS x_item_id", "q.x_item", "q.x_position", "q.x_baseline_run", "q.x_target_is_a", "q.x_target_len",
                "q.x_baseline_len"]
    for column, (value, text) in _ITEM_CELLS.items():
        if cells == "json":
            value = f"q.{column}"
        elif text:
            value = _csv_text(value, raw=cells == "raw")
        per_item.append(f"{value} AS {column}")
    sql = (f"WITH i AS MATERIALIZED (SELECT {', '.join(per_item)} FROM ({items_sql}) q ORDER BY q.id), "
           f"m AS (SELECT %s::jsonb AS runs, %s::jsonb AS names, %s::jsonb AS groups, %s::text AS target) "
           f"SELECT {_COLUMNS} FROM i CROSS JOIN m CROSS JOIN LATERAL (SELECT * FROM {Judgment._meta.db_table} "
           f"WHERE item_id = i.x_item_id ORDER BY annotator_id) j")
    return sql, [*items_params, json.dumps(runs), json.dumps(names), json.dumps(groups), target]


_BASELINE = "(m.runs ->> i.x_baseline_run::text)"
_JUDGMENT_VALUES = {
    # column: (SQL of the value, whether it is a per-judgment text cell that a spreadsheet could run; the per-item
    # texts are neutralised in the CTE, the names in Python)
    "item": ("i.x_item", False),
    "prompt_id": ("i.x_position", False),
    "prompt": ("i.x_prompt", False),
    "target_model": ("NULLIF(m.target, '')", False),
    "baseline_model": (f"NULLIF({_BASELINE}, '')", False),
    "model_a": (f"NULLIF(CASE WHEN i.x_target_is_a THEN m.target ELSE {_BASELINE} END, '')", False),
    "model_b": (f"NULLIF(CASE WHEN i.x_target_is_a THEN {_BASELINE} ELSE m.target END, '')", False),
    "response_a": ("i.x_text_a", False),
    "response_b": ("i.x_text_b", False),
    "length_a": ("CASE WHEN i.x_target_is_a THEN i.x_target_len ELSE i.x_baseline_len END", False),
    "length_b": ("CASE WHEN i.x_target_is_a THEN i.x_baseline_len ELSE i.x_target_len END", False),
    "verdict": ("j.side", False),
    "verdict_model_terms": ("j.verdict", False),
    "annotator": ("NULLIF(m.names ->> j.annotator_id::text, '')", False),
    "annotator_group": ("NULLIF(m.groups ->> j.annotator_id::text, '')", False),
    "seconds": (_PYTHON_FLOAT, False),
    "reason": ("j.reason", True),
    "created_at": (_ISO_UTC, False),
}
# JSONL writes the values as stored: no NULL for an empty text, the prompt as JSON, seconds as a number.
_JSON_VALUES = {**{name: value for name, (value, _) in _JUDGMENT_VALUES.items()}, "prompt": "i.x_prompt", "target_model": "m.target", "baseline_model": _BASELINE,
                "model_a": f"CASE WHEN i.x_target_is_a THEN m.target ELSE {_BASELINE} END",
                "model_b": f"CASE WHEN i.x_target_is_a THEN {_BASELINE} ELSE m.target END",
                "annotator": "(m.names ->> j.annotator_id::text)", "annotator_group": "(m.groups ->> j.annotator_id::text)",
                "seconds": "j.seconds"}


def _judgment_copy_sql(study: Study, *, identities: bool, raw: bool) -> tuple[str, list[Any]]:
    select, params = _judgment_rows_sql(study, identities=identities, cells="raw" if raw else "neutralised")
    columns = [f"{int(study.pk)} AS study"] + [
        f"{_csv_text(value, raw=raw) if text else value} AS {name}" for name, (value, text) in _JUDGMENT_VALUES.items()]
    return f"COPY ({select.replace(_COLUMNS, ', '.join(columns))}) TO STDOUT (FORMAT csv, HEADER)", params


def _copy_out(sql: str, params: list[Any], *, line_end: bytes = _CRLF, unescape: bool = False) -> Iterator[str]:
    """COPY ... TO STDOUT as text in pieces of about FLUSH_BYTES, records ending in `line_end` (CSV: CRLF, see above).
    `unescape`: the COPY is in text format, whose only escape that a JSON line can meet is a doubled backslash."""
    connection.ensure_connection()
    driver = connection.connection
    with driver.cursor() as cursor:
        statement = cursor.mogrify(sql, params).decode()  # copy_expert takes no parameters
    pieces: queue.Queue[str | None] = queue.Queue(maxsize=COPY_QUEUE_PIECES)
    stop = threading.Event()
    failure: list[BaseException] = []

    class Stopped(Exception):
        """The client went away: ends the COPY."""

    class Records:
        def __init__(self) -> None:
            self.parts: list[bytes] = []
            self.size = 0

        def write(self, record: bytes) -> None:  # psycopg2 hands over one record (one COPY data message) per call
            if stop.is_set():
                raise Stopped
            self.parts.append(record[:-1])
            self.size += len(record)
            if self.size >= FLUSH_BYTES:
                self.flush()

        def flush(self) -> None:
            if self.parts:
                self.parts.append(b"")
                piece = line_end.join(self.parts)
                pieces.put((piece.replace(b"\\\\", b"\\") if unescape else piece).decode())  # the connection's encoding is UTF8 (Django sets it)
                self.parts, self.size = [], 0

    def copy() -> None:
        try:
            records = Records()
            with driver.cursor() as cursor:
                cursor.copy_expert(statement, records)
            records.flush()
        except BaseException as exc:  # handed to the consumer, raised there
            failure.append(exc)
        finally:
            pieces.put(None)

    worker = threading.Thread(target=copy, name="export-copy", daemon=True)
    worker.start()
    finished = False
    try:
        while (piece := pieces.get()) is not None:
            yield piece
        finished = True
    finally:
        stop.set()
        while worker.is_alive():  # let a blocked writer reach the stop flag
            try:
                pieces.get(timeout=0.1)
            except queue.Empty:
                pass
        worker.join()
        if not finished or failure:
            connection.close()  # an interrupted COPY leaves the connection mid-protocol: the next request opens a new one
    if failure and not isinstance(failure[0], Stopped):
        raise failure[0]


def postgres_judgment_csv(study: Study, *, identities: bool = False, raw: bool = False) -> Iterator[str]:
    """The judgments CSV (the same bytes as `csv_chunks(judgment_export(...))`), written by PostgreSQL's COPY."""
    sql, params = _judgment_copy_sql(study, identities=identities, raw=raw)
    return _copy_out(sql, params)


def postgres_judgment_jsonl(study: Study, *, identities: bool = False) -> Iterator[str]:
    """The judgments JSONL (the same records as `jsonl_chunks(judgment_export(...))`), one json_build_object per row,
    streamed by COPY in text format: json_build_object escapes every control character, so the only escaping
    COPY adds is a doubled backslash, undone per piece (a server-side cursor handed every line to Python as a
    row: 38k lines/s where COPY writes the CSV at 130k)."""
    select, params = _judgment_rows_sql(study, identities=identities, cells="json")
    values = [f"'study', {int(study.pk)}"] + [
        f"'{name}', {value}" for name, value in _JSON_VALUES.items()]
    sql = select.replace(_COLUMNS, f"json_build_object({', '.join(values)})::text")
    return _copy_out(f"COPY ({sql}) TO STDOUT", params, line_end=b"\n", unescape=True)


def study_export_chunks(study: Study, kind: ExportKind, fmt: str, *, identities: bool = False, raw: bool = False) -> Iterator[str]:
    """What the export views stream: the judgments export from PostgreSQL where the database is PostgreSQL, else Python's.

    `raw` leaves formula-leading CSV cells as they are (for programs; JSONL is always raw).
    """
    if kind == "judgments" and connection.vendor == "postgresql":
        if fmt == "csv":
            return postgres_judgment_csv(study, identities=identities, raw=raw)
        if fmt == "jsonl":
            return postgres_judgment_jsonl(study, identities=identities)
    return encoded(study_export(study, kind, identities=identities), fmt, raw=raw)


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
