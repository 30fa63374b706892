"""Generation runs: create, start, generate chunk by chunk (idempotently), cancel, retry, resume."""

from __future__ import annotations

import logging
import os
import socket
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Max, Q
from django.utils import timezone

from annotation.datasets.models import Dataset, DatasetRow
from generation import registration
from generation.backends import BackendConfig, BackendError, GenerationResult, get_backend
from generation.decoding import Decoding
from generation.models import Backend, GenerationRun, ModelSpec, Response, RunStatus

logger = logging.getLogger(__name__)


def storable(text: str) -> str:
    """PostgreSQL text cannot hold NUL; models (byte-level tokenizers) can emit it. Keep a visible marker."""
    return text.replace("\x00", "\ufffd")


def backend_config(model: ModelSpec) -> BackendConfig:
    """What the worker needs to run `model`, after the registration rules are checked again (a row written
    before they existed, or by hand, gets the same refusal as the form)."""
    if model.backend in (Backend.VLLM, Backend.TRANSFORMERS):
        problem = registration.model_directory_problem(model.location)
        if problem:
            raise BackendError(f"model location refused: {problem}")
    api_key = ""
    if model.backend == Backend.OPENAI:
        problem = registration.api_key_env_problem(model.api_key_env) or registration.endpoint_problem(model.location)
        if problem:
            raise BackendError(f"endpoint refused: {problem}")
        api_key = os.environ.get(model.api_key_env, "") if model.api_key_env else ""
    return BackendConfig(
        backend=model.backend, location=model.location, chat_template=model.chat_template,
        served_model_name=model.served_model_name, api_key=api_key, requests_per_minute=model.requests_per_minute,
        rate_limit_storage=settings.LIMA_RATE_LIMIT_STORAGE, allow_private_endpoints=settings.LIMA_ALLOW_PRIVATE_ENDPOINTS,
        tensor_parallel_size=settings.LIMA_VLLM_TENSOR_PARALLEL_SIZE,
    )


def create_run(*, model: ModelSpec, dataset: Dataset, user, decoding: dict | None = None, seed: int = 0,
               chunk_size: int = 16) -> GenerationRun:
    if model.backend == Backend.IMPORTED:
        raise ValidationError({"model": "imported models get their responses by upload, not by generation"})
    try:
        checked = Decoding.from_dict({**model.default_decoding(), **(decoding or {})})
    except (TypeError, ValueError) as exc:
        raise ValidationError({"decoding": str(exc)}) from exc
    if not 1 <= chunk_size <= 1024:
        raise ValidationError({"chunk_size": "between 1 and 1,024 prompts per task"})
    total = dataset.rows.count()
    if not total:
        raise ValidationError({"dataset": "the snapshot has no rows"})
    return GenerationRun.objects.create(
        model=model, dataset=dataset, decoding=checked.as_dict(), seed=seed, chunk_size=chunk_size, total=total,
        created_by=user,
    )


def missing_row_ids(run: GenerationRun) -> list[int]:
    return list(
        DatasetRow.objects.filter(dataset_id=run.dataset_id).exclude(responses__run=run).order_by("position").values_list("id", flat=True)
    )


def enqueue_missing(run: GenerationRun) -> int:
    """Queue one task per chunk of rows that have no response yet; returns how many tasks.

    Safe to call any number of times: a task only fills rows still missing when it runs.
    """
    from generation import tasks

    row_ids = missing_row_ids(run)
    chunks = [row_ids[i:i + run.chunk_size] for i in range(0, len(row_ids), run.chunk_size)]

    def send():
        for chunk in chunks:
            tasks.generate_chunk.apply_async(args=(run.pk, chunk), queue=run.model.queue)

    transaction.on_commit(send)
    return len(chunks)


def start_run(*, run: GenerationRun) -> GenerationRun:
    with transaction.atomic():
        run = GenerationRun.objects.select_for_update().get(pk=run.pk)
        if run.status != RunStatus.PENDING:
            return run
        run.status = RunStatus.RUNNING
        run.started_at = timezone.now()
        run.save(update_fields=["status", "started_at"])
        enqueue_missing(run)
    return run


def _record_environment(run: GenerationRun, environment: dict) -> None:
    record = {
        **environment,
        "decoding": run.decoding,
        "seed": run.seed,
        "chunk_size": run.chunk_size,
        "seeding": "torch.manual_seed(seed + position of the chunk's first row) per chunk; vLLM: seed + index per prompt",
        "worker": socket.gethostname(),
    }
    GenerationRun.objects.filter(pk=run.pk, environment={}).update(environment=record)


def generate_missing(*, run_id: int, row_ids: list[int]) -> int:
    """Generate the responses of these rows that do not exist yet; returns how many were stored.

    A re-delivered or retried chunk only fills what is missing, and the (run, row) constraint
    makes two workers racing on one chunk store each response once.
    """
    run = GenerationRun.objects.select_related("model").get(pk=run_id)
    if run.status != RunStatus.RUNNING:
        return 0
    rows = list(DatasetRow.objects.filter(pk__in=row_ids).exclude(responses__run=run).order_by("position"))
    if not rows:
        finalize_if_done(run_id=run.pk)
        return 0
    decoding = Decoding.from_dict(run.decoding)
    try:
        backend = get_backend(backend_config(run.model))
        if not run.environment:  # the first chunk records it; later chunks skip the hashing and the write
            _record_environment(run, backend.environment())
        results = backend.generate([row.conversations for row in rows], decoding, seed=run.seed + rows[0].position)
    except BackendError as exc:
        results = [GenerationResult(error=str(exc)) for _ in rows]
    except Exception as exc:  # a crash inside the model code must not lose the chunk: record it per response
        logger.exception("generation failed for run %s", run.pk)
        results = [GenerationResult(error=f"generation failed: {exc!r}") for _ in rows]
    created = Response.objects.bulk_create(
        [
            Response(run=run, row=row, text=storable(result.text), error=storable(result.error), prompt_tokens=result.prompt_tokens,
                     completion_tokens=result.completion_tokens, finish_reason=result.finish_reason,
                     latency_ms=result.latency_ms)
            for row, result in zip(rows, results)
        ],
        ignore_conflicts=True,
    )
    finalize_if_done(run_id=run.pk)
    return len(created)


def finalize_if_done(*, run_id: int) -> None:
    with transaction.atomic():
        run = GenerationRun.objects.select_for_update().get(pk=run_id)
        if run.status != RunStatus.RUNNING:
            return
        counts = run.responses.aggregate(done=Count("id"), errors=Count("id", filter=~Q(error="")))
        if counts["done"] < run.total:
            return
        run.status = RunStatus.COMPLETED_WITH_ERRORS if counts["errors"] else RunStatus.COMPLETED
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "finished_at"])


def cancel_run(*, run: GenerationRun) -> GenerationRun:
    """Stop a run: queued chunks see the status and do nothing; responses already stored stay."""
    GenerationRun.objects.filter(pk=run.pk, status__in=[RunStatus.PENDING, RunStatus.RUNNING]).update(
        status=RunStatus.CANCELLED, finished_at=timezone.now()
    )
    run.refresh_from_db()
    return run


def retry_failures(*, run: GenerationRun) -> int:
    """Generate again only the responses that failed (and any still missing); returns the number of tasks."""
    with transaction.atomic():
        run = GenerationRun.objects.select_for_update().select_related("model").get(pk=run.pk)
        if run.status == RunStatus.RUNNING:
            return 0
        run.responses.exclude(error="").delete()
        run.status = RunStatus.RUNNING
        run.finished_at = None
        run.save(update_fields=["status", "finished_at"])
        return enqueue_missing(run)


def resume_run(*, run: GenerationRun) -> int:
    """Re-queue the missing rows of a running run (after a worker or broker was lost)."""
    with transaction.atomic():
        run = GenerationRun.objects.select_for_update().select_related("model").get(pk=run.pk)
        if run.status != RunStatus.RUNNING:
            return 0
        return enqueue_missing(run)


def resume_stalled_runs() -> list[int]:
    """Beat's safety net: running runs with no new response for LIMA_GENERATION_STALL_SECONDS are re-queued."""
    cutoff = timezone.now() - timedelta(seconds=settings.LIMA_GENERATION_STALL_SECONDS)
    stalled = (
        GenerationRun.objects.filter(status=RunStatus.RUNNING, started_at__lt=cutoff)
        .annotate(last=Max("responses__created_at"))
        .filter(Q(last__lt=cutoff) | Q(last__isnull=True))
    )
    resumed = []
    for run in stalled:
        if resume_run(run=run):
            resumed.append(run.pk)
    return resumed


def progress(run: GenerationRun) -> dict:
    counts = run.responses.aggregate(done=Count("id"), errors=Count("id", filter=~Q(error="")))
    done = counts["done"]
    return {"done": done, "errors": counts["errors"], "total": run.total,
            "percent": round(100 * done / run.total) if run.total else 100}
