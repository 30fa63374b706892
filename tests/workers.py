"""A real Celery worker process for integration tests (never eager mode).

It runs `celery -A lima_site worker` against the same Redis broker and the same PostgreSQL test
database as the test, so tasks see what transactional tests commit.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

from lima_site import queues as celery_queues

from tests.services import database_url

ROOT = Path(__file__).resolve().parent.parent
# Deadlines stretch with LIMA_TEST_TIME_SCALE (tests/timing.py); re-exported here for the tests that import them.
from tests.timing import TIME_SCALE, scaled  # noqa: E402,F401


class WorkerProcess:
    def __init__(self, *, name: str, queues: str = ",".join(celery_queues.ALL), visibility_timeout: int = 3600, log_dir: Path,
                 broker_url: str | None = None, pool: str = "solo"):
        self.name = name
        self.broker_url = broker_url or settings.CELERY_BROKER_URL
        self.queues = queues
        self.visibility_timeout = visibility_timeout
        # solo runs tasks in the worker's own thread, which then answers remote control only between tasks;
        # prefork (a child process) answers `celery inspect` while a task runs.
        self.pool = pool
        self.log_path = log_dir / f"celery-{name}.log"
        self.process: subprocess.Popen | None = None

    def environment(self) -> dict:
        return {**os.environ, "DATABASE_URL": database_url(connection.settings_dict), "CELERY_BROKER_URL": self.broker_url,
                "LIMA_BROKER_VISIBILITY_TIMEOUT": str(self.visibility_timeout), "PYTHONUNBUFFERED": "1"}

    def start(self) -> "WorkerProcess":
        self.log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "lima_site", "worker", f"--pool={self.pool}", "--concurrency=1",
             "-Q", self.queues, "-n", f"{self.name}@%h", "--without-gossip", "--without-mingle", "--loglevel=INFO"],
            cwd=ROOT, env=self.environment(), stdout=self.log, stderr=subprocess.STDOUT,
        )
        self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + scaled(timeout)
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Celery worker {self.name} exited: {self.log_path.read_text()[-3000:]}")
            if b"ready." in self.log_path.read_bytes():
                return
            time.sleep(0.2)
        raise RuntimeError(f"Celery worker {self.name} did not become ready: {self.log_path.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: no warm shutdown, no acknowledgement of the task in hand."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        try:
            if self.process and self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(20)
                except subprocess.TimeoutExpired:
                    self.kill()
        finally:
            if self.process and self.process.poll() is None:
                self.kill()
            self.log.close()


def purge_broker() -> None:
    """Empty the test broker's queues so one test's leftovers never reach another's worker."""
    import redis

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.ping()  # fails loudly when Redis is down
    for key in (*celery_queues.ALL, "unacked", "unacked_index"):
        client.delete(key)


def wait_for(predicate, *, timeout: float = 120, interval: float = 0.3, what: str = "condition"):
    timeout = scaled(timeout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
