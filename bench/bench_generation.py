"""Issue 4 figures: pipeline overhead of a GenerationRun (Celery worker, Redis, PostgreSQL) against
calling the same backend directly on the same prompts, same chunks and seeds, in one process.

Both sides use the tiny model on the CPU, warmed up first (model loaded), so the difference is
what the pipeline adds: queueing, task dispatch, database reads and writes, completion checks.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from annotation.models import Example
from generation.backends import get_backend
from generation.decoding import Decoding
from generation.models import GenerationRun, Response, RunStatus
from generation.services import runs
from tests.builders import prompt_snapshot, tiny_model_spec
from tests.workers import WorkerProcess, purge_broker, wait_for

PROMPTS = 300
# (chunk size, max new tokens): the default chunking with very short answers (the pipeline's worst
# case relative to compute), and longer answers where compute per chunk is closer to a real model's.
CONFIGS = ((16, 32), (16, 256))
REPEATS = 3


def _run_through_pipeline(model, dataset, user, seed: int, chunk: int) -> float:
    run = runs.create_run(model=model, dataset=dataset, user=user, seed=seed, chunk_size=chunk)
    started = time.perf_counter()
    runs.start_run(run=run)
    wait_for(lambda: GenerationRun.objects.filter(pk=run.pk, status=RunStatus.COMPLETED).exists(), timeout=1800, interval=0.05,
             what="the benchmark run")
    elapsed = time.perf_counter() - started
    assert Response.objects.filter(run=run).count() == dataset.row_count
    return elapsed


def _run_directly(model, dataset, seed: int, chunk_size: int) -> float:
    backend = get_backend(runs.backend_config(model))
    rows = list(dataset.rows.order_by("position"))
    decoding = Decoding(**model.default_decoding())
    started = time.perf_counter()
    for i in range(0, len(rows), chunk_size):
        chunk = rows[i:i + chunk_size]
        backend.generate([row.conversations for row in chunk], decoding, seed=seed + chunk[0].position)
    return time.perf_counter() - started


def run() -> dict:
    Example.objects.all().delete()
    user, _ = get_user_model().objects.get_or_create(username="bench-generation")
    user.groups.add(Group.objects.get(name="researcher"))
    dataset = prompt_snapshot(user=user, n=PROMPTS, name="bench-300-prompts")
    purge_broker()
    worker = WorkerProcess(name="bench", log_dir=Path(tempfile.mkdtemp())).start()
    figures = {"prompts": PROMPTS, "backend": "transformers (tiny model, CPU)", "configs": []}
    try:
        for chunk, max_new_tokens in CONFIGS:
            model = tiny_model_spec(name=f"bench-tiny-{chunk}-{max_new_tokens}", max_new_tokens=max_new_tokens)
            _run_through_pipeline(model, dataset, user, seed=999, chunk=chunk)  # warm-up: the worker loads the model
            _run_directly(model, dataset, seed=999, chunk_size=chunk)
            pipeline, direct = [], []
            for repeat in range(REPEATS):
                direct.append(_run_directly(model, dataset, seed=repeat, chunk_size=chunk))
                pipeline.append(_run_through_pipeline(model, dataset, user, seed=repeat, chunk=chunk))
            p, d = statistics.median(pipeline), statistics.median(direct)
            tasks = -(-PROMPTS // chunk)
            figures["configs"].append({
                "chunk_size": chunk, "max_new_tokens": max_new_tokens,
                "pipeline_seconds": [round(x, 3) for x in pipeline], "direct_seconds": [round(x, 3) for x in direct],
                "pipeline_median_s": round(p, 3), "direct_median_s": round(d, 3),
                "overhead_percent": round(100 * (p - d) / d, 1),
                "overhead_ms_per_task": round(1000 * (p - d) / tasks, 1),
                "pipeline_prompts_per_s": round(PROMPTS / p, 1),
            })
    finally:
        worker.stop()
        purge_broker()
    return figures
