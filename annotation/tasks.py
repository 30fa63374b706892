"""Celery tasks: thin, idempotent wrappers over annotation services."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from annotation.services import curation


@shared_task(acks_late=True, reject_on_worker_lost=True, autoretry_for=(OperationalError, InterfaceError),
             retry_backoff=True, max_retries=5)
def run_import_job(job_id: int) -> str:
    """A re-delivered task finds the job finished and does nothing; a retried one re-runs the import,
    which creates only what is missing (candidates are matched on their source key)."""
    return curation.run_import_job(job_id=job_id).state


@shared_task
def fail_stale_import_jobs() -> int:
    """Beat, every few minutes (settings.CELERY_BEAT_SCHEDULE)."""
    return curation.fail_stale_import_jobs()
