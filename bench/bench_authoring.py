"""Issue 2 figures: SQL queries per list/dashboard page at 10 and 5,000 examples; 1,330-row import time."""

from __future__ import annotations

import statistics
import time

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from annotation.models import AuthorProfile, Example
from tests.builders import bulk_examples, lima_1330_lines

PAGES = {"example_list": "author", "review_queue": "researcher", "dashboard": "researcher"}


def _user(name: str, role: str, group: str = ""):
    user, _ = get_user_model().objects.get_or_create(username=f"bench-{name}")
    user.groups.add(Group.objects.get(name=role))
    if group:
        AuthorProfile.objects.get_or_create(user=user, defaults={"group": group})
    return user


def _page_queries(client: Client, url: str) -> tuple[int, float]:
    client.get(url)  # warm caches (sessions, templates)
    timings = []
    for _ in range(5):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(url)
            timings.append(time.perf_counter() - started)
        assert response.status_code == 200, url
    return len(captured), statistics.median(timings)


def run() -> dict:
    Example.objects.all().delete()
    users = {"author": _user("author", "author", "A"), "researcher": _user("researcher", "researcher")}
    clients = {}
    for role, user in users.items():
        clients[role] = Client()
        clients[role].force_login(user)
    figures: dict = {"queries": {}, "median_ms": {}}
    for size, add in ((10, 10), (5000, 4990)):
        bulk_examples(add // 2, user=users["author"], status="submitted")
        bulk_examples(add - add // 2, user=users["author"], status="approved")
        for page, role in PAGES.items():
            queries, seconds = _page_queries(clients[role], reverse(f"annotation:{page}"))
            figures["queries"].setdefault(page, {})[str(size)] = queries
            figures["median_ms"].setdefault(page, {})[str(size)] = round(seconds * 1000, 1)
    Example.objects.all().delete()
    payload = ("\n".join(lima_1330_lines()) + "\n").encode()
    durations = []
    for _ in range(3):
        started = time.perf_counter()
        response = clients["researcher"].post(
            reverse("datasets:dataset_import"),
            {"file": SimpleUploadedFile("lima.jsonl", payload), "default_split": "auto", "status": "approved"},
        )
        durations.append(time.perf_counter() - started)
        assert response.status_code == 302, response.content[:500]
        assert Example.objects.count() == 1330
        Example.objects.all().delete()
    figures["import_1330_rows_seconds"] = {"median": round(statistics.median(durations), 3), "runs": [round(d, 3) for d in durations]}
    return figures
