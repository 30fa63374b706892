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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timezone
from typing import TYPE_CHECKING, Any, Literal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import F, Q, TextField
from django.db.models.functions import Cast, Length

from annotation.datasets.csv_cells import FORMULA_PREFIXES, LINE_TERMINATOR, NEUTRALISING_PREFIX, csv_writer, spreadsheet_safe
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
            "item__public_id", "item__row__position", Cast("item__row__conversations", TextField()), "item__baseline_run_id",
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
            yield (study.pk, str(item), position, prompt, target, baseline, model_a, model_b, text_a, text_b, length_a, length_b,
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
        .values_list("public_id", "row__position", Cast("row__conversations", TextField()), "baseline_run_id", "target_is_a",
                     "text_a", "text_b", "target_response_id", "baseline_response_id", "is_shared", Cast("scrubbed", TextField()))
    )

    def generate() -> Iterator[tuple[Any, ...]]:
        for (item, position, prompt, baseline_run, target_is_a, text_a, text_b, target_response, baseline_response, is_shared,
             scrubbed) in rows.iterator(chunk_size=CHUNK_SIZE):
            baseline = models.get(baseline_run, "")
            model_a, model_b = (target, baseline) if target_is_a else (baseline, target)
            yield (study.pk, str(item), position, prompt, target, baseline, model_a, model_b, text_a, text_b, target_response,
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
        .values_list("pk", "run_id", "row__position", Cast("row__conversations", TextField()), "text", "error", "finish_reason",
                     "prompt_tokens", "completion_tokens", "latency_ms", "created_at")
    )

    def generate() -> Iterator[tuple[Any, ...]]:
        for (pk, run, position, prompt, text, error, finish_reason, prompt_tokens, completion_tokens, latency_ms,
             created_at) in rows.iterator(chunk_size=CHUNK_SIZE):
            role = "target" if run == study.target_run_id else "baseline"
            yield (study.pk, pk, run, models[run], role, position, prompt, text, error, finish_reason, prompt_tokens,
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
        .values_list("item__public_id", "item__row__position", Cast("item__row__conversations", TextField()), "item__text_a",
                     "grade", "annotator_id", "seconds", "reason", "created_at")
    )

    def generate() -> Iterator[tuple[Any, ...]]:
        for item, position, prompt, text, grade, annotator, seconds, reason, created_at in rows.iterator(chunk_size=CHUNK_SIZE):
            name, group = labels[annotator]
            yield (study.pk, str(item), position, prompt, target, text, grade, name, group, seconds, reason, _iso(created_at))

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


# --- judgments CSV formatted by PostgreSQL ----------------------------------------------------------
#
# The judgments CSV is the big one (a million rows of ~1.2 KB in a large study). Python's csv
# writer and the ORM's per-row conversions cap it near 50,000 rows/s on a small machine; here
# PostgreSQL quotes every field itself (the csv module's minimal quoting) and hands over one
# finished line per row through a server-side cursor, so Python only joins lines.
#
# COPY ... TO STDOUT (FORMAT csv) was weighed and left: psycopg2's copy_expert pushes the whole
# result into a file object before it returns (streaming it would take a thread per download), and
# its CSV is not csv.writer's (an empty string is written "", booleans t/f), so the file would differ
# byte for byte from the Python writer's.


# csv.writer with CRLF records quotes a field holding a double quote, a comma, CR or LF (a PostgreSQL
# regular expression; \r and \n are its escapes for CR and LF).
_NEEDS_QUOTES = r"""'[",\r\n]'"""
# The characters a spreadsheet reads as the start of a formula, as a PostgreSQL array of text.
_FORMULA_STARTS = "ARRAY[" + ", ".join(f"chr({ord(c)})" for c in FORMULA_PREFIXES) + "]"


def _neutralised(expression: str) -> str:
    """SQL for csv_cells.neutralised: a leading single quote on a formula-leading text."""
    return f"CASE WHEN left({expression}, 1) = ANY ({_FORMULA_STARTS}) THEN chr({ord(NEUTRALISING_PREFIX)}) || ({expression}) ELSE ({expression}) END"


def _csv_field(expression: str, *, raw: bool = False) -> str:
    """SQL for one text value as csv_chunks writes it (neutralised unless raw, QUOTE_MINIMAL); NULL is an empty field."""
    value = expression if raw else _neutralised(expression)
    quoted = f"""'"' || replace({value}, '"', '""') || '"'"""
    return f"CASE WHEN ({expression}) IS NULL THEN '' WHEN ({value}) ~ {_NEEDS_QUOTES} THEN {quoted} ELSE ({value}) END"


def _judgment_csv_sql(study: Study, *, identities: bool, raw: bool = False) -> tuple[str, list[Any]]:
    labels = annotator_labels(study, identities=identities)
    models = _run_models(study)
    inner = (
        Judgment.objects.filter(item__study=study, item__attention_check="")
        .order_by()
        .annotate(
            x_item=Cast("item__public_id", TextField()), x_position=F("item__row__position"),
            x_prompt=Cast("item__row__conversations", TextField()), x_baseline_run=F("item__baseline_run_id"),
            x_target_is_a=F("item__target_is_a"), x_text_a=F("item__text_a"), x_text_b=F("item__text_b"),
            x_target_len=Length("item__target_response__text"), x_baseline_len=Length("item__baseline_response__text"),
            x_item_id=F("item_id"),
        )
        .values_list("x_item", "x_position", "x_prompt", "x_baseline_run", "x_target_is_a", "x_text_a", "x_text_b", "x_target_len",
                     "x_baseline_len", "x_item_id", "side", "verdict", "annotator_id", "seconds", "reason", "created_at")
    )
    inner_sql, inner_params = inner.query.sql_with_params()
    baseline = "(m.runs ->> j.x_baseline_run::text)"

    def text(expression: str) -> str:
        return _csv_field(expression, raw=raw)

    fields = [
        f"'{int(study.pk)}'", "j.x_item", "j.x_position::text", text("j.x_prompt"), text("m.target"), text(baseline),
        text(f"CASE WHEN j.x_target_is_a THEN m.target ELSE {baseline} END"),
        text(f"CASE WHEN j.x_target_is_a THEN {baseline} ELSE m.target END"),
        text("j.x_text_a"), text("j.x_text_b"),
        "COALESCE((CASE WHEN j.x_target_is_a THEN j.x_target_len ELSE j.x_baseline_len END)::text, '')",
        "COALESCE((CASE WHEN j.x_target_is_a THEN j.x_baseline_len ELSE j.x_target_len END)::text, '')",
        "j.side", "j.verdict", text("(m.names ->> j.annotator_id::text)"), text("(m.groups ->> j.annotator_id::text)"),
        # Python writes a whole float as 20.0 where PostgreSQL writes 20.
        "COALESCE(regexp_replace(j.seconds::text, '^(-?[0-9]+)$', '\\1.0'), '')", text("j.reason"), "to_char(j.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')",
    ]
    sql = (
        "WITH m AS (SELECT %s::jsonb AS runs, %s::jsonb AS names, %s::jsonb AS groups, %s::text AS target) "
        f"SELECT concat_ws(',', {', '.join(fields)}) FROM ({inner_sql}) j CROSS JOIN m ORDER BY j.x_item_id, j.annotator_id"
    )
    params = [json.dumps({str(pk): name for pk, name in models.items()}),
              json.dumps({str(pk): name for pk, (name, _) in labels.items()}),
              json.dumps({str(pk): group for pk, (_, group) in labels.items()}),
              models.get(study.target_run_id, ""), *inner_params]
    return sql, params


def postgres_judgment_csv(study: Study, *, identities: bool = False, raw: bool = False) -> Iterator[str]:
    """The judgments CSV (the same bytes as `csv_chunks(judgment_export(...))`), lines built by PostgreSQL."""
    sql, params = _judgment_csv_sql(study, identities=identities, raw=raw)
    yield ",".join(JUDGMENT_COLUMNS) + LINE_TERMINATOR
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while lines := cursor.fetchmany(CHUNK_SIZE):
            yield LINE_TERMINATOR.join(line for (line,) in lines) + LINE_TERMINATOR


def study_export_chunks(study: Study, kind: ExportKind, fmt: str, *, identities: bool = False, raw: bool = False) -> Iterator[str]:
    """What the export views stream: the judgments CSV from PostgreSQL where the database is PostgreSQL, else Python's.

    `raw` leaves formula-leading CSV cells as they are (for programs; JSONL is always raw).
    """
    if kind == "judgments" and fmt == "csv" and connection.vendor == "postgresql":
        return postgres_judgment_csv(study, identities=identities, raw=raw)
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
