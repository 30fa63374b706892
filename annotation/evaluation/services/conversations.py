"""Live multi-turn evaluation: open a study, start blind conversations, stream replies, rate turns, report, export.

Writes happen under row locks so a double click or a retried request changes nothing twice: a second "start"
returns the evaluator's open conversation, a repeated message (same position) returns the turn already stored,
a repeated rating updates the one rating of the turn.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections import Counter
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from annotation.datasets import lima_format
from annotation.evaluation.models import Conversation, ConversationStudy, ConversationTurn, Rating, TurnRating
from annotation.evaluation.scrub import scrub_self_identification
from annotation.evaluation.stats import GRADES, GradeRecord, RatingDistribution, rating_distribution
from generation.backends import BackendError
from generation.decoding import Decoding
from generation.models import Backend, ModelSpec
from generation.services.runs import backend_config, storable
from generation.streaming import stream_reply

logger = logging.getLogger(__name__)
MAX_MESSAGE_CHARS = 20_000
# How often a streaming reply is written for the polling page: often enough to read along, rarely enough for the database.
FLUSH_SECONDS = 0.25
USER, ASSISTANT = "user", "assistant"


class StudyFull(Exception):
    """Every model has its target number of conversations."""


def create_study(*, name: str, model_pool: list[ModelSpec], evaluators, user, conversations_per_model: int = 10,
                 turns_per_conversation: int = 5, public_title: str = "", guidelines: str = "", seed: int = 0) -> ConversationStudy:
    errors = {}
    if not name.strip():
        errors["name"] = "a name for researchers"
    if not model_pool:
        errors["model_pool"] = "at least one model to talk to"
    elif imported := [m.name for m in model_pool if m.backend == Backend.IMPORTED]:
        errors["model_pool"] = f"imported models cannot answer live: {', '.join(imported)}"
    if not 1 <= conversations_per_model <= 1000:
        errors["conversations_per_model"] = "between 1 and 1,000 (LIMA: 10)"
    if not 1 <= turns_per_conversation <= 50:
        errors["turns_per_conversation"] = "between 1 and 50"
    if public_title and any(m.name.lower() in public_title.lower() for m in model_pool):
        errors["public_title"] = "evaluators see this title: it must not name a model"
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        study = ConversationStudy.objects.create(
            name=name.strip(), public_title=public_title.strip(), conversations_per_model=conversations_per_model,
            turns_per_conversation=turns_per_conversation, guidelines=guidelines, seed=seed, created_by=user)
        study.model_pool.set(model_pool)
        study.evaluators.set(evaluators)
    return study


def _check_member(study: ConversationStudy, evaluator) -> None:
    if not study.evaluators.filter(pk=evaluator.pk).exists():
        raise PermissionDenied("you are not an evaluator of this study")


def start_conversation(*, study: ConversationStudy, evaluator) -> Conversation:
    """The evaluator's open conversation in this study, or a new one with the model that has the fewest conversations
    (ties drawn from a cryptographic source, so no one can predict or replay which model they talk to)."""
    _check_member(study, evaluator)
    with transaction.atomic():
        study = ConversationStudy.objects.select_for_update().get(pk=study.pk)
        if study.state != ConversationStudy.State.OPEN:
            raise StudyFull("this study is closed")
        open_one = study.conversations.filter(evaluator=evaluator, finished_at__isnull=True).first()
        if open_one:
            return open_one
        counts = dict(study.conversations.values_list("model").annotate(n=Count("id")).values_list("model", "n"))
        pool = [m for m in study.model_pool.order_by("pk") if counts.get(m.pk, 0) < study.conversations_per_model]
        if not pool:
            raise StudyFull("every model has all its conversations; thank you")
        fewest = min(counts.get(m.pk, 0) for m in pool)
        model = secrets.SystemRandom().choice([m for m in pool if counts.get(m.pk, 0) == fewest])
        return Conversation.objects.create(study=study, model=model, evaluator=evaluator)


def _own(conversation: Conversation, evaluator) -> None:
    if conversation.evaluator_id != evaluator.pk:
        raise PermissionDenied("this conversation belongs to another evaluator")


def send_message(*, conversation: Conversation, evaluator, text: str, position: int) -> ConversationTurn:
    """Store the evaluator's message at `position` and start the reply; returns the assistant turn.

    `position` is where the page expected the message to go: a resent form finds its message already there and
    gets the same reply back, never a second one."""
    _own(conversation, evaluator)
    text = text.strip()
    if not text:
        raise ValidationError({"text": "write a message first"})
    if len(text) > MAX_MESSAGE_CHARS:
        raise ValidationError({"text": f"at most {MAX_MESSAGE_CHARS:,} characters ({len(text):,} given)"})
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().select_related("study", "model").get(pk=conversation.pk)
        turns = list(conversation.turns.select_related("rating"))
        if position < len(turns):
            stored = turns[position] if position % 2 == 0 else None
            if stored is not None and stored.text == text and position + 1 < len(turns):
                return turns[position + 1]
            raise ValidationError({"text": "the conversation has moved on since this page was loaded; reload it"})
        if position != len(turns) or position % 2:
            raise ValidationError({"text": "the conversation has moved on since this page was loaded; reload it"})
        if conversation.finished_at:
            raise ValidationError({"text": "this conversation is finished"})
        if conversation.study.state != ConversationStudy.State.OPEN:
            raise ValidationError({"text": "this study is closed"})
        if turns:
            last = turns[-1]
            if last.state == ConversationTurn.State.STREAMING:
                raise ValidationError({"text": "wait for Model X to finish its answer"})
            if last.state == ConversationTurn.State.DONE and not hasattr(last, "rating"):
                raise ValidationError({"text": "rate Model X's last answer before you go on"})
        if len(turns) // 2 >= conversation.study.turns_per_conversation:
            raise ValidationError({"text": f"this conversation has its {conversation.study.turns_per_conversation} turns; finish it"})
        ConversationTurn.objects.create(conversation=conversation, position=position, role=USER, text=text)
        reply = ConversationTurn.objects.create(conversation=conversation, position=position + 1, role=ASSISTANT,
                                                state=ConversationTurn.State.STREAMING)
        from annotation.evaluation import tasks

        queue = conversation.model.queue
        transaction.on_commit(lambda: tasks.stream_conversation_reply.apply_async(args=(reply.pk,), queue=queue))
    return reply


def _registered_names() -> set[str]:
    return {name for pair in ModelSpec.objects.values_list("name", "served_model_name") for name in pair if name}


def generate_reply(*, turn_id: int) -> str:
    """Write the reply into its turn as it is generated (scrubbed on every write), then mark it done or failed.

    A redelivered task for a reply still streaming starts it again from the beginning; a finished one is left alone."""
    turn = ConversationTurn.objects.select_related("conversation__model").get(pk=turn_id)
    if turn.state != ConversationTurn.State.STREAMING:
        return turn.state
    model = turn.conversation.model
    history = list(ConversationTurn.objects.filter(conversation_id=turn.conversation_id, position__lt=turn.position)
                   .order_by("position").values_list("raw_text", "text", "role"))
    conversation = [raw if role == ASSISTANT and raw else text for raw, text, role in history]
    names = _registered_names()
    live = ConversationTurn.objects.filter(pk=turn.pk, state=ConversationTurn.State.STREAMING)

    def write(raw: str, **fields) -> None:
        raw = storable(raw)
        live.update(raw_text=raw, text=scrub_self_identification(raw, model_names=names)[0], **fields)

    text, flushed = "", 0.0
    try:
        decoding = Decoding.from_dict(model.default_decoding())
        for text in stream_reply(backend_config(model), conversation, decoding, seed=secrets.randbits(31)):
            if time.monotonic() - flushed >= FLUSH_SECONDS:
                write(text)
                flushed = time.monotonic()
    except BackendError as exc:
        write(text, state=ConversationTurn.State.FAILED, error=str(exc)[:2000], finished_at=timezone.now())
        return ConversationTurn.State.FAILED
    except Exception as exc:  # a crash in the model code must end the turn, not leave it streaming for ever
        logger.exception("conversation reply %s failed", turn.pk)
        write(text, state=ConversationTurn.State.FAILED, error=f"generation failed: {exc!r}"[:2000], finished_at=timezone.now())
        return ConversationTurn.State.FAILED
    write(text, state=ConversationTurn.State.DONE, finished_at=timezone.now())
    return ConversationTurn.State.DONE


def rate_turn(*, conversation: Conversation, evaluator, position: int, grade: str, note: str = "") -> TurnRating:
    _own(conversation, evaluator)
    if grade not in Rating.Grade.values:
        raise ValidationError({"grade": f"one of {', '.join(Rating.Grade.values)}"})
    with transaction.atomic():
        turn = (ConversationTurn.objects.select_for_update()
                .filter(conversation=conversation, position=position, role=ASSISTANT).first())
        if turn is None:
            raise ValidationError({"grade": "there is no answer of Model X at that place"})
        if turn.state != ConversationTurn.State.DONE:
            raise ValidationError({"grade": "wait for the answer to be complete before you rate it"})
        rating, _ = TurnRating.objects.update_or_create(turn=turn, defaults={"evaluator": evaluator, "grade": grade,
                                                                             "note": note.strip()[:5000]})
    return rating


def finish_conversation(*, conversation: Conversation, evaluator) -> Conversation:
    _own(conversation, evaluator)
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
        if conversation.finished_at is None:
            if conversation.turns.filter(state=ConversationTurn.State.STREAMING).exists():
                raise ValidationError("wait for Model X to finish its answer")
            unrated = conversation.turns.filter(role=ASSISTANT, state=ConversationTurn.State.DONE, rating__isnull=True)
            if unrated.exists():
                raise ValidationError("rate Model X's last answer first")
            conversation.finished_at = timezone.now()
            conversation.save(update_fields=["finished_at"])
    return conversation


@dataclass(frozen=True)
class ModelReport:
    model: ModelSpec
    conversations: int
    responses: int
    distribution: RatingDistribution
    first_failures: dict[int, int]  # assistant turn number of the first Fail -> conversations
    never_failed: int
    failed_within_3: int


def first_failure_turns(grades_by_conversation: dict[int, list[tuple[int, str]]]) -> list[int | None]:
    """Per conversation, the number (1 = first answer) of the first assistant turn rated Fail, None when none was."""
    found = []
    for grades in grades_by_conversation.values():
        fails = [number for number, grade in sorted(grades) if grade == Rating.Grade.FAIL]
        found.append(fails[0] if fails else None)
    return found


def study_report(study: ConversationStudy) -> list[ModelReport]:
    """Per model: Fail / Pass / Excellent shares per response with cluster-bootstrap intervals (a conversation is the
    cluster: its turns are not independent) and the turn of each conversation's first failure. Three queries."""
    rows = list(TurnRating.objects.filter(turn__conversation__study=study)
                .values_list("turn__conversation_id", "turn__conversation__model_id", "turn__position", "grade", "evaluator_id"))
    conversations = dict(study.conversations.values_list("model").annotate(n=Count("id")).values_list("model", "n"))
    reports = []
    for model in study.model_pool.order_by("name"):
        mine = [r for r in rows if r[1] == model.pk]
        records = [GradeRecord(item=str(conversation_id), annotator=str(evaluator), group="evaluator", rating=grade)
                   for conversation_id, _, _, grade, evaluator in mine]
        by_conversation: dict[int, list[tuple[int, str]]] = {}
        for conversation_id, _, position, grade, _ in mine:
            by_conversation.setdefault(conversation_id, []).append(((position + 1) // 2, grade))
        firsts = first_failure_turns(by_conversation)
        reports.append(ModelReport(
            model=model, conversations=conversations.get(model.pk, 0), responses=len(mine),
            distribution=rating_distribution(records, seed=study.seed),
            first_failures=dict(sorted(Counter(f for f in firsts if f is not None).items())),
            never_failed=sum(f is None for f in firsts), failed_within_3=sum(f is not None and f <= 3 for f in firsts)))
    return reports


def is_good(conversation: Conversation) -> bool:
    """Good enough to train on: finished, every answer rated, none Fail, at least one turn."""
    turns = list(conversation.turns.all())
    answers = [t for t in turns if t.role == ASSISTANT]
    return bool(conversation.finished_at and answers and all(t.state == ConversationTurn.State.DONE for t in answers)
                and all(getattr(t, "rating", None) and t.rating.grade != Rating.Grade.FAIL for t in answers))


def good_conversations(study: ConversationStudy) -> list[Conversation]:
    conversations = study.conversations.filter(finished_at__isnull=False).prefetch_related("turns__rating").order_by("pk")
    return [c for c in conversations if is_good(c)]


def gair_lima_line(conversation: Conversation) -> str:
    """The conversation as a GAIR/lima multi-turn training row (what the evaluator saw; source: authored)."""
    utterances = [turn.text for turn in conversation.turns.all()]
    return lima_format.dumps_jsonl_row(conversations=utterances, source="authored")


GRADE_NAMES = GRADES
