"""Builders and processes the training tests share: snapshots with responses, and a Celery worker with
embedded beat (what `make run` starts), so run states really move through beat's poll task."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.db import connection

from annotation.datasets.lima_format import ParsedRow
from annotation.models import Status
from annotation.datasets.services import freeze_dataset, import_examples
from tests.services import database_url
from lima_site import queues

ROOT = Path(__file__).resolve().parent.parent


def train_snapshot(*, user, n: int = 6, name: str = "lima-train-tiny"):
    rows = [ParsedRow(line=i + 1, split="train", source="authored",
                      conversations=[f"How long should tea number {i} steep?", f"Steep it for {i + 2} minutes, then serve warm."])
            for i in range(n)]
    import_examples(rows=rows, user=user, status=Status.APPROVED)
    return freeze_dataset(name=name, split="train", user=user)


def dev_snapshot(*, user, n: int = 2, name: str = "lima-dev-tiny"):
    rows = [ParsedRow(line=i + 1, split="dev", source="authored", conversations=[f"Dev prompt {i}: how do I brew tea?"])
            for i in range(n)]
    import_examples(rows=rows, user=user, status=Status.APPROVED)
    return freeze_dataset(name=name, split="dev", user=user)


class PollerProcess:
    """`celery worker -B`: consumes the default queues and runs beat's schedule (training polls every second here)."""

    def __init__(self, log_dir: Path, extra_env: dict[str, str]):
        self.log_path = log_dir / "celery-poller.log"
        self.schedule = log_dir / "beat-schedule"
        self.extra_env = extra_env
        self.process: subprocess.Popen | None = None

    def start(self) -> "PollerProcess":
        from tests.workers import wait_for

        env = {**os.environ, **self.extra_env, "PYTHONUNBUFFERED": "1", "LIMA_TRAINING_POLL_SECONDS": "1",
               "DATABASE_URL": database_url(connection.settings_dict),
               "CELERY_BROKER_URL": settings.CELERY_BROKER_URL}
        self.log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "lima_site", "worker", "-B", "-s", str(self.schedule), "--pool=solo",
             "-Q", ",".join(queues.ALL), "-n", "poller@%h", "--without-gossip", "--without-mingle", "--loglevel=INFO"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        wait_for(lambda: self.process.poll() is not None or b"ready." in self.log_path.read_bytes(), timeout=60,
                 what="the Celery poller to start")
        if self.process.poll() is not None:
            raise RuntimeError(f"the Celery poller exited: {self.log_path.read_text()[-3000:]}")
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self.process:
            self.log.close()
