"""An annotator judges three items with the keyboard only; verdicts land in model terms despite random sides."""

import pytest

from annotation.evaluation.models import Judgment, Verdict
from tests.e2e.conftest import wait_for_next_item

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_annotator_judges_three_items_by_keyboard(page, open_judging):
    open_judging("crowd_e2e", prompts=3)
    keys = ["1", "2", "3"]
    shown = []
    for key in keys:
        page.wait_for_selector("#judge-form")
        shown.append(page.locator('input[name="item"]').input_value())
        assert "davinci" not in page.content().lower()
        page.keyboard.press(key)
        wait_for_next_item(page, shown[-1])
        assert page.locator("#judge-notice").inner_text() == "Saved."  # swapped in by htmx, no page load
    page.wait_for_selector("#all-done")
    assert "3 / 3 done" in page.locator(".progress-line").inner_text()

    judgments = {str(j.item.public_id): j for j in Judgment.objects.select_related("item")}
    assert len(judgments) == 3
    for public_id, key in zip(shown, keys):
        judgment = judgments[public_id]
        side = {"1": "a", "2": "b", "3": "tie"}[key]
        assert judgment.side == side
        expected = Verdict.TIE if side == "tie" else (Verdict.TARGET if (side == "a") == judgment.item.target_is_a else Verdict.BASELINE)
        assert judgment.verdict == expected and judgment.seconds is not None

    # U takes the last verdict back within the undo window, and the item comes back.
    page.keyboard.press("u")
    page.wait_for_selector("#judge-form")
    assert page.locator('input[name="item"]').input_value() == shown[-1]
    assert Judgment.objects.count() == 2
