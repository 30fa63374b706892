"""Celery tasks: thin, idempotent wrappers over generation services."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from generation.services import runs


# ignore_result: progress lives in the database; a result-backend write per chunk would only cost time.
@shared_task(acks_late=True, reject_on_worker_lost=True, autoretry_for=(OperationalError, InterfaceError),
             retry_backoff=True, max_retries=10, ignore_result=True)
def generate_chunk(run_id: int, row_ids: list[int], chunk_id: int | None = None) -> int:
    return runs.generate_missing(run_id=run_id, row_ids=row_ids, chunk_id=chunk_id)


@shared_task
def resume_stalled_runs() -> list[int]:
    return runs.resume_stalled_runs()
