"""Celery tasks of the orchestration layer: thin, idempotent wrappers over its services."""

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError


@shared_task(acks_late=True, reject_on_worker_lost=True, autoretry_for=(OperationalError, InterfaceError),
             retry_backoff=True, max_retries=10)
def advance_experiment(experiment_id: int) -> str:
    """One step of every variant, then again after LIMA_EXPERIMENT_POLL_SECONDS until the experiment ends."""
    from lima_site.orchestration import experiments

    state = experiments.advance_experiment(experiment_id=experiment_id)
    if state == "running":  # "busy": another advancer holds the experiment and reschedules itself
        advance_experiment.apply_async(args=(experiment_id,), countdown=settings.LIMA_EXPERIMENT_POLL_SECONDS)
    return state


@shared_task(acks_late=True, reject_on_worker_lost=True, autoretry_for=(OperationalError, InterfaceError),
             retry_backoff=True, max_retries=10)
def grade_chunk(variant_id: int, response_ids: list[int]) -> int:
    """Idempotent: a response already graded for the variant is not asked again."""
    from lima_site.orchestration import experiments

    return experiments.grade_responses(variant_id=variant_id, response_ids=response_ids)
