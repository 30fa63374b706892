"""Issue 17 figures: SQL queries and median time of the researchers' example list (plain, filtered, full-text
search) at 100 and 10,000 examples, and of the people page at 10 and 300 people."""

from __future__ import annotations

import statistics
import time

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from annotation.models import AuthorProfile, Example
from annotation.datasets.lima_format import ParsedRow
from annotation.datasets.services import import_examples

EXAMPLE_QUERIES = {"plain": {}, "filtered": {"status": "submitted", "split": "train", "source": "wikihow"},
                   "search": {"q": "bench prompt 42"}}


def _page(client: Client, url: str, query: dict | None = None) -> tuple[int, float]:
    client.get(url, query or {})
    timings = []
    for _ in range(5):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(url, query or {})
            timings.append(time.perf_counter() - started)
        assert response.status_code == 200, url
    return len(captured), round(1000 * statistics.median(timings), 1)


def _people(n: int, start: int) -> None:
    User = get_user_model()
    author, annotator = Group.objects.get(name="author"), Group.objects.get(name="annotator")
    pool, _ = Group.objects.get_or_create(name="pool: crowd")
    for i in range(start, start + n):
        user = User.objects.create_user(username=f"bench-person-{i}", password=None)
        if i % 2:
            user.groups.add(annotator, pool)
        else:
            user.groups.add(author)
            AuthorProfile.objects.create(user=user, group="A")


def _examples(n: int, *, start: int, writer, status: str, source: str) -> None:
    rows = [ParsedRow(line=i + 1, split="train", source=source, conversations=[f"Bench prompt {start + i}: how?", f"Answer {start + i}."])
            for i in range(n)]
    import_examples(rows=rows, user=writer, status=status)
    Example.objects.filter(created_by__isnull=True).update(created_by=writer, text_edited_by=writer)


def run() -> dict:
    Example.objects.all().delete()
    User = get_user_model()
    researcher, _ = User.objects.get_or_create(username="bench-team-researcher")
    researcher.groups.add(Group.objects.get(name="researcher"))
    writer, _ = User.objects.get_or_create(username="bench-team-author")
    writer.groups.add(Group.objects.get(name="author"))
    client = Client()
    client.force_login(researcher)
    figures: dict = {"example_list": {}, "people": {}}
    for size, add in ((100, 100), (10_000, 9_900)):
        start = Example.objects.count()
        _examples(add // 2, start=start, writer=writer, status="submitted", source="wikihow")
        _examples(add - add // 2, start=start + add // 2, writer=writer, status="approved", source="authored")
        assert Example.objects.count() == size
        for name, query in EXAMPLE_QUERIES.items():
            queries, ms = _page(client, reverse("annotation:example_browse"), query)
            figures["example_list"].setdefault(name, {})[str(size)] = {"queries": queries, "median_ms": ms}
    for size, add in ((10, 10), (300, 290)):
        _people(add, start=0 if size == 10 else 10)
        queries, ms = _page(client, reverse("team:people"))
        figures["people"][str(size)] = {"queries": queries, "median_ms": ms}
    Example.objects.all().delete()
    return figures
