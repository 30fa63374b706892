"""Celery tasks: thin, idempotent wrappers over training services."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from training.models import TrainingRun
from training.services import runs


@shared_task(acks_late=True, autoretry_for=(OperationalError, InterfaceError), retry_backoff=True, max_retries=5)
def poll_active_runs() -> list[int]:
    """Beat polls the scheduler; refreshing a run twice only re-reads the same state."""
    return runs.poll_active_runs()


@shared_task(acks_late=True, autoretry_for=(OperationalError, InterfaceError), retry_backoff=True, max_retries=5)
def refresh_run(run_id: int) -> str:
    return runs.refresh_run(run=TrainingRun.objects.get(pk=run_id)).state
