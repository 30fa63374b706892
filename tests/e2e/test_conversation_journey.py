"""One journey in a real browser: an evaluator talks to Model X, watches the answer being written, rates it from
the keyboard, goes on, and finishes; the researcher then reads the report with the side-by-side chart."""

import pytest

from annotation.evaluation.models import ConversationTurn, TurnRating
from annotation.evaluation.services import conversations as services
from tests.builders import tiny_model_spec
from tests.e2e.conftest import shot, wait_for_htmx
from tests.workers import scaled

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_an_evaluator_converses_with_model_x_and_rates_each_answer(page, live_server, login, researcher, annotator,
                                                                   tiny_model, start_worker):
    models = [tiny_model_spec(name="lima-zero-shot", max_new_tokens=500), tiny_model_spec(name="lima-30-dialogues", max_new_tokens=500)]
    study = services.create_study(name="zero-shot vs 30 dialogues", model_pool=models, evaluators=[annotator], user=researcher,
                                  conversations_per_model=5, turns_per_conversation=2, public_title="Trip planning chats",
                                  guidelines="Ask what you would ask a helpful assistant.")
    start_worker()
    login(page, "annotator1")
    page.click("nav >> text=Conversations")
    page.click("text=Start or continue a conversation")
    page.wait_for_selector("#message-form")
    assert "Model X" in page.content() and "zero-shot" not in page.content() and "dialogues" not in page.content()
    wait_for_htmx(page, "#message-form")
    page.fill("#message-form textarea", "Plan a three-day trip to Lisbon, please.")
    page.click("#message-form button[type=submit]")
    page.wait_for_selector("#turn-1 >> text=writing…")
    page.wait_for_function("() => document.querySelector('#turn-1').innerText.length > 40", timeout=scaled(60_000))
    shot(page, "conversation-streaming")
    page.wait_for_selector("#turn-1 button[value=pass]", timeout=scaled(120_000))
    assert not page.locator("#message-form").count()  # rate first
    page.fill("#turn-1 textarea[name=note]", "Relevant, but it rambles.")
    page.focus("#turn-1 button[value=pass]")
    page.keyboard.press("Enter")
    page.wait_for_selector("#message-form")
    assert page.locator("#turn-1 .rated").inner_text() == "Rated Pass"
    wait_for_htmx(page, "#message-form")
    page.fill("#message-form textarea", "And what should I pack?")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_selector("#turn-3 button[value=fail]", timeout=scaled(120_000))
    page.click("#turn-3 button[value=fail]")
    page.wait_for_selector("#turn-3 .rated >> text=Rated Fail")
    assert not page.locator("#message-form").count()
    shot(page, "conversation-rated")
    page.click("#finish-form button")
    page.wait_for_selector("text=Conversation finished")
    assert list(TurnRating.objects.order_by("turn__position").values_list("grade", "note")) == [
        ("pass", "Relevant, but it rambles."), ("fail", "")]
    assert ConversationTurn.objects.filter(role="assistant", state="done").count() == 2

    login(page, "researcher1")
    page.click("nav >> text=Multi-turn")
    page.click(f"text={study.name}")
    page.wait_for_selector("#multiturn-chart svg")
    assert "lima-zero-shot" in page.locator("#multiturn-report").inner_text() or "lima-30-dialogues" in page.locator("#multiturn-report").inner_text()
    shot(page, "multiturn-report")
