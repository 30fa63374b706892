"""Generation runs: create, start, generate chunk by chunk (idempotently), cancel, retry, resume."""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db import connection
from django.db.models import Count, F, Q
from django.utils import timezone

from annotation.datasets.models import Dataset, DatasetRow
from generation import registration
from generation.backends import BackendConfig, BackendError, GenerationResult, get_backend
from generation.decoding import Decoding
from generation.models import Backend, GenerationChunk, GenerationRun, ModelSpec, Response, RunStatus
from lima_site.conflicts import Conflict

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


def _send(run: GenerationRun, chunks: list[GenerationChunk]) -> None:
    from generation import tasks

    queue = run.model.queue
    messages = [(chunk.pk, list(chunk.row_ids)) for chunk in chunks]

    def send():
        for chunk_id, row_ids in messages:
            tasks.generate_chunk.apply_async(args=(run.pk, row_ids), kwargs={"chunk_id": chunk_id}, queue=queue)

    transaction.on_commit(send)


def enqueue_missing(run: GenerationRun) -> int:
    """Cut the rows that have no response and are in no open chunk into new chunks, and send one task each;
    returns how many.

    Safe to call any number of times: a row already in an open chunk is left to that chunk, and a task
    only fills rows still missing when it runs.
    """
    covered = {row_id for row_ids in run.chunks.filter(done_at__isnull=True).values_list("row_ids", flat=True)
               for row_id in row_ids}
    row_ids = [row_id for row_id in missing_row_ids(run) if row_id not in covered]
    now = timezone.now()
    chunks = GenerationChunk.objects.bulk_create(
        [GenerationChunk(run=run, row_ids=row_ids[i:i + run.chunk_size], enqueued_at=now)
         for i in range(0, len(row_ids), run.chunk_size)]
    )
    _send(run, chunks)
    return len(chunks)


def _resend(run: GenerationRun, chunks) -> int:
    """Send these open chunks' tasks again (their holder died, or their message was lost); call inside a transaction.

    The chunks are locked first (SELECT ... FOR UPDATE re-checks the query's conditions on a row a claim
    just changed, so a chunk a worker claimed meanwhile is left out), and a claim waits for this transaction:
    clearing a lease never takes a chunk from a worker that holds it.
    """
    chunks = list(chunks.select_for_update())
    if chunks:
        # The lost holder's lease is cleared: the chunk now counts as waiting in the queue, so beat sends it again
        # only if nobody claims it for LIMA_GENERATION_REQUEUE_SECONDS, not every minute.
        GenerationChunk.objects.filter(pk__in=[c.pk for c in chunks]).update(
            enqueued_at=timezone.now(), lease_expires_at=None, sends=F("sends") + 1)
        _send(run, chunks)
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


def lease_length() -> timedelta:
    return timedelta(seconds=settings.LIMA_GENERATION_LEASE_SECONDS)


def _worker_token() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def _holder_is_dead_here(worker: str) -> bool:
    """A lease held by a process of this host that no longer exists (a SIGKILLed worker) need not be waited out."""
    host, _, rest = worker.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def claim_chunk(*, chunk_id: int, worker: str) -> bool:
    """Take the chunk's lease if it is free: one conditional UPDATE, so of two workers only one gets it.

    PostgreSQL re-checks the WHERE clause on the row the first UPDATE committed, so the second finds the
    lease held and changes nothing.
    """
    now = timezone.now()
    free = Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now)
    open_chunk = GenerationChunk.objects.filter(pk=chunk_id, done_at__isnull=True)
    changes = {"lease_expires_at": now + lease_length(), "claimed_at": now, "worker": worker, "attempts": F("attempts") + 1}
    if open_chunk.filter(free).update(**changes):
        return True
    holder = open_chunk.values_list("worker", flat=True).first()
    return bool(holder and _holder_is_dead_here(holder) and open_chunk.filter(worker=holder).update(**changes))


class _LeaseKeeper:
    """Renews a held lease every third of its length while the chunk generates (its own database connection)."""

    def __init__(self, chunk_id: int, worker: str):
        self.chunk_id, self.worker = chunk_id, worker
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"lease-{chunk_id}", daemon=True)

    def _run(self) -> None:
        try:
            while not self.stopped.wait(lease_length().total_seconds() / 3):
                GenerationChunk.objects.filter(pk=self.chunk_id, worker=self.worker, done_at__isnull=True).update(
                    lease_expires_at=timezone.now() + lease_length())
        except Exception:  # a lost database: the lease runs out and beat re-sends the chunk
            logger.exception("renewing the lease of chunk %s failed", self.chunk_id)
        finally:
            connection.close()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopped.set()
        self.thread.join()


def generate_missing(*, run_id: int, row_ids: list[int], chunk_id: int | None = None) -> int:
    """Generate the responses of these rows that do not exist yet; returns how many were stored.

    With a chunk, only the worker that claims its lease generates: a re-delivered, re-sent or duplicate
    message for a chunk held by a live worker (or already done) generates nothing. Without one (a task
    sent before chunks existed), a re-delivered chunk still only fills what is missing, and the
    (run, row) constraint stores each response once.
    """
    run = GenerationRun.objects.select_related("model").get(pk=run_id)
    if run.status != RunStatus.RUNNING:
        return 0
    if chunk_id is None:
        return _generate_rows(run, row_ids)
    worker = _worker_token()
    if not claim_chunk(chunk_id=chunk_id, worker=worker):
        logger.info("chunk %s of run %s is held by another worker or done: nothing to generate", chunk_id, run.pk)
        return 0
    with _LeaseKeeper(chunk_id, worker):
        stored = _generate_rows(run, row_ids, chunk_id=chunk_id)
    GenerationChunk.objects.filter(pk=chunk_id, worker=worker).update(done_at=timezone.now(), lease_expires_at=None)
    finalize_if_done(run_id=run.pk)
    return stored


def _generate_rows(run: GenerationRun, row_ids: list[int], chunk_id: int | None = None) -> int:
    rows = list(DatasetRow.objects.filter(pk__in=row_ids).exclude(responses__run=run).order_by("position"))
    if not rows:
        if chunk_id is None:
            finalize_if_done(run_id=run.pk)
        return 0
    # Named in the worker's log, one line per generation: the test of leases counts them.
    logger.info("generating chunk %s of run %s: %d rows", chunk_id if chunk_id is not None else "-", run.pk, len(rows))
    decoding = Decoding.from_dict(run.decoding)
    try:
        backend = get_backend(backend_config(run.model), capacity=settings.LIMA_WORKER_LOADED_MODELS)
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
    if chunk_id is None:
        finalize_if_done(run_id=run.pk)
    # else: the caller marks the chunk done first, then finalizes, so a completed run never shows an open chunk.
    return len(created)


def finalize_if_done(*, run_id: int) -> None:
    """Complete a running run once every prompt has its response, and close its open chunks with it (every row of
    theirs is stored): a completed run never shows an open chunk, whoever finalizes it. Beat's stalled-run check
    or a Resume could finalize between a worker's store of the last chunk and its marking that chunk done."""
    with transaction.atomic():
        run = GenerationRun.objects.select_for_update().get(pk=run_id)
        if run.status != RunStatus.RUNNING:
            return
        counts = run.responses.aggregate(done=Count("id"), errors=Count("id", filter=~Q(error="")))
        if counts["done"] < run.total:
            return
        now = timezone.now()
        run.chunks.filter(done_at__isnull=True).update(done_at=now, lease_expires_at=None)
        run.status = RunStatus.COMPLETED_WITH_ERRORS if counts["errors"] else RunStatus.COMPLETED
        run.finished_at = now
        run.save(update_fields=["status", "finished_at"])


def cancel_run(*, run: GenerationRun) -> GenerationRun:
    """Stop a run: queued chunks see the status and do nothing; responses already stored stay."""
    GenerationRun.objects.filter(pk=run.pk, status__in=[RunStatus.PENDING, RunStatus.RUNNING]).update(
        status=RunStatus.CANCELLED, finished_at=timezone.now()
    )
    run.refresh_from_db()
    return run


class RunConflict(Conflict):
    """The run's state does not allow what was asked (the message says why, for the person who asked)."""


def retry_failures(*, run: GenerationRun) -> int:
    """Generate again only the responses that failed (and any still missing); returns the number of tasks.

    A run already running is left to run (a second click sends nothing). A run that completed without errors, and
    a run of an imported model (its responses come by upload), have nothing a worker could retry: RunConflict.
    """
    with transaction.atomic():
        run = GenerationRun.objects.select_for_update().select_related("model").get(pk=run.pk)
        if run.model.backend == Backend.IMPORTED:
            raise RunConflict("an imported model's responses come by upload, not by generation: upload the missing ones")
        if run.status == RunStatus.RUNNING:
            return 0
        if run.status == RunStatus.COMPLETED:
            raise RunConflict("the run completed without errors: there is nothing to retry")
        run.responses.exclude(error="").delete()
        # Chunks a cancel left open are closed: their rows go into the new chunks.
        run.chunks.filter(done_at__isnull=True).update(done_at=timezone.now(), lease_expires_at=None)
        run.status = RunStatus.RUNNING
        run.finished_at = None
        run.save(update_fields=["status", "finished_at"])
        tasks = enqueue_missing(run)
    if not tasks:  # a cancelled run that had every response already: no chunk will finish it, so it finishes here
        finalize_if_done(run_id=run.pk)
    return tasks


def _unheld(run: GenerationRun, now):
    return run.chunks.filter(done_at__isnull=True).filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))


def resume_run(*, run: GenerationRun) -> int:
    """The Resume button (after a lost broker or worker): every open chunk that no live worker holds is sent
    again, and rows in no chunk get new ones. A chunk a worker is generating is left to it."""
    with transaction.atomic():
        run = GenerationRun.objects.select_for_update().select_related("model").get(pk=run.pk)
        if run.status != RunStatus.RUNNING:
            return 0
        return _resend(run, _unheld(run, timezone.now())) + enqueue_missing(run)


def requeue_stalled_chunks(*, run: GenerationRun) -> int:
    """Beat's check for one run: only chunks whose lease ran out (their worker died mid-chunk) or that no worker
    claimed within LIMA_GENERATION_REQUEUE_SECONDS of being sent (their message was lost) are sent again, and
    rows in no chunk get new ones; a slow chunk under a live lease, or one waiting its turn in the queue, is not."""
    with transaction.atomic():
        run = GenerationRun.objects.select_for_update().select_related("model").get(pk=run.pk)
        if run.status != RunStatus.RUNNING:
            return 0
        now = timezone.now()
        waited_too_long = now - timedelta(seconds=settings.LIMA_GENERATION_REQUEUE_SECONDS)
        stalled = run.chunks.filter(done_at__isnull=True).filter(
            Q(lease_expires_at__lt=now) | Q(lease_expires_at__isnull=True, enqueued_at__lt=waited_too_long))
        resent = _resend(run, stalled) + enqueue_missing(run)
    finalize_if_done(run_id=run.pk)
    return resent


def resume_stalled_runs() -> list[int]:
    """Beat's safety net (every minute): each running run's stalled chunks are sent again; returns the runs that had any."""
    resumed = []
    for run in GenerationRun.objects.filter(status=RunStatus.RUNNING):
        if requeue_stalled_chunks(run=run):
            resumed.append(run.pk)
    return resumed


def progress(run: GenerationRun) -> dict:
    counts = run.responses.aggregate(done=Count("id"), errors=Count("id", filter=~Q(error="")))
    done = counts["done"]
    return {"done": done, "errors": counts["errors"], "total": run.total,
            "percent": round(100 * done / run.total) if run.total else 100}
