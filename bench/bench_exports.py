"""Issues 6 and 19: the streaming export of 1,000,000 judgments (goal: >= 300,000 rows/s on PostgreSQL, peak RSS
<= 150 MB in the web process). On PostgreSQL both the CSV and the JSONL are written by binary COPYs, on
LIMA_EXPORT_CONNECTIONS connections (annotation/evaluation/exports.py); both formats are measured, and the CSV
on one connection too.

The study is written straight into the bench database: 20,000 prompts answered by the target and
five baselines (ORM bulk inserts), then 100,000 comparison items and 1,000,000 judgments (10
annotators per item) with INSERT ... SELECT over generate_series, which takes seconds instead of
the minutes a million ORM objects would.

The export is measured in fresh subprocesses, so peak RSS (VmHWM from /proc/self/status) is the
export's alone and not this process's data generation:

- `exporter`: a process that only sets Django up and runs `annotation.evaluation.exports` (the code behind
  the export views) into /dev/null: the streaming code's own footprint.
- `web_view`: the export view itself, called the way a web worker serves it, in a process that has
  loaded the whole URL configuration (the statistics stack, matplotlib, DRF): what a worker's
  memory does while it streams, with its baseline reported next to the peak.

Every row carries the full trail (prompt and both responses); response texts are 300 to 700
characters, so the file size is reported too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROMPTS = 20_000
BASELINES = ("alpaca-65b", "davinci-003", "bard", "claude", "gpt-4")
ANNOTATORS = 10  # per item: 20,000 prompts x 5 baselines x 10 = 1,000,000 judgments
GOAL_RSS_MB = 150
GOAL_ROWS_PER_S = 300_000


def _text(prefix: str, number: int) -> str:
    return f"{prefix} answer to prompt {number}. " + "A careful, helpful sentence about the question. " * (6 + number % 9)


def build_study() -> int:
    """A pairwise study with 1,000,000 judgments; returns its id."""
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from annotation.datasets.models import Dataset, DatasetRow
    from annotation.evaluation.models import ComparisonItem, Judgment, Study
    from generation.models import GenerationRun, ModelSpec, Response, RunStatus

    with transaction.atomic():
        dataset = Dataset.objects.create(name="bench-exports", split="test", content_hash="0" * 64, row_count=PROMPTS)
        DatasetRow.objects.bulk_create(
            (DatasetRow(dataset=dataset, position=i, source="authored", conversations=[f"Bench prompt {i}: what should I know?"])
             for i in range(PROMPTS)), batch_size=5000)
        runs = {}
        for name in ("lima-65b", *BASELINES):
            model = ModelSpec.objects.create(name=f"bench-{name}", backend="imported")
            runs[name] = GenerationRun.objects.create(model=model, dataset=dataset, decoding={}, total=PROMPTS, status=RunStatus.COMPLETED)
        rows = list(dataset.rows.order_by("position").values_list("pk", "position"))
        for name, run in runs.items():
            Response.objects.bulk_create((Response(run=run, row_id=pk, text=_text(name, position)) for pk, position in rows),
                                         batch_size=5000)
        study = Study.objects.create(name="bench exports", dataset=dataset, target_run=runs["lima-65b"], overlap=ANNOTATORS,
                                     agreement_subset=0, state=Study.State.CLOSED)
        study.baseline_runs.set([runs[name] for name in BASELINES])
        users = get_user_model().objects.bulk_create(get_user_model()(username=f"bench-annotator-{i}") for i in range(ANNOTATORS))
        item_table, judgment_table = ComparisonItem._meta.db_table, Judgment._meta.db_table
        response_table = Response._meta.db_table
        with connection.cursor() as cursor:
            for number, name in enumerate(BASELINES):
                cursor.execute(f"""
                    INSERT INTO {item_table} (study_id, public_id, row_id, target_response_id, baseline_response_id, baseline_run_id,
                                              target_is_a, text_a, text_b, prompt_html, html_a, html_b, scrubbed, attention_check,
                                              gold_verdict, held, is_shared, capacity, assigned_count, order_key)
                    SELECT %s, gen_random_uuid(), t.row_id, t.id, b.id, b.run_id, (t.row_id + %s) %% 2 = 0,
                           CASE WHEN (t.row_id + %s) %% 2 = 0 THEN t.text ELSE b.text END,
                           CASE WHEN (t.row_id + %s) %% 2 = 0 THEN b.text ELSE t.text END,
                           '', '', '', '[]'::jsonb, '', '', false, false, %s, %s, t.row_id * 10 + %s
                    FROM {response_table} t JOIN {response_table} b ON b.row_id = t.row_id AND b.run_id = %s
                    WHERE t.run_id = %s""",
                               [study.pk, number, number, number, ANNOTATORS, ANNOTATORS, number, runs[name].pk, runs["lima-65b"].pk])
            cursor.execute(f"""
                INSERT INTO {judgment_table} (item_id, annotator_id, verdict, side, reason, seconds, created_at)
                SELECT i.id, u.id, v.verdict, v.side, '', 20 + (i.id + u.id) %% 40, now()
                FROM {item_table} i
                CROSS JOIN (SELECT unnest(%s::bigint[]) AS id) u
                CROSS JOIN LATERAL (SELECT CASE (i.id * 7 + u.id) %% 4 WHEN 0 THEN 'tie' WHEN 1 THEN 'b' ELSE 'a' END AS side) s
                CROSS JOIN LATERAL (SELECT s.side,
                    CASE WHEN s.side = 'tie' THEN 'tie' WHEN (s.side = 'a') = i.target_is_a THEN 'target' ELSE 'baseline' END
                    AS verdict) v
                WHERE i.study_id = %s""", [[user.pk for user in users], study.pk])
    with connection.cursor() as cursor:  # as autovacuum leaves a table some minutes after a bulk insert (PostgreSQL >= 13
        # vacuums insert-only tables too): hint bits set and the visibility map written, which the first read would
        # otherwise do inside the measured export
        for table in (item_table, judgment_table, response_table):
            cursor.execute(f"VACUUM (ANALYZE) {table}")
    return study.pk


def _memory_mb() -> dict[str, float]:
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return {key: int(status[key].split()[0]) / 1024 for key in ("VmRSS", "VmHWM")}


def child(mode: str, study_pk: int, fmt: str = "csv") -> None:
    """Runs in the subprocess: one export into /dev/null, then the figures as one JSON line."""
    import django

    django.setup()
    from annotation.evaluation import exports
    from annotation.evaluation.models import Study

    if mode == "web_view":
        from django.contrib.auth import get_user_model
        from django.test import RequestFactory
        from django.urls import resolve, reverse

        import lima_site.urls  # noqa: F401  (a worker has loaded every view, as the first request does)

        user = get_user_model().objects.get(username="bench-researcher")
        path = reverse("evaluation:study_export", args=[study_pk, "judgments", fmt])
        request = RequestFactory().get(path)
        request.user = user
        match = resolve(path)
        before = _memory_mb()
        started = time.perf_counter()
        response = match.func(request, *match.args, **match.kwargs)
        chunks = response.streaming_content
    else:
        before = _memory_mb()
        started = time.perf_counter()
        study = Study.objects.get(pk=study_pk)
        chunks = exports.study_export_chunks(study, "judgments", fmt)
    rows = -1 if fmt == "csv" else 0  # the CSV's header line
    size = 0
    with open(os.devnull, "wb") as sink:
        for chunk in chunks:
            rows += chunk.count(b"\n")
            size += len(chunk)
            sink.write(chunk)
    seconds = time.perf_counter() - started
    after = _memory_mb()
    print(json.dumps({"rows": rows, "bytes": size, "seconds": seconds, "rss_before_mb": before["VmRSS"],
                      "peak_rss_mb": after["VmHWM"]}))


def _measure(mode: str, study_pk: int, fmt: str = "csv", **extra_env: str) -> dict:
    from django.db import connection

    from tests.services import database_url

    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "lima_site.settings", "DATABASE_URL": database_url(connection.settings_dict),
           **extra_env}
    output = subprocess.run([sys.executable, "-m", "bench.bench_exports", mode, str(study_pk), fmt], cwd=ROOT, env=env,
                            capture_output=True, text=True, check=True)
    figures = json.loads(output.stdout.strip().splitlines()[-1])
    return {
        "rows": figures["rows"], "seconds": round(figures["seconds"], 2), "rows_per_s": round(figures["rows"] / figures["seconds"]),
        "megabytes": round(figures["bytes"] / 2**20), "rss_before_export_mb": round(figures["rss_before_mb"], 1),
        "peak_rss_mb": round(figures["peak_rss_mb"], 1),
        "export_growth_mb": round(figures["peak_rss_mb"] - figures["rss_before_mb"], 1),
    }


def run() -> dict:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from annotation.evaluation.models import Judgment

    started = time.perf_counter()
    study_pk = build_study()
    built = time.perf_counter() - started
    researcher, _ = get_user_model().objects.get_or_create(username="bench-researcher")  # bench_authoring may have made it
    researcher.groups.add(Group.objects.get_or_create(name="researcher")[0])
    judgments = Judgment.objects.filter(item__study_id=study_pk).count()
    exporter = _measure("exporter", study_pk)
    web_view = _measure("web_view", study_pk)
    jsonl = _measure("exporter", study_pk, "jsonl")
    one_connection = _measure("exporter", study_pk, LIMA_EXPORT_CONNECTIONS="1")
    assert exporter["rows"] == judgments == web_view["rows"] == jsonl["rows"] == one_connection["rows"], (
        exporter, web_view, jsonl, one_connection, judgments)
    return {
        "judgments": judgments, "build_seconds": round(built, 1), "exporter": exporter, "web_view": web_view,
        "exporter_jsonl": jsonl, "exporter_one_connection": one_connection,
        "goals": {"peak_rss_mb": GOAL_RSS_MB, "rows_per_s": GOAL_ROWS_PER_S},
        "exporter_meets_goals": exporter["peak_rss_mb"] <= GOAL_RSS_MB and exporter["rows_per_s"] >= GOAL_ROWS_PER_S,
        "web_view_meets_goals": web_view["peak_rss_mb"] <= GOAL_RSS_MB and web_view["rows_per_s"] >= GOAL_ROWS_PER_S,
    }


if __name__ == "__main__":
    child(sys.argv[1], int(sys.argv[2]), *sys.argv[3:4])
