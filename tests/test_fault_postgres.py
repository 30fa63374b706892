"""Fault test: PostgreSQL restarts while annotators submit verdicts.

gunicorn (as production runs it) serves a study from a private PostgreSQL cluster; a dozen
simulated annotators judge as fast as the server lets them and, like a person who saw "not
saved", resend the same verdict after a short pause when a submit fails. Mid-load the cluster is
crashed (`pg_ctl stop -m immediate`: backends killed, crash recovery on start) and later stopped
cleanly (`-m fast`), each time staying down for a moment. The web server is never restarted.

Afterwards every verdict acknowledged to an annotator is stored, none twice; during each outage
the server answered 503 with Retry-After (never Django's generic 500), and verdicts were
acknowledged again after each restart.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

import psycopg2
import pytest

from bench.loadclient import ClientResult, run_load
from lima_site.database_unavailable import MESSAGE, SAVED_MESSAGE
from tests.pg_cluster import PostgresCluster, free_port
from tests.workers import scaled, wait_for

ROOT = Path(__file__).resolve().parent.parent
ANNOTATORS = 12
PROMPTS = 1000  # × 2 baselines, overlap 1: more items than ~25 s of load can judge (bench: ~70 verdicts/s)
RETRY_BACKOFF = 0.2
# A request that began just before a stop, or reconnects just after the start, fails at the edge of the window.
WINDOW_GRACE = 2.0


@pytest.fixture
def private_postgres():
    cluster = PostgresCluster().start()
    try:
        yield cluster
    finally:
        cluster.destroy()


def _server_environment(cluster: PostgresCluster, var_dir: Path) -> dict:
    environment = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    environment.update({
        "DATABASE_URL": cluster.url("lima"), "LIMA_VAR_DIR": str(var_dir), "DJANGO_DEBUG": "false",
        "SECRET_KEY": "fault-test-secret-key-" + "x" * 40, "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LIMA_SECURE_SSL_REDIRECT": "false", "STATIC_ROOT": str(var_dir / "static"), "PYTHONUNBUFFERED": "1",
    })
    return environment


def _start_gunicorn(environment: dict, port: int, log: Path) -> subprocess.Popen:
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "lima_site.wsgi:application", "-b", f"127.0.0.1:{port}", "-w", "2",
         "-k", "gthread", "--threads", "4", "--timeout", "60", "--keep-alive", "30"],
        cwd=ROOT, env=environment, stdout=log.open("ab"), stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + scaled(60)
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited during start-up:\n{log.read_text()[-3000:]}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=2)
            return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError(f"gunicorn did not come up:\n{log.read_text()[-3000:]}")


def _stored_judgments(cluster: PostgresCluster) -> list[tuple[str, str]]:
    """(annotator, item) for every stored judgment of the load annotators."""
    with psycopg2.connect(host="127.0.0.1", port=cluster.port, user="postgres", dbname="lima") as db, db.cursor() as cursor:
        cursor.execute("SELECT u.username, i.public_id FROM evaluation_judgment j "
                       "JOIN evaluation_comparisonitem i ON i.id = j.item_id JOIN auth_user u ON u.id = j.annotator_id "
                       "WHERE u.username LIKE 'load-%%'")
        return [(username, str(item).replace("-", "")) for username, item in cursor.fetchall()]


def _acknowledged_since(results: list[ClientResult], moment: float) -> int:
    return sum(1 for result in results for at in result.acknowledged_at if at > moment)


@pytest.mark.serial  # its assertions read outages out of a load whose timing another worker would disturb
def test_postgres_restarts_under_judging_load_lose_and_duplicate_no_acknowledged_verdict(private_postgres, tmp_path):
    cluster = private_postgres
    cluster.create_database("lima")
    environment = _server_environment(cluster, tmp_path)
    setup = subprocess.run([sys.executable, "-m", "bench.judging_setup", str(ANNOTATORS), str(PROMPTS)], cwd=ROOT, env=environment,
                           capture_output=True, text=True)
    assert setup.returncode == 0, setup.stderr[-3000:]
    study = json.loads(setup.stdout.strip().splitlines()[-1])
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--no-input", "-v0"], cwd=ROOT, env=environment, check=True)
    port = free_port()
    server_log = tmp_path / "gunicorn.log"
    server = _start_gunicorn(environment, port, server_log)

    results: list[ClientResult] = []
    stop = threading.Event()
    figures: dict = {}
    load = threading.Thread(target=lambda: figures.update(run_load(
        host="127.0.0.1", port=port, annotators=study["annotators"], password=study["password"], study=study["study"],
        seconds=120, retry_backoff=RETRY_BACKOFF, results=results, stop=stop)))
    outages: list[tuple[str, float, float]] = []  # (mode, stop issued, accepting connections again)
    try:
        load.start()
        # Every annotator is logged in and judging before the first crash.
        wait_for(lambda: len(results) == ANNOTATORS and all(r.acknowledged for r in results), timeout=40,
                 interval=0.1, what="every annotator's first acknowledged verdict")
        for mode, down_for in (("immediate", 2.0), ("fast", 1.0)):
            time.sleep(1.5)  # load at full speed going into the fault
            began = time.monotonic()
            cluster.restart(mode, down_for=down_for)
            outages.append((mode, began, time.monotonic()))
            wait_for(lambda: _acknowledged_since(results, outages[-1][2]) >= 2 * ANNOTATORS, timeout=20, interval=0.1,
                     what=f"verdicts acknowledged after the {mode} restart")
        time.sleep(1.5)
    finally:
        stop.set()
        load.join(60)
        server_alive = server.poll() is None
        server.terminate()
        server.wait(30)

    failures = [failure for result in results for failure in result.errors]
    acknowledged = {(name, item.replace("-", "")) for name, result in zip(study["annotators"], results) for item in result.acknowledged}
    acknowledged_count = sum(len(result.acknowledged) for result in results)
    stored = _stored_judgments(cluster)

    def in_outage(at: float) -> bool:
        return any(began - WINDOW_GRACE <= at <= up + WINDOW_GRACE for _, began, up in outages)

    server_log_text = server_log.read_text(errors="replace")
    report = {
        "clients": ANNOTATORS, "submits": figures.get("submits"), "seconds": figures.get("seconds"),
        "outages_s": {mode: round(up - began, 2) for mode, began, up in outages},
        "failures": Counter(failure.what for failure in failures),
        "submit_failures_per_outage": {mode: sum(1 for f in failures if began - WINDOW_GRACE <= f.at <= up + WINDOW_GRACE)
                                       for mode, began, up in outages},
        "acknowledged": acknowledged_count, "stored": len(stored),
        "stored_not_acknowledged": len(set(stored) - acknowledged),
        "acknowledged_after_restart": {mode: _acknowledged_since(results, up) for mode, _, up in outages},
    }
    print("postgres restart under load:", json.dumps(report))

    assert server_alive, f"gunicorn died:\n{server_log_text[-3000:]}"
    # The app recovered by itself: the two workers it booted with served the whole run.
    assert server_log_text.count("Booting worker") == 2, server_log_text[-3000:]
    # Nothing acknowledged is lost, nothing is stored twice, nothing was acknowledged twice.
    assert acknowledged_count == len(acknowledged), report
    assert acknowledged - set(stored) == set(), report
    assert len(stored) == len(set(stored)), report
    # The restarts happened under load: submits failed inside each outage, and only there.
    for mode, began, up in outages:
        assert any(began - WINDOW_GRACE <= failure.at <= up + WINDOW_GRACE and failure.what.startswith("submit")
                   for failure in failures), f"no submit failed during the {mode} restart: {report}"
    assert [failure for failure in failures if not in_outage(failure.at)] == [], report
    # The server's answer during an outage is the designed 503, never Django's generic 500.
    unavailable = [failure for failure in failures if failure.what == "submit 503"]
    assert unavailable, f"no 503 during the outages: {report}"
    assert all(failure.retry_after == "5" and (MESSAGE in failure.page or SAVED_MESSAGE in failure.page)
               for failure in unavailable), unavailable[:3]
    assert not [failure for failure in failures if " 500" in failure.what or "Server Error (500)" in failure.page], report
    assert all(report["acknowledged_after_restart"][mode] >= 2 * ANNOTATORS for mode, _, _ in outages), report


@pytest.mark.parametrize("htmx", [False, True])
def test_a_database_error_in_a_view_answers_503_with_retry_after(rf, htmx):
    """The same answer without a server to crash: a full page for a browser, a fragment for htmx."""
    from django.db import OperationalError

    from lima_site.database_unavailable import DatabaseUnavailableMiddleware

    request = rf.post("/judge/x/submit/", HTTP_HX_REQUEST="true") if htmx else rf.post("/judge/x/submit/")
    middleware = DatabaseUnavailableMiddleware(lambda request: None)
    response = middleware.process_exception(request, OperationalError("connection refused"))
    assert response.status_code == 503 and response["Retry-After"] == "5"
    body = response.content.decode()
    assert MESSAGE in body and ("<html" not in body) == htmx
    assert middleware.process_exception(request, ValueError("a bug")) is None  # other errors stay 500s
    request.lima_action_saved = True  # the verdict committed; the next item could not be fetched
    assert SAVED_MESSAGE in middleware.process_exception(request, OperationalError("gone")).content.decode()
