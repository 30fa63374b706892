"""An evaluator attacks the blindness of live multi-turn evaluation with what an evaluator can fetch.

The models have distinctive names and served names, their ids (and the conversations' and turns' ids) are moved to
recognisable numbers, and the model answers by naming itself, its vendor and its id. The evaluator walks every page
and partial of a conversation (start, send, the polled turn, rate, finish, the list) and reads every byte: no
model name, served name, endpoint, or database id may appear, in the HTML or in any URL it is sent to.
"""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.urls import reverse

from annotation.evaluation.models import Conversation, ConversationTurn
from annotation.evaluation.services import conversations as services
from generation.models import ModelSpec
from tests.fake_openai import FakeOpenAI
from tests.random_tokens import without_random_tokens

ID_BASES = {"generation_modelspec": 770001, "evaluation_conversation": 880001, "evaluation_conversationturn": 990001,
            "evaluation_conversationstudy": 660001}
SECRETS = ("zephyr-zero-shot", "zephyr-dialogues", "served-zephyr-secret", "Anthropic", "OpenAI", "Claude")


@pytest.fixture
def distinctive_ids(db):
    with connection.cursor() as cursor:
        for table, base in ID_BASES.items():
            cursor.execute(f"SELECT pg_get_serial_sequence('{table}', 'id')")
            cursor.execute("SELECT setval(%s, %s, false)", [cursor.fetchone()[0], base])


def leaks(body: str, ids: list[int]) -> list[str]:
    body = without_random_tokens(body)
    found = [secret for secret in SECRETS if secret.lower() in body.lower()]
    found += [str(i) for i in ids if re.search(rf"(?<!\d){i}(?!\d)", body)]
    return found


def test_an_evaluator_sees_only_model_x(client, distinctive_ids, researcher, annotator, make_user, openai_server):
    FakeOpenAI.reply = staticmethod(lambda body: "Hello! I am zephyr-zero-shot (served-zephyr-secret), a model by "
                                                 "Anthropic, like Claude or OpenAI's models.")
    models = [ModelSpec.objects.create(name=name, backend="openai", location=openai_server, served_model_name="served-zephyr-secret")
              for name in ("zephyr-zero-shot", "zephyr-dialogues")]
    study = services.create_study(name="zephyr-zero-shot vs zephyr-dialogues", model_pool=models, evaluators=[annotator],
                                  user=researcher, conversations_per_model=2, turns_per_conversation=2, public_title="Chat")
    client.force_login(annotator)
    seen: list[tuple[str, str]] = []

    def fetch(method: str, url: str, data=None, htmx: bool = False):
        response = getattr(client, method)(url, data or {}, **({"HTTP_HX_REQUEST": "true"} if htmx else {}))
        assert response.status_code in (200, 302), (url, response.status_code)
        seen.append((url, response.content.decode() + response.get("Location", "") + str(dict(response.headers))))
        return response

    fetch("get", reverse("conversations:converse_home"))
    start = fetch("post", reverse("conversations:converse_start", args=[study.public_id]))
    conversation = Conversation.objects.get()
    fetch("get", start.url)
    fetch("post", reverse("conversations:conversation_send", args=[conversation.public_id]), {"text": "Who are you?", "position": 0}, True)
    streaming = fetch("get", reverse("conversations:conversation_turn", args=[conversation.public_id, 1]), htmx=True)
    assert b"writing" in streaming.content
    turn = ConversationTurn.objects.get(conversation=conversation, position=1)
    assert services.generate_reply(turn_id=turn.pk) == "done"  # what the worker runs
    turn.refresh_from_db()
    assert "zephyr-zero-shot" in turn.raw_text and "zephyr-zero-shot" not in turn.text  # kept for researchers only
    done = fetch("get", reverse("conversations:conversation_turn", args=[conversation.public_id, 1]), htmx=True)
    assert b'value="excellent"' in done.content
    fetch("post", reverse("conversations:conversation_rate", args=[conversation.public_id, 1]), {"grade": "fail", "note": "no"}, True)
    fetch("get", reverse("conversations:conversation", args=[conversation.public_id]))
    fetch("post", reverse("conversations:conversation_finish", args=[conversation.public_id]))
    fetch("get", reverse("conversations:converse_home"))
    ids = [*ModelSpec.objects.values_list("pk", flat=True), conversation.pk, study.pk,
           *ConversationTurn.objects.values_list("pk", flat=True)]
    assert min(ids) >= 660001  # the sequences really moved
    for url, body in seen:
        assert not leaks(url, ids), url
        assert not leaks(body, ids), (url, leaks(body, ids))
        for link in re.findall(r'(?:href|hx-get|hx-post|action)="([^"]+)"', body):
            assert not leaks(link, ids), link


def test_an_evaluator_cannot_reach_another_evaluators_conversation_or_the_report(client, researcher, annotator, make_user):
    model = ModelSpec.objects.create(name="zephyr-zero-shot", backend="openai", location="https://judge.example/v1", served_model_name="s")
    other = make_user("annotator")
    study = services.create_study(name="s", model_pool=[model], evaluators=[annotator, other], user=researcher)
    conversation = services.start_conversation(study=study, evaluator=annotator)
    client.force_login(other)
    for url in (reverse("conversations:conversation", args=[conversation.public_id]),
                reverse("conversations:conversation_turn", args=[conversation.public_id, 1]),
                reverse("conversations:study_detail", args=[study.pk]),
                reverse("conversations:study_export", args=[study.pk])):
        assert client.get(url).status_code == 403, url
    sent = client.post(reverse("conversations:conversation_send", args=[conversation.public_id]), {"text": "hi", "position": 0})
    rated = client.post(reverse("conversations:conversation_rate", args=[conversation.public_id, 1]), {"grade": "pass"})
    assert (sent.status_code, rated.status_code) == (403, 403)
    assert not conversation.turns.exists()
