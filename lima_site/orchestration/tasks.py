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


@shared_task(acks_late=True, autoretry_for=(OperationalError, InterfaceError), retry_backoff=True, max_retries=5)
def advance_running_experiments() -> list[int]:
    """Beat's safety net: an experiment whose driver chain was lost (a purged broker) still moves on. It does not
    reschedule itself, so it never doubles a chain; an experiment its chain holds right now is skipped."""
    from lima_site.orchestration import experiments
    from lima_site.orchestration.models import Experiment

    running = list(Experiment.objects.filter(state=Experiment.State.RUNNING).values_list("pk", flat=True))
    return [pk for pk in running if experiments.advance_experiment(experiment_id=pk) != "busy"]
