"""The judgments export on several PostgreSQL connections (annotation/evaluation/exports.py, `_copy_out`): the
statements over ranges of items, run in turns on private connections that share one snapshot, make the Python
writer's file byte for byte; a change committed while the file streams is not in it; a client that goes away
ends every connection the export opened."""

from __future__ import annotations

import time

import pytest
from django.db import connection

from annotation.evaluation import exports
from annotation.evaluation.models import ComparisonItem, Judgment
from tests.test_csv_exports import hostile_study

pytestmark = pytest.mark.django_db(transaction=True)  # the export's own connections see committed rows only


@pytest.fixture
def two_connections(settings, monkeypatch):
    settings.LIMA_EXPORT_CONNECTIONS = 2
    monkeypatch.setattr(exports, "ITEMS_PER_COPY", 2)  # a few items per statement: many statements, both connections


def python_file(study, fmt: str, *, raw: bool = False) -> str:
    return "".join(exports.encoded(exports.judgment_export(study, identities=True), fmt, raw=raw))


def postgres_file(study, fmt: str, *, raw: bool = False) -> str:
    if fmt == "csv":
        return b"".join(exports.postgres_judgment_csv(study, identities=True, raw=raw)).decode()
    return b"".join(exports.postgres_judgment_jsonl(study, identities=True)).decode()


def client_backends() -> set[int]:
    """The server processes of the other clients of the test database (autovacuum workers, which visit it now and then,
    are not clients and are not counted)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
                       "AND backend_type = 'client backend'")
        return {pid for pid, in cursor.fetchall()}


def gone(pids: set[int], *, seconds: float = 10) -> bool:
    """Whether these server processes have left pg_stat_activity (a closed connection's does a moment after the close)."""
    deadline = time.monotonic() + seconds
    while client_backends() & pids:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.parametrize(("fmt", "raw"), [("csv", False), ("csv", True), ("jsonl", False)])
def test_export_on_two_connections_is_the_python_file_byte_for_byte(researcher, make_user, two_connections, fmt, raw):
    study = hostile_study(researcher, make_user, kind="pairwise")
    statements = exports._judgment_statements(study, fmt, identities=True, raw=raw)
    assert len(statements) >= 6  # 15 items, 2 per statement
    expected = python_file(study, fmt, raw=raw)
    assert postgres_file(study, fmt, raw=raw) == expected
    assert expected.count("\n") >= Judgment.objects.filter(item__study=study).count()


def test_one_connection_writes_the_same_file(researcher, make_user, settings):
    settings.LIMA_EXPORT_CONNECTIONS = 1
    study = hostile_study(researcher, make_user, kind="pairwise")
    assert len(exports._judgment_statements(study, "csv", identities=True, raw=False)) == 1
    assert postgres_file(study, "csv") == python_file(study, "csv")


def test_changes_committed_while_the_file_streams_are_not_in_it(researcher, make_user, two_connections, monkeypatch):
    study = hostile_study(researcher, make_user, kind="pairwise")
    monkeypatch.setattr(exports, "FLUSH_BYTES", 1)  # a piece per item: the file is still streaming after its first lines
    monkeypatch.setattr(exports, "STREAM_PIECES", 1)  # and no connection reads far ahead of it
    before = python_file(study, "csv")
    chunks = exports.postgres_judgment_csv(study, identities=True)
    received = [next(chunks), next(chunks)]  # the header (the snapshot is taken before it), then the first item's lines
    last_item = ComparisonItem.objects.filter(study=study).order_by("-id").first()
    Judgment.objects.filter(item=last_item).update(reason="changed after the export began")
    Judgment.objects.filter(item=ComparisonItem.objects.filter(study=study).order_by("-id")[1]).delete()
    received += list(chunks)
    assert b"".join(received).decode() == before
    assert python_file(study, "csv") != before  # the changes are there for the next export


def test_a_client_that_goes_away_ends_every_export_connection(researcher, make_user, two_connections, monkeypatch):
    study = hostile_study(researcher, make_user, kind="pairwise")
    monkeypatch.setattr(exports, "FLUSH_BYTES", 1)
    before = client_backends()
    chunks = exports.postgres_judgment_jsonl(study, identities=True)
    next(chunks)
    opened = client_backends() - before
    assert len(opened) == 2, opened  # LIMA_EXPORT_CONNECTIONS
    chunks.close()  # what the server does when the download is cancelled
    assert gone(opened), client_backends() & opened
    assert Judgment.objects.filter(item__study=study).exists()  # Django's own connection still works
