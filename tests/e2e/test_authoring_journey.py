"""One journey in a real browser: an author writes a three-turn example, sees a style warning and
submits it; a reviewer approves it; the quota cell on the dashboard increments."""

import re

import pytest

from annotation.models import Example, Status
from tests.e2e.conftest import wait_for_htmx

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def approved_count(page, cell: str) -> int:
    return int(page.locator(f'tr[data-cell="{cell}"] td[data-status="approved"]').inner_text())


def test_author_writes_and_reviewer_approves(page, live_server, login, author, researcher):
    login(page, "researcher1")
    page.goto(f"{live_server.url}/quotas/")
    assert approved_count(page, "dev/authored/all") == 0

    login(page, "author_a")
    page.goto(f"{live_server.url}/examples/")
    page.select_option("select[name=split]", "dev")
    page.click("#new-example")
    page.wait_for_selector("#example-form")
    wait_for_htmx(page, "#example-form")

    page.fill("#turn-0-text", "What should I pack for a week of hiking in Iceland in June?")
    page.click("#add-turn")
    page.wait_for_selector("#turn-1-text")
    wait_for_htmx(page, "#example-form")
    page.fill("#turn-1-text", "I would pack layers. See https://example.com/iceland for my list.")
    page.wait_for_selector('#feedback-1 .warning[data-code="first_person"]')
    page.wait_for_selector('#feedback-1 .warning[data-code="link"]')
    page.click("#add-turn")
    page.wait_for_selector("#turn-2-text")
    wait_for_htmx(page, "#example-form")
    assert page.locator('select[name="turn-2-role"]').input_value() == "user"
    page.fill("#turn-2-text", "And for rain?")
    page.wait_for_selector("#save-status .saved")
    assert "tokens" in page.locator("#total-tokens").inner_text()
    # The Markdown preview is rendered server-side.
    page.fill("#turn-0-text", "What should I pack for **hiking** in Iceland?")
    page.wait_for_selector("#feedback-0 .preview strong")

    page.click("#submit-example")
    page.wait_for_url(f"{live_server.url}/examples/")
    row = page.locator("tr", has_text="What should I pack")
    assert "Submitted" in row.inner_text()
    example = Example.objects.get()
    assert example.status == Status.SUBMITTED and example.turns.count() == 3 and example.is_multi_turn

    login(page, "researcher1")
    page.goto(f"{live_server.url}/review/")
    page.click("text=What should I pack")
    page.wait_for_selector("#approve")
    assert page.locator(".warning").count() >= 2  # the reviewer sees the same style warnings
    page.click("#approve")
    page.wait_for_url(f"{live_server.url}/review/")
    assert re.search("approved", page.locator(".messages").inner_text())

    page.goto(f"{live_server.url}/quotas/")
    assert approved_count(page, "dev/authored/all") == 1
