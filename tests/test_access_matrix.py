"""Every URL × every role against the hand-written expectations of tests/access_matrix.py, with real objects.

The expectations are the truth (they are not read from the views' `lima_capability`), every row is requested
as anonymous, author, annotator, researcher and staff, and an allowed answer must have the exact status and
show the row's content, so a page that answers 404 because its object is missing cannot pass as "allowed".
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import transaction
from django.test import Client
from django.urls import reverse

from tests import access_matrix
from tests.url_matrix import app_urls
from tests.world import World, build_world

pytestmark = pytest.mark.django_db


def _value(world: World, value: str):
    if value.startswith("version:"):
        from annotation.models import Example

        return str(Example.objects.get(pk=world.objects[value.split(":", 1)[1]]).version)
    return world.objects.get(value, value)


def _post_data(world: World, name: str) -> dict:
    data = {}
    for key, value in access_matrix.POST_DATA.get(name, {}).items():
        data[key] = [_value(world, v) for v in value] if isinstance(value, list) else _value(world, value)
    return data


def _answer(client: Client, row: access_matrix.Row, world: World) -> tuple[str, str]:
    """(what the row's columns call the answer, the content an allowed answer shows)."""
    url = reverse(row.name, kwargs={key: _value(world, value) for key, value in row.kwargs.items()})
    response = client.get(url) if row.method == "GET" else client.post(url, _post_data(world, row.name))
    status = response.status_code
    location = response.get("Location", "")
    if status == 302 and location.startswith((reverse(settings.LOGIN_URL) + "?next=", reverse("admin:login") + "?next=")):
        return "login", ""
    if 300 <= status < 400:
        followed = client.get(location)
        return str(status), followed.content.decode(errors="replace")
    if response.streaming:
        return str(status), b"".join(response.streaming_content).decode(errors="replace")
    return str(status), response.content.decode(errors="replace")


def _check_every_row(world: World) -> tuple[list[str], int]:
    mismatches, allowed_with_content = [], 0
    for row in access_matrix.rows():
        for role, user in world.users.items():
            client = Client()
            if user is not None:
                client.force_login(user)
            expected = row.expected[role]
            with transaction.atomic():
                answer, content = _answer(client, row, world)
                transaction.set_rollback(True)
            where = f"line {row.line} {row.name} {row.method} {row.kwargs or ''} as {role}"
            if answer != expected:
                mismatches.append(f"{where}: expected {expected}, got {answer}")
            elif expected not in ("login", "403", "404") and row.shows != "-":
                if not any(text.strip() in content for text in row.shows.split("||")):
                    mismatches.append(f"{where}: {answer} but the page lacks {row.shows!r}: {content[:300]!r}")
                else:
                    allowed_with_content += 1
    return mismatches, allowed_with_content


@pytest.fixture
def world(make_user, author, annotator, researcher, tmp_path, tiny_model, settings):
    settings.LIMA_TRAINING_DIR = tmp_path / "training"
    return build_world(make_user=make_user, author=author, annotator=annotator, researcher=researcher, tmp_path=tmp_path)


def test_every_url_has_a_row():
    named = {name for name, _ in app_urls()}
    listed = {row.name for row in access_matrix.rows()}
    assert not named - listed, f"URLs missing from tests/access_matrix.py: {sorted(named - listed)}"
    assert not listed - named, f"rows of tests/access_matrix.py naming no URL: {sorted(listed - named)}"


def test_every_role_gets_exactly_what_the_matrix_says_with_real_content(world):
    mismatches, allowed_with_content = _check_every_row(world)
    assert not mismatches, f"{len(mismatches)} answers differ from tests/access_matrix.py:\n" + "\n".join(mismatches)
    rows = access_matrix.rows()
    names = {row.name for row in rows}
    print(f"access matrix: {len(names)} URL names in {len(rows)} rows x {len(access_matrix.ROLES)} roles = "
          f"{len(rows) * len(access_matrix.ROLES)} requests, {allowed_with_content} allowed with their content")
    assert len(rows) * len(access_matrix.ROLES) >= 5 * 100
    assert allowed_with_content >= 200, allowed_with_content
