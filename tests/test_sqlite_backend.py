"""The embedded default's SQLite backend queues the process's write transactions (lima_site/sqlite_backend).

Run in a subprocess with its own settings (a file database, SQLite's busy timeout cut to 0.5 s): 25 threads
each make 8 write transactions that hold the lock for 20 ms, so the queue is ~4 s long in all. With Django's
own backend a waiting thread sleeps and polls in SQLite's busy handler and some give up with "database is
locked"; with the queue none does and every increment is stored.
"""

import subprocess
import sys
import textwrap
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent

SCRIPT = textwrap.dedent("""
    import sys, threading, time
    import django
    from django.conf import settings
    settings.configure(DATABASES={"default": {
        "ENGINE": sys.argv[1], "NAME": sys.argv[2], "CONN_MAX_AGE": 60,
        "OPTIONS": {"timeout": 0.5, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"},
    }})
    django.setup()
    from django.db import OperationalError, connection, transaction
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE counter (n INTEGER NOT NULL)")
        cursor.execute("INSERT INTO counter VALUES (0)")
    errors = []
    start = threading.Barrier(25)

    def work():
        start.wait()
        for _ in range(8):
            try:
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute("UPDATE counter SET n = n + 1")
                    time.sleep(0.02)
            except OperationalError as exc:
                errors.append(str(exc))
        connection.close()

    threads = [threading.Thread(target=work) for _ in range(25)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with connection.cursor() as cursor:
        cursor.execute("SELECT n FROM counter")
        print(cursor.fetchone()[0], len(errors), errors[:1])
""")


def _run(engine: str, tmp_path: Path) -> tuple[int, int, str]:
    result = subprocess.run([sys.executable, "-c", SCRIPT, engine, str(tmp_path / "db.sqlite3")], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    stored, errors, sample = result.stdout.split(maxsplit=2)
    return int(stored), int(errors), sample


def test_queued_write_transactions_never_time_out_and_every_write_is_stored(tmp_path):
    stored, errors, sample = _run("lima_site.sqlite_backend", tmp_path)
    assert (stored, errors) == (200, 0), sample


def test_without_the_queue_the_same_load_times_out(tmp_path):
    """The control: the load above is heavy enough that SQLite's busy handler alone refuses some writes."""
    stored, errors, sample = _run("django.db.backends.sqlite3", tmp_path)
    assert errors > 0 and stored == 200 - errors and "database is locked" in sample


def test_a_logged_query_quotes_its_parameters_as_sqlite_itself_does():
    """Under DEBUG (make run) every query's text is written for connection.queries; the backend quotes its parameters
    in Python instead of asking SQLite (a round trip per query). SQLite's own QUOTE() is the truth here."""
    import sqlite3

    from lima_site.sqlite_backend.base import sqlite_literal

    values = [None, 0, -7, 2**62, 1.5, 0.1, -2.25e-05, 1e100, "", "plain", "it's", "''", "new\nline", "ünïcødé ✓",
              b"", b"\x00\xffab", True, False]
    with sqlite3.connect(":memory:") as db:
        for value in values:
            (truth,) = db.execute("SELECT QUOTE(?)", (value,)).fetchone()
            mine = sqlite_literal(value)
            if isinstance(value, float):  # SQLite writes %!.15g; the same number either way
                assert float(mine) == float(truth), value
            else:
                assert mine == truth, value
    # SQLite's QUOTE() stops a text at its first NUL; the logged text keeps all of it.
    assert sqlite_literal("nul\x00byte") == "'nul\x00byte'"
