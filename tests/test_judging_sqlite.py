"""The judging tests again, on the embedded default's SQLite.

A verdict's queries are hand-written SQL (lima_site/sql.py, for their cost), and `make run` serves them from SQLite
while the suite runs on PostgreSQL: this runs tests/test_judging.py in a subprocess whose DATABASE_URL names a
SQLite file (the backend `make run` uses: its write queue, WAL, IMMEDIATE transactions), so the same assertions
(assignment order, one prompt per annotator, double submits, concurrent annotators, undo, progress, query counts)
hold on both databases.
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_judging_tests_pass_on_the_embedded_sqlite_default(tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DATABASE_URL", "PYTEST_XDIST", "PYTEST_CURRENT"))}
    env.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'lima.sqlite3'}", "LIMA_VAR_DIR": str(tmp_path / "var"),
                "CELERY_BROKER_URL": "memory://", "LIMA_TEST_SQLITE_TWIN": "1"})
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", "-o", "addopts=", "--strict-markers",
                           "tests/test_judging.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "failed" not in done.stdout and "skipped" not in done.stdout, done.stdout[-2000:]
