"""Live multi-turn evaluation (LIMA section 4.3): blind conversations with Model X, answers that stream in,
Fail / Pass / Excellent per answer, balanced assignment, the per-model report and the GAIR/lima export."""

from __future__ import annotations

import io
import json

import pytest
from django.db.models import Count
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from annotation.evaluation.models import Conversation, ConversationStudy, ConversationTurn, TurnRating
from annotation.evaluation.services import conversations as services
from tests.builders import tiny_model_spec
from tests.workers import wait_for


def two_model_study(*, researcher, evaluators, per_model: int = 10, turns: int = 3, max_new_tokens: int = 16):
    zero_shot = tiny_model_spec(name="lima-zero-shot", max_new_tokens=max_new_tokens)
    dialogues = tiny_model_spec(name="lima-30-dialogues", max_new_tokens=max_new_tokens)
    return services.create_study(name="zero-shot vs dialogues", model_pool=[zero_shot, dialogues], evaluators=evaluators,
                                 user=researcher, conversations_per_model=per_model, turns_per_conversation=turns,
                                 public_title="Chat study")


def answered(conversation: Conversation, position: int, text: str = "An answer.") -> ConversationTurn:
    """What the worker does when a reply completes (the db tests run no worker)."""
    ConversationTurn.objects.filter(conversation=conversation, position=position).update(
        state=ConversationTurn.State.DONE, text=text, raw_text=text)
    return ConversationTurn.objects.get(conversation=conversation, position=position)


def test_an_answer_streams_into_the_page_and_is_rated_when_complete(researcher, annotator, tiny_model, start_worker, client):
    study = two_model_study(researcher=researcher, evaluators=[annotator], max_new_tokens=700)
    # Greedy decoding: the page must see the answer grow twice (~0.5 s of tokens), and with sampling (a fresh seed
    # per reply) the random tiny model drew its end-of-text token within the first ~50 tokens a few runs in a hundred.
    study.model_pool.update(temperature=0)
    start_worker()
    client.force_login(annotator)
    started = client.post(reverse("conversations:converse_start", args=[study.public_id]))
    conversation = Conversation.objects.get()
    assert started.url == reverse("conversations:conversation", args=[conversation.public_id])
    sent = client.post(reverse("conversations:conversation_send", args=[conversation.public_id]),
                       {"text": "Plan a three-day trip to Lisbon.", "position": 0}, HTTP_HX_REQUEST="true")
    assert sent.status_code == 200 and b'hx-trigger="every 1s"' in sent.content
    turn_url = reverse("conversations:conversation_turn", args=[conversation.public_id, 1])
    partials = set()

    def seen_while_streaming():
        turn = ConversationTurn.objects.get(conversation=conversation, position=1)
        if turn.state == ConversationTurn.State.STREAMING and turn.text:
            page = client.get(turn_url, HTTP_HX_REQUEST="true").content.decode()
            if 'hx-trigger="every 1s"' in page and "writing…" in page:
                partials.add(turn.text)
        return len(partials) >= 2 or turn.state != ConversationTurn.State.STREAMING

    wait_for(seen_while_streaming, timeout=300, interval=0.05, what="the answer to stream")
    assert len(partials) >= 2, "the page saw the answer only whole, never growing"
    turn = wait_for(lambda: ConversationTurn.objects.filter(conversation=conversation, position=1, state="done").first(),
                    timeout=300, what="the answer to complete")
    assert all(turn.raw_text.startswith(p) or turn.text.startswith(p) for p in partials)
    print(f"greedy reply: {len(turn.raw_text)} characters, {len(partials)} partial texts seen")
    done = client.get(turn_url, HTTP_HX_REQUEST="true").content.decode()
    assert "every 1s" not in done and 'name="grade" value="excellent"' in done
    too_early = client.post(reverse("conversations:conversation_send", args=[conversation.public_id]),
                            {"text": "And day four?", "position": 2}, HTTP_HX_REQUEST="true")
    assert too_early.status_code == 422 and b"rate Model X&#x27;s last answer before you go on" in too_early.content
    rated = client.post(reverse("conversations:conversation_rate", args=[conversation.public_id, 1]),
                        {"grade": "pass", "note": "Fine, a bit long."}, HTTP_HX_REQUEST="true")
    assert rated.status_code == 200 and b'id="message-form"' in rated.content
    assert TurnRating.objects.get().grade == "pass"


@pytest.mark.django_db
def test_a_resent_message_or_rating_never_duplicates(researcher, annotator):
    study = two_model_study(researcher=researcher, evaluators=[annotator])
    conversation = services.start_conversation(study=study, evaluator=annotator)
    assert services.start_conversation(study=study, evaluator=annotator) == conversation  # a double click on "start"
    reply = services.send_message(conversation=conversation, evaluator=annotator, text="Hello there", position=0)
    again = services.send_message(conversation=conversation, evaluator=annotator, text="Hello there", position=0)
    assert again == reply and conversation.turns.count() == 2
    with pytest.raises(ValidationError, match="wait for Model X"):
        services.send_message(conversation=conversation, evaluator=annotator, text="Still there?", position=2)
    with pytest.raises(ValidationError, match="moved on"):
        services.send_message(conversation=conversation, evaluator=annotator, text="Something else", position=0)
    with pytest.raises(ValidationError, match="wait for the answer"):
        services.rate_turn(conversation=conversation, evaluator=annotator, position=1, grade="pass")
    answered(conversation, 1)
    with pytest.raises(ValidationError, match="rate Model X's last answer before you go on"):
        services.send_message(conversation=conversation, evaluator=annotator, text="Next question", position=2)
    with pytest.raises(ValidationError, match="rate Model X's last answer first"):
        services.finish_conversation(conversation=conversation, evaluator=annotator)
    services.rate_turn(conversation=conversation, evaluator=annotator, position=1, grade="fail", note="off topic")
    services.rate_turn(conversation=conversation, evaluator=annotator, position=1, grade="fail", note="off topic")
    services.rate_turn(conversation=conversation, evaluator=annotator, position=1, grade="pass")
    assert list(TurnRating.objects.values_list("grade", "note")) == [("pass", "")]
    with pytest.raises(ValidationError, match="no answer of Model X"):
        services.rate_turn(conversation=conversation, evaluator=annotator, position=0, grade="pass")
    with pytest.raises(ValidationError, match="one of fail, pass, excellent"):
        services.rate_turn(conversation=conversation, evaluator=annotator, position=1, grade="superb")
    with pytest.raises(ValidationError, match="write a message first"):
        services.send_message(conversation=conversation, evaluator=annotator, text="   ", position=2)


@pytest.mark.django_db
def test_the_conversation_stops_at_its_target_number_of_answers(researcher, annotator):
    study = two_model_study(researcher=researcher, evaluators=[annotator], turns=2)
    conversation = services.start_conversation(study=study, evaluator=annotator)
    for position in (0, 2):
        services.send_message(conversation=conversation, evaluator=annotator, text=f"Message {position}", position=position)
        answered(conversation, position + 1)
        services.rate_turn(conversation=conversation, evaluator=annotator, position=position + 1, grade="excellent")
    with pytest.raises(ValidationError, match="has its 2 turns; finish it"):
        services.send_message(conversation=conversation, evaluator=annotator, text="One more", position=4)
    services.finish_conversation(conversation=conversation, evaluator=annotator)
    fresh = services.start_conversation(study=study, evaluator=annotator)
    assert fresh != conversation


@pytest.mark.django_db
def test_models_get_their_conversations_evenly_and_no_more(researcher, make_user):
    evaluators = [make_user("annotator") for _ in range(7)]
    study = two_model_study(researcher=researcher, evaluators=evaluators, per_model=3)

    def split() -> list[int]:
        return sorted(Conversation.objects.values("model").annotate(n=Count("id")).values_list("n", flat=True))

    for number, evaluator in enumerate(evaluators[:6], start=1):
        services.start_conversation(study=study, evaluator=evaluator)
        assert split() in ([number // 2, (number + 1) // 2], [number]), number  # never more than one apart
    assert split() == [3, 3]
    with pytest.raises(services.StudyFull):
        services.start_conversation(study=study, evaluator=evaluators[6])
    outsider = make_user("annotator")
    with pytest.raises(PermissionDenied):
        services.start_conversation(study=study, evaluator=outsider)
    with pytest.raises(PermissionDenied):
        services.send_message(conversation=Conversation.objects.first(), evaluator=outsider, text="Hi", position=0)


def seeded_study(researcher, make_user) -> ConversationStudy:
    """Zero-shot fails early and often; with dialogues it mostly passes (the shape of LIMA's 4.3 finding)."""
    evaluators = [make_user("annotator") for _ in range(4)]
    study = two_model_study(researcher=researcher, evaluators=evaluators, per_model=4, turns=4)
    plans = {"lima-zero-shot": [["pass", "fail", "fail"], ["excellent", "pass", "fail"], ["fail"], ["pass", "excellent", "pass"]],
             "lima-30-dialogues": [["excellent", "excellent", "excellent"], ["pass", "excellent", "excellent"],
                                   ["excellent", "excellent", "fail"], ["excellent", "pass", "excellent"]]}
    used = {name: list(grades) for name, grades in plans.items()}
    while any(used.values()):
        for evaluator in evaluators:
            conversation = services.start_conversation(study=study, evaluator=evaluator)
            grades = used[conversation.model.name].pop(0)
            for number, grade in enumerate(grades):
                services.send_message(conversation=conversation, evaluator=evaluator, text=f"Turn {number}", position=2 * number)
                answered(conversation, 2 * number + 1, text=f"Answer {number} of {conversation.pk}.")
                services.rate_turn(conversation=conversation, evaluator=evaluator, position=2 * number + 1, grade=grade)
            services.finish_conversation(conversation=conversation, evaluator=evaluator)
    return study


@pytest.mark.django_db
def test_the_report_gives_shares_with_intervals_and_the_turn_of_the_first_failure(researcher, make_user, client):
    study = seeded_study(researcher, make_user)
    reports = {r.model.name: r for r in services.study_report(study)}
    zero, dialogues = reports["lima-zero-shot"], reports["lima-30-dialogues"]
    assert (zero.conversations, zero.responses) == (4, 10) and (dialogues.conversations, dialogues.responses) == (4, 12)
    assert zero.distribution.counts == {"fail": 4, "pass": 4, "excellent": 2}
    assert dialogues.distribution.counts == {"fail": 1, "pass": 2, "excellent": 9}
    share = dialogues.distribution.shares["excellent"]
    assert share.estimate == pytest.approx(9 / 12) and share.low < share.estimate < share.high
    assert zero.first_failures == {1: 1, 2: 1, 3: 1} and zero.never_failed == 1 and zero.failed_within_3 == 3
    assert dialogues.first_failures == {3: 1} and dialogues.never_failed == 3
    client.force_login(researcher)
    page = client.get(reverse("conversations:study_detail", args=[study.pk]))
    assert page.status_code == 200 and b"lima-zero-shot" in page.content and b"<svg" in page.content
    chart = client.get(reverse("conversations:study_chart", args=[study.pk])).content.decode()
    assert "lima-zero-shot" in chart and "lima-30-dialogues" in chart and "Excellent" in chart


@pytest.mark.django_db
def test_good_conversations_export_as_gair_lima_multi_turn_rows(researcher, make_user, client):
    study = seeded_study(researcher, make_user)
    client.force_login(researcher)
    response = client.get(reverse("conversations:study_export", args=[study.pk]))
    rows = [json.loads(line) for line in b"".join(response.streaming_content).decode().splitlines()]
    # Good: finished with every answer Pass or Excellent: one zero-shot conversation, three with dialogues.
    assert len(rows) == 4 and all(row["source"] == "authored" for row in rows)
    assert all(len(row["conversations"]) == 6 and row["conversations"][0] == "Turn 0" for row in rows)
    from annotation.datasets.lima_format import parse_jsonl

    parsed = parse_jsonl(io.BytesIO(b"".join(b.encode() for b in (json.dumps(row) + "\n" for row in rows))), default_split="train")
    assert [len(p.conversations) for p in parsed] == [6, 6, 6, 6]


def converse(study, evaluator, grades) -> None:
    conversation = services.start_conversation(study=study, evaluator=evaluator)
    for number, grade in enumerate(grades):
        services.send_message(conversation=conversation, evaluator=evaluator, text=f"Turn {number}", position=2 * number)
        answered(conversation, 2 * number + 1)
        services.rate_turn(conversation=conversation, evaluator=evaluator, position=2 * number + 1, grade=grade)
    services.finish_conversation(conversation=conversation, evaluator=evaluator)


@pytest.mark.django_db
def test_the_study_page_costs_the_same_queries_with_more_conversations(researcher, make_user, client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    evaluators = [make_user("annotator") for _ in range(3)]
    study = two_model_study(researcher=researcher, evaluators=evaluators, per_model=20, turns=4)
    client.force_login(researcher)
    url = reverse("conversations:study_detail", args=[study.pk])

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    converse(study, evaluators[0], ["pass", "fail"])
    few = queries()
    for _ in range(4):
        for evaluator in evaluators:
            converse(study, evaluator, ["excellent", "pass", "fail", "pass"])
    assert Conversation.objects.filter(study=study).count() == 13 and TurnRating.objects.count() == 50
    assert queries() == few
