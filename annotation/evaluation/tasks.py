"""Celery tasks: thin, idempotent wrappers over evaluation services."""

from celery import shared_task
from django.db import InterfaceError, OperationalError


@shared_task(acks_late=True, reject_on_worker_lost=True, autoretry_for=(OperationalError, InterfaceError),
             retry_backoff=True, max_retries=10)
def llm_judge_chunk(judge_run_id: int, item_ids: list[int]) -> int:
    """Idempotent: answers already stored per (item, order) are not asked again."""
    from annotation.evaluation.services import llm_judge

    return llm_judge.judge_items(judge_run_id=judge_run_id, item_ids=item_ids)


@shared_task(acks_late=True, reject_on_worker_lost=True, autoretry_for=(OperationalError, InterfaceError),
             retry_backoff=True, max_retries=10)
def stream_conversation_reply(turn_id: int) -> str:
    """Idempotent: a reply already done or failed is left alone; one still streaming is written again from the start."""
    from annotation.evaluation.services import conversations

    return conversations.generate_reply(turn_id=turn_id)
