"""A verdict whose request never reaches the server: the annotator is told, the same item stays,
the keys work again, and pressing the key once more stores exactly one judgment."""

import pytest

from annotation.evaluation.models import Judgment
from tests.e2e.conftest import wait_for_htmx, wait_for_next_item

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_submit_lost_on_the_network_can_be_sent_again_by_keyboard(page, open_judging):
    open_judging("crowd_offline", prompts=2)
    wait_for_htmx(page, "#judge-form")
    item = page.locator('input[name="item"]').input_value()

    # The first submit is dropped as a lost connection would be (no response at all); later ones go through.
    aborted = []

    def drop_first_submit(route):
        if not aborted:
            aborted.append(route.request.url)
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/submit/", drop_first_submit)
    page.keyboard.press("1")
    page.wait_for_selector("#judge-error")
    assert aborted, "the submit was not intercepted"
    assert page.locator("#judge-error").inner_text() == "Not saved — the server did not answer (no connection). Press the key again."
    assert page.locator('input[name="item"]').input_value() == item  # the same item stays on screen
    assert Judgment.objects.count() == 0

    page.keyboard.press("1")  # the keyboard is not stuck on the failed request
    wait_for_next_item(page, item)
    assert page.locator("#judge-notice").inner_text() == "Saved."
    assert page.locator("#judge-error").count() == 0
    judgments = list(Judgment.objects.select_related("item"))
    assert [(str(j.item.public_id), j.side) for j in judgments] == [(item, "a")]
    assert "1 / 2 done" in page.locator(".progress-line").inner_text()


def test_a_503_shows_the_servers_own_words(page, open_judging, rf):
    """The page shows what the database-unavailable answer says, e.g. that the verdict *was* saved.

    The 503 body is the middleware's real answer to a real OperationalError; only its delivery is
    routed, because taking the shared test database down would stop the live server's other tests.
    """
    from django.db import OperationalError

    from lima_site.database_unavailable import SAVED_MESSAGE, DatabaseUnavailableMiddleware

    request = rf.post("/judge/x/submit/", HTTP_HX_REQUEST="true")
    request.lima_action_saved = True
    answer = DatabaseUnavailableMiddleware(lambda r: None).process_exception(request, OperationalError("gone"))
    open_judging("crowd_503", prompts=2)
    wait_for_htmx(page, "#judge-form")
    page.route("**/submit/", lambda route: route.fulfill(status=503, body=answer.content, headers={"Retry-After": "5"},
                                                        content_type="text/html"))
    page.keyboard.press("2")
    page.wait_for_selector("#judge-error")
    assert page.locator("#judge-error").inner_text() == SAVED_MESSAGE
