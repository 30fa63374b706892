"""Generation runs on a real Celery worker over real Redis and PostgreSQL, including a SIGKILL mid-run."""

import io
import json
import re
import sys
import time

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from generation.models import ModelSpec, Response, RunStatus
from generation.services import imported, runs
from tests.builders import prompt_snapshot, tiny_model_spec
from tests.workers import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


CHUNK_DONE = re.compile(r"generation\.tasks\.generate_chunk\[[0-9a-f-]+\] succeeded in [0-9.e-]+s: (\d+)")


def chunks_done(*workers) -> list[int]:
    """What each generate_chunk task that finished returned (responses it stored), read from the workers' logs."""
    return [int(n) for worker in workers for n in CHUNK_DONE.findall(worker.log_path.read_text(errors="replace"))]


def rows_generated(worker, run) -> list[int]:
    """The rows each generation this worker started had to generate (missing when it began), from its log."""
    return [int(n) for n in re.findall(rf"generating chunk \d+ of run {run.pk}: (\d+) rows", worker.log_path.read_text(errors="replace"))]


def finished(run):
    run.refresh_from_db()
    return run.status not in (RunStatus.PENDING, RunStatus.RUNNING)


def test_run_completes_with_one_response_per_prompt_and_records_its_environment(start_worker, researcher):
    start_worker()
    dataset = prompt_snapshot(user=researcher, n=12)
    run = runs.create_run(model=tiny_model_spec(), dataset=dataset, user=researcher, seed=5, chunk_size=5)
    runs.start_run(run=run)
    wait_for(lambda: finished(run), what="the run to finish")
    assert run.status == RunStatus.COMPLETED
    assert Response.objects.filter(run=run).count() == 12
    assert set(Response.objects.filter(run=run).values_list("row__dataset", flat=True)) == {dataset.pk}
    response = Response.objects.filter(run=run).first()
    assert response.completion_tokens and response.latency_ms is not None and response.finish_reason in {"stop", "length"}
    env = run.environment
    assert env["backend"] == "transformers" and len(env["config_sha256"]) == 64
    assert env["torch"].startswith("2.13") and env["decoding"]["top_p"] == 0.9 and env["seed"] == 5


def test_sigkilled_worker_mid_run_resumes_after_restart_with_exactly_one_response_per_prompt(start_worker, researcher):
    PROMPTS = 24  # six chunks of four: the kill lands after the first, with most of the run still to do
    dataset = prompt_snapshot(user=researcher, n=PROMPTS)
    run = runs.create_run(model=tiny_model_spec(max_new_tokens=120), dataset=dataset, user=researcher, chunk_size=4)
    first = start_worker("first", visibility_timeout=2)
    runs.start_run(run=run)
    wait_for(lambda: Response.objects.filter(run=run).count() >= 4, what="the first chunk")
    first.kill()
    stored_at_kill = dict(Response.objects.filter(run=run).values_list("row_id", "text"))
    run.refresh_from_db()
    assert len(stored_at_kill) < PROMPTS and run.status == RunStatus.RUNNING
    time.sleep(2.5)  # past the visibility timeout: the broker hands the killed worker's task out again
    second = start_worker("second", visibility_timeout=2)
    wait_for(lambda: finished(run), timeout=90, what="the run to finish after the restart")
    assert run.status == RunStatus.COMPLETED
    assert Response.objects.filter(run=run).count() == PROMPTS
    # No work done twice: after the restart exactly the rows missing at the kill were generated (a re-delivered
    # chunk that generated its stored rows again would count them again, even though the (run, row) constraint
    # keeps one row each), and what was stored before the kill was kept as it was. (Summing what the chunks
    # returned once fell 4 short: a kill after a chunk's store and before its "succeeded" log line, a 1-in-50 race.)
    assert sum(rows_generated(second, run)) == PROMPTS - len(stored_at_kill), (rows_generated(second, run), len(stored_at_kill))
    assert dict(Response.objects.filter(run=run, row_id__in=stored_at_kill).values_list("row_id", "text")) == stored_at_kill
    # A chunk delivered once more after the run finished (a visibility timeout on a slow ack) generates nothing.
    from generation.tasks import generate_chunk

    first_chunk, taken = sorted(stored_at_kill)[:4], len(chunks_done(second))
    generate_chunk.delay(run.pk, first_chunk)
    wait_for(lambda: len(chunks_done(second)) > taken, what="the worker to take the repeated chunk")
    assert chunks_done(second)[-1] == 0, chunks_done(second)
    assert dict(Response.objects.filter(run=run, row_id__in=stored_at_kill).values_list("row_id", "text")) == stored_at_kill


def test_bad_model_path_records_errors_and_retry_regenerates_only_the_failures(start_worker, researcher):
    from django.conf import settings

    start_worker()
    dataset = prompt_snapshot(user=researcher, n=6)
    # Under the model root (the worker refuses paths outside it before trying to load them), but missing.
    model = tiny_model_spec(location=str(settings.LIMA_MODEL_ROOTS[0] / "missing-checkpoint"))
    run = runs.create_run(model=model, dataset=dataset, user=researcher, chunk_size=3)
    runs.start_run(run=run)
    wait_for(lambda: finished(run), what="the failing run to finish")
    assert run.status == RunStatus.COMPLETED_WITH_ERRORS
    errors = set(Response.objects.filter(run=run).values_list("error", flat=True))
    assert len(errors) == 1 and "does not load" in errors.pop()

    ModelSpec.objects.filter(pk=model.pk).update(location=str(settings.LIMA_MODEL_DIR))
    assert runs.retry_failures(run=run) == 2
    wait_for(lambda: finished(run), what="the retried run to finish")
    assert run.status == RunStatus.COMPLETED
    assert Response.objects.filter(run=run).count() == 6 and not Response.objects.filter(run=run).exclude(error="").exists()


def test_a_too_long_prompt_fails_alone_and_the_rest_is_kept(start_worker, researcher):
    start_worker()
    dataset = prompt_snapshot(user=researcher, n=3, prompts=[["Fine?"], ["word " * 6000], ["Also fine?"]])
    run = runs.create_run(model=tiny_model_spec(), dataset=dataset, user=researcher, chunk_size=3)
    runs.start_run(run=run)
    wait_for(lambda: finished(run), what="the run to finish")
    assert run.status == RunStatus.COMPLETED_WITH_ERRORS
    by_position = {r.row.position: r for r in Response.objects.filter(run=run).select_related("row")}
    assert "context" in by_position[1].error and by_position[0].text and by_position[2].text


def test_cancelled_run_generates_nothing_more(start_worker, researcher):
    dataset = prompt_snapshot(user=researcher, n=8)
    run = runs.create_run(model=tiny_model_spec(), dataset=dataset, user=researcher, chunk_size=2)
    runs.start_run(run=run)
    runs.cancel_run(run=run)
    worker = start_worker()
    # Poll the worker's log until it has finished the four queued chunks (one at a time, in order); a chunk that
    # ignored the cancel would load the model and store its two responses before it logs that it succeeded.
    wait_for(lambda: len(chunks_done(worker)) >= 4, what="the worker to take the four queued chunks")
    assert chunks_done(worker) == [0, 0, 0, 0]
    assert Response.objects.filter(run=run).count() == 0
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED


def test_start_and_watch_a_run_from_the_browser_views(client, start_worker, researcher):
    start_worker()
    dataset = prompt_snapshot(user=researcher, n=4)
    model = tiny_model_spec()
    client.force_login(researcher)
    response = client.post(reverse("generation:run_create"), {"model": model.pk, "dataset": dataset.pk, "seed": 1, "chunk_size": 2,
                                                               "max_new_tokens": 8})
    assert response.status_code == 302
    run = model.runs.get()
    assert run.decoding == {"top_p": 0.9, "temperature": 0.7, "repetition_penalty": 1.2, "max_new_tokens": 8}
    wait_for(lambda: finished(run), what="the run to finish")
    progress = client.get(reverse("generation:run_detail", args=[run.pk]) + "?part=progress", HTTP_HX_REQUEST="true").content.decode()
    assert "4 / 4 responses" in progress and "hx-trigger" not in progress
    compare = client.get(reverse("generation:run_compare") + f"?runs={run.pk}").content.decode()
    assert compare.count("<tr>") == 5


def test_invalid_decoding_is_rejected_with_the_field(researcher):
    dataset = prompt_snapshot(user=researcher, n=1)
    with pytest.raises(ValidationError, match="top_p"):
        runs.create_run(model=tiny_model_spec(), dataset=dataset, user=researcher, decoding={"top_p": 1.5})


def test_imported_responses_match_by_id_or_prompt_and_report_the_rest(researcher):
    dataset = prompt_snapshot(user=researcher, n=3)
    rows = list(dataset.rows.order_by("position"))
    model = ModelSpec.objects.create(name="alpaca-65b", backend="imported")
    lines = [
        {"example_id": rows[0].example_id, "response": "By id."},
        {"prompt": rows[1].conversations[0], "response": "By prompt."},
        {"prompt": "A prompt nobody asked?", "response": "Orphan."},
    ]
    result = imported.import_responses(model=model, dataset=dataset, user=researcher,
                                       stream=io.BytesIO("\n".join(json.dumps(x) for x in lines).encode()))
    assert result.matched == 2 and result.missing == 1 and result.unmatched == ["line 3: no prompt of test-prompts matches"]
    assert sorted(result.run.responses.values_list("text", flat=True)) == ["By id.", "By prompt."]


def test_imported_file_with_a_bad_line_saves_nothing(researcher):
    from annotation.datasets.lima_format import FormatError

    dataset = prompt_snapshot(user=researcher, n=2)
    model = ModelSpec.objects.create(name="davinci-003", backend="imported")
    data = b'{"example_id": 1, "response": "ok"}\n{"example_id": 2}\n'
    with pytest.raises(FormatError, match="line 2, field response"):
        imported.import_responses(model=model, dataset=dataset, stream=io.BytesIO(data), user=researcher)
    assert not Response.objects.exists()


def test_the_embedded_broker_needs_no_server(start_worker, researcher, tmp_path):
    """`make run`'s default: kombu's SQLAlchemy transport on a SQLite file carries the same tasks."""
    from kombu import Connection

    from lima_site.celery import app as celery_app

    broker = f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}"
    start_worker("embedded", broker_url=broker)
    dataset = prompt_snapshot(user=researcher, n=3)
    run = runs.create_run(model=tiny_model_spec(), dataset=dataset, user=researcher)
    from generation.models import GenerationRun

    GenerationRun.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING)
    # The test process's own app points at Redis (CELERY_BROKER_URL); this task goes over the SQLite broker.
    with Connection(broker) as connection:
        celery_app.send_task("generation.tasks.generate_chunk", args=(run.pk, list(dataset.rows.values_list("id", flat=True))),
                             connection=connection)
    wait_for(lambda: finished(run), what="the run sent over the SQLite broker")
    assert run.status == RunStatus.COMPLETED and Response.objects.filter(run=run).count() == 3


@pytest.mark.serial  # it stops the suite's Redis, which the other workers' tests are using
def test_redis_stopped_and_restarted_mid_run_loses_nothing_and_beat_finishes_the_run(researcher, tmp_path):
    """The test Redis keeps nothing on disk, so queued chunks vanish with it; the run's state is in
    PostgreSQL, and beat's stalled-run check (nobody resumes it by hand) re-queues the missing rows
    and the run finishes with exactly one response per prompt."""
    import subprocess
    from pathlib import Path

    import redis
    from django.conf import settings

    from tests.training_support import PollerProcess
    from tests.workers import purge_broker, scaled

    purge_broker()
    dataset = prompt_snapshot(user=researcher, n=30)
    run = runs.create_run(model=tiny_model_spec(max_new_tokens=120), dataset=dataset, user=researcher, chunk_size=3)
    # One worker with embedded beat, checking every second for chunks nobody claimed within a few seconds of
    # being sent (their messages went with Redis); a chunk under a live lease is left to its worker.
    worker = PollerProcess(tmp_path, {"LIMA_GENERATION_REQUEUE_SECONDS": str(int(scaled(8))),
                                      "LIMA_GENERATION_STALL_CHECK_SECONDS": "1"}).start()
    try:
        runs.start_run(run=run)
        wait_for(lambda: Response.objects.filter(run=run).count() >= 3, what="the first chunk")
        client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
        try:
            client.shutdown(nosave=True)
        except redis.ConnectionError:
            pass  # the server closes the connection as it stops
        # The suite's own Redis comes back on its port (tests/services.py keeps it); no other Redis is touched.
        subprocess.run([sys.executable, "-m", "tests.services", "start"], check=True, capture_output=True,
                       cwd=Path(__file__).resolve().parent.parent)
        wait_for(lambda: redis.Redis.from_url(settings.CELERY_BROKER_URL).ping(), what="Redis to come back")
        wait_for(lambda: finished(run), timeout=180, what="beat to resume the run and the run to finish")
        log = worker.log_path.read_text(errors="replace")
    finally:
        worker.stop()
        purge_broker()
    assert run.status == RunStatus.COMPLETED
    assert Response.objects.filter(run=run).count() == 30
    # Beat did it: its stalled-run check re-queued this run.
    assert re.search(rf"generation\.tasks\.resume_stalled_runs\[[0-9a-f-]+\] succeeded in [0-9.e-]+s: \[{run.pk}\]", log), \
        log[-3000:]
