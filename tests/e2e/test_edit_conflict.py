"""Two people editing one example in two browsers: the second save meets a conflict, never a silent overwrite."""

import pytest

from annotation.models import Example, ExampleRevision
from tests.builders import example

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_second_editor_sees_both_versions_and_keeps_theirs_explicitly(browser, page, live_server, login, author, researcher):
    item = example(user=author, turns=("Original prompt?", "Original answer."))
    login(page, "author_a")
    page.goto(f"{live_server.url}/examples/{item.pk}/edit/")

    other_context = browser.new_context()
    other = other_context.new_page()
    login(other, "researcher1")
    other.goto(f"{live_server.url}/examples/{item.pk}/edit/")
    other.fill("#turn-1-text", "The researcher's answer.")
    other.wait_for_selector("#save-status .saved")
    other_context.close()

    page.fill("#turn-1-text", "The author's answer.")
    page.wait_for_selector("#conflict")
    conflict = page.locator("#conflict").inner_text()
    assert "The researcher's answer." in conflict and "The author's answer." in conflict
    assert Example.objects.get(pk=item.pk).turns.get(position=1).text == "The researcher's answer."

    page.click("#keep-mine")
    page.wait_for_selector("#conflict", state="detached")
    assert Example.objects.get(pk=item.pk).turns.get(position=1).text == "The author's answer."
    texts = [r.snapshot["turns"][1]["text"] for r in ExampleRevision.objects.filter(example=item).order_by("version")]
    assert "The researcher's answer." in texts and texts[-1] == "The author's answer."
