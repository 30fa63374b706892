"""Shared fixtures. The suite runs against real services: it fails, never skips, when one is missing."""

from __future__ import annotations

import os
import subprocess

import pytest
from django.conf import settings
from django.contrib.auth.models import Group

from annotation.models import AuthorProfile


def pytest_configure(config):
    engine = settings.DATABASES["default"]["ENGINE"]
    # LIMA_TEST_SQLITE_TWIN: tests/test_judging_sqlite.py runs the judging tests again on the embedded default's
    # SQLite (a subprocess of the PostgreSQL suite), since the verdict path's hand-written SQL runs on both.
    if "postgresql" not in engine and not os.environ.get("LIMA_TEST_PURE_ONLY") and not os.environ.get("LIMA_TEST_SQLITE_TWIN"):
        raise pytest.UsageError(
            f"the suite runs against real PostgreSQL; DATABASE_URL points at {engine}. Run `make test`, which starts "
            "this checkout's own PostgreSQL and Redis (python -m tests.services start) and points the suite at them."
        )


def _has_cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


DATABASE_FIXTURES = {"db", "transactional_db", "django_db_setup", "live_server", "client", "admin_client"}


# The files that take longest (seconds in a loaded run, most first). `make test` hands whole files to its xdist
# workers in collection order, so these go first: a long file started last would leave one worker running it alone.
LONGEST_FILES = (
    "test_training_slurm.py", "test_generation_runs.py", "test_training_engine.py", "test_access_matrix.py",
    "test_experiments.py", "test_judging_sqlite.py", "test_training_faults.py", "test_fuzz_atheris.py", "test_llm_judge.py", "test_training_runs.py",
    "e2e/test_experiment_journey.py", "test_training_trainer.py", "e2e/test_training_journey.py", "test_generation_leases.py",
    "e2e/test_conversation_journey.py", "test_conversations.py", "test_blindness_attack.py", "test_checkpoint_generation.py",
)


def _longest_files_first(items) -> None:
    """Stable: within a file, and among the other files, the order stays as collected."""
    rank = {name: index for index, name in enumerate(LONGEST_FILES)}

    def key(item) -> int:
        path = item.nodeid.split("::", 1)[0].removeprefix("tests/")
        return rank.get(path, len(rank))

    items.sort(key=key)


def pytest_collection_modifyitems(config, items):
    """`gpu` tests (vLLM) need CUDA hardware: they run where a GPU is present and are deselected,
    with a visible count, where none is. This is the suite's only exception to "never skip".

    `make test-fast` (LIMA_TEST_PURE_ONLY) runs only tests that need no service: one that uses the
    database is refused by name, so it never runs on anything but the real PostgreSQL."""
    if os.environ.get("LIMA_TEST_PURE_ONLY"):
        needing_services = [item.nodeid for item in items if item.get_closest_marker("django_db")
                            or DATABASE_FIXTURES & set(getattr(item, "fixturenames", ()))]
        if needing_services:
            raise pytest.UsageError("make test-fast runs pure-module tests only; these need the database: "
                                    + ", ".join(needing_services[:10]))
    _longest_files_first(items)
    if _has_cuda():
        return
    gpu_items = [item for item in items if item.get_closest_marker("gpu")]
    if gpu_items:
        config.hook.pytest_deselected(items=gpu_items)
        items[:] = [item for item in items if not item.get_closest_marker("gpu")]
        config._lima_gpu_deselected = len(gpu_items)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    count = getattr(config, "_lima_gpu_deselected", 0)
    if count:
        terminalreporter.write_line(f"{count} gpu test(s) deselected: no CUDA device on this machine (they run on GPU hosts)", yellow=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A child process that failed (check=True with captured output) shows what it printed: without this a
    CalledProcessError names the command and its exit status only, and a failure seen once in CI can't be read."""
    outcome = yield
    error = call.excinfo.value if call.excinfo else None
    if isinstance(error, (subprocess.CalledProcessError, subprocess.TimeoutExpired)):
        report = outcome.get_result()
        for stream in ("stdout", "stderr"):
            text = getattr(error, stream, None)
            if text:
                text = text.decode(errors="replace") if isinstance(text, bytes) else text
                report.sections.append((f"child process {stream} (last 8,000 characters)", text[-8000:]))


@pytest.fixture(scope="session", autouse=True)
def tiny_model(django_db_blocker):
    """Build the tiny model + tokenizer once per session (a fraction of a second), as `make run` does."""
    from django.core.management import call_command

    with django_db_blocker.unblock():
        call_command("build_tiny_model", verbosity=0)
    return settings.LIMA_MODEL_DIR


@pytest.fixture
def lima_defaults(db):
    """Role groups and quotas. The data migration creates them, but a transactional test's flush
    (browser and worker tests) deletes them for the tests after it, so each test re-ensures them."""
    from annotation.defaults import ensure_defaults
    from annotation.models import Quota

    ensure_defaults(group_model=Group, quota_model=Quota)


@pytest.fixture
def make_user(lima_defaults):
    from django.contrib.auth import get_user_model

    counter = {"n": 0}

    def build(role: str | None = None, *, group: str = "", staff: bool = False, username: str | None = None):
        counter["n"] += 1
        user = get_user_model().objects.create_user(
            username=username or f"{role or 'staff'}{counter['n']}", password="pw-for-tests-123", is_staff=staff
        )
        if role:
            user.groups.add(Group.objects.get(name=role))
        if group:
            AuthorProfile.objects.create(user=user, group=group)
        return user

    return build


@pytest.fixture
def author(make_user):
    return make_user("author", group="A", username="author_a")


@pytest.fixture
def test_author(make_user):
    return make_user("author", group="B", username="author_b")


@pytest.fixture
def researcher(make_user):
    return make_user("researcher", username="researcher1")


@pytest.fixture
def annotator(make_user):
    return make_user("annotator", username="annotator1")


@pytest.fixture
def start_worker(transactional_db, tmp_path):
    """Start real Celery worker processes (a test may start, kill and restart several)."""
    from tests.workers import WorkerProcess, purge_broker

    purge_broker()
    started = []

    def start(name: str = "worker", **options):
        worker = WorkerProcess(name=name, log_dir=tmp_path, **options).start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
    purge_broker()


@pytest.fixture
def openai_server(settings, monkeypatch):
    """A local OpenAI-compatible endpoint (no network); tests script its answers via FakeOpenAI.

    It listens on 127.0.0.1, so the test allows private endpoints, here and in the workers it starts."""
    from tests.fake_openai import fake_openai_server

    settings.LIMA_ALLOW_PRIVATE_ENDPOINTS = True
    monkeypatch.setenv("LIMA_ALLOW_PRIVATE_ENDPOINTS", "true")
    with fake_openai_server() as url:
        yield url
