"""Issue 5 figures: verdicts per second with 1, 10 and 50 concurrent annotator sessions, on the embedded
default (runserver + SQLite) and on gunicorn + PostgreSQL, with errors and acknowledged-vs-stored counts.

Each server gets its own freshly migrated database filled by bench/judging_setup.py; the load client
(bench/loadclient.py) keeps every verdict the server acknowledged and the database is compared with it.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import environ
import psycopg2

from bench.loadclient import run_load
from tests.services import database_url

ROOT = Path(__file__).resolve().parent.parent
LEVELS = (1, 10, 50)
SECONDS = float(os.environ.get("LIMA_LOAD_SECONDS", "8"))
PROMPTS = 2500  # × 2 baselines = 5,000 items: more than the three levels can judge
PG_DB = "lima_bench_load"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_up(port: int, process: subprocess.Popen) -> None:
    for _ in range(300):
        if process.poll() is not None:
            raise RuntimeError("the server exited during start-up")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=2)
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the server did not come up")


def _setup(env: dict, *, annotators: int, prompts: int) -> dict:
    output = subprocess.run([sys.executable, "-m", "bench.judging_setup", str(annotators), str(prompts)], cwd=ROOT, env=env,
                            capture_output=True, text=True, check=True)
    return json.loads(output.stdout.strip().splitlines()[-1])


def _measure(name: str, env: dict, command: list[str], port: int, fetch, *, levels=LEVELS, seconds=SECONDS,
             prompts=PROMPTS) -> list[dict]:
    details = _setup(env, annotators=max(levels), prompts=prompts)
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = []
    try:
        _wait_up(port, server)
        acknowledged_so_far: list[str] = []  # levels reuse annotators, so the database holds all earlier levels' verdicts
        for level in levels:
            users = details["annotators"][:level]  # the same sessions continue; the study has items to spare
            figures = run_load(host="127.0.0.1", port=port, annotators=users, password=details["password"], study=details["study"],
                               seconds=seconds)
            acknowledged = [item.replace("-", "") for item in figures.pop("acknowledged_items")]
            stored = [item.replace("-", "") for item in fetch(users)]
            acknowledged_so_far.extend(acknowledged)
            acknowledged = acknowledged_so_far
            figures.update({
                "server": name,
                "acknowledged_cumulative": len(set(acknowledged)),
                "stored_cumulative": len(stored),
                "acknowledged_missing_in_db": len(set(acknowledged) - set(stored)),
                "duplicates_in_db": len(stored) - len(set(stored)),
            })
            results.append(figures)
            print(f"   {name} × {level}: {figures['submits_per_s']} verdicts/s, p95 {figures['p95_ms']} ms, "
                  f"{figures['errors']} errors, {figures['acknowledged_cumulative']} acknowledged / {figures['stored_cumulative']} stored so far", flush=True)
    finally:
        server.terminate()
        server.wait(30)
    return results


def _judged_items_sql(placeholder: str, count: int) -> str:
    marks = ",".join([placeholder] * count)
    return ("SELECT i.public_id FROM evaluation_judgment j JOIN evaluation_comparisonitem i ON i.id = j.item_id "
            f"JOIN auth_user u ON u.id = j.annotator_id WHERE u.username IN ({marks})")


def run_servers(*, servers=("embedded", "production"), levels=LEVELS, seconds=SECONDS, prompts=PROMPTS) -> dict:
    figures = {"seconds_per_level": seconds, "levels": list(levels), "runs": []}
    base_env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_ALLOW_ASYNC_UNSAFE",)}
    tmp = Path(tempfile.mkdtemp(prefix="lima-load-"))
    options = {"levels": levels, "seconds": seconds, "prompts": prompts}

    if "embedded" in servers:
        # Embedded default: manage.py serve (threaded runserver) on a SQLite file, as `make run` serves it.
        sqlite_path = tmp / "load.sqlite3"
        port = _free_port()
        env = {**base_env, "DATABASE_URL": f"sqlite:///{sqlite_path}", "LIMA_VAR_DIR": str(tmp), "DJANGO_DEBUG": "true"}

        def fetch_sqlite(users):
            with sqlite3.connect(sqlite_path) as db:
                return [str(row[0]) for row in db.execute(_judged_items_sql("?", len(users)), users)]

        command = [sys.executable, "manage.py", "serve", "--noreload", f"127.0.0.1:{port}"]
        figures["runs"].extend(_measure("runserver+sqlite", env, command, port, fetch_sqlite, **options))

    if "production" in servers:
        # Production shape: gunicorn (4 workers × 8 threads) on PostgreSQL.
        server = environ.Env.db_url_config(os.environ["DATABASE_URL"])  # the bench's own PostgreSQL (tests/services.py)
        connect = {"host": server["HOST"], "port": server["PORT"], "user": server["USER"], "password": server["PASSWORD"]}
        admin = psycopg2.connect(**connect, dbname="postgres")
        admin.autocommit = True
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {PG_DB}")
            cursor.execute(f"CREATE DATABASE {PG_DB}")
        port = _free_port()
        env = {**base_env, "DATABASE_URL": database_url(server, name=PG_DB), "LIMA_VAR_DIR": str(tmp),
               "DJANGO_DEBUG": "false", "SECRET_KEY": "load-test-secret-key-" + "x" * 40, "ALLOWED_HOSTS": "127.0.0.1,localhost",
               "LIMA_SECURE_SSL_REDIRECT": "false", "STATIC_ROOT": str(tmp / "static")}
        subprocess.run([sys.executable, "manage.py", "collectstatic", "--no-input", "-v0"], cwd=ROOT, env=env, check=True)

        def fetch_pg(users):
            with psycopg2.connect(**connect, dbname=PG_DB) as db, db.cursor() as cursor:
                cursor.execute(_judged_items_sql("%s", len(users)), users)
                return [str(row[0]) for row in cursor.fetchall()]

        gunicorn = [sys.executable, "-m", "gunicorn", "lima_site.wsgi:application", "-b", f"127.0.0.1:{port}", "-w", "4",
                    "-k", "gthread", "--threads", "8", "--timeout", "120", "--keep-alive", "30"]
        figures["runs"].extend(_measure("gunicorn+postgresql", env, gunicorn, port, fetch_pg, **options))
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {PG_DB}")
        admin.close()
    return figures


def run() -> dict:
    return run_servers()
