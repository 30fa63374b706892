"""The Celery queues, named in one place: which kind of work goes where, and what every worker must consume.

One worker that takes tasks from one FIFO queue runs them in arrival order, so the 48 chunks of a long
generation queued first held an LLM judge started after them at "running 0/48" until the last chunk was
done. Each kind of work now has its own queue. A worker consuming several queues takes from them in
turn (kombu rotates the queues it polls), so even the embedded single worker runs a judge chunk after
at most one generation chunk; production gives the short queues workers of their own
(docker-compose.yml).
"""

from __future__ import annotations

# Short housekeeping: beat's polls (Slurm, stalled runs, stale imports) and training refreshes.
DEFAULT = "celery"
# LLM judging on a CPU-side backend (an OpenAI-compatible endpoint, transformers).
JUDGE = "judge"
# Generation runs' chunks on a CPU-side backend.
GENERATION = "generation"
# Community dump imports (one task per dump, minutes to hours).
IMPORTS = "imports"
# Anything that runs vLLM: generation or judging by a vLLM model (GPU hosts only).
GPU = "gpu"

ALL = (DEFAULT, JUDGE, GENERATION, IMPORTS, GPU)
CPU = (DEFAULT, JUDGE, GENERATION, IMPORTS)

DESCRIPTIONS = {
    DEFAULT: "Short jobs: beat's polls (Slurm, stalled runs, stale imports), training refreshes",
    JUDGE: "LLM judging (OpenAI-compatible and transformers judges)",
    GENERATION: "Generation runs (transformers and OpenAI-compatible models)",
    IMPORTS: "Community dump imports (curation)",
    GPU: "vLLM: generation and judging on GPU hosts",
}

# Tasks whose queue does not depend on a model (settings.CELERY_TASK_ROUTES); tasks sent with an explicit
# queue (generation and judging chunks, by their model's backend) are routed by the sender.
TASK_ROUTES = {
    "annotation.tasks.run_import_job": {"queue": IMPORTS},
}


def for_model(backend: str, *, judging: bool = False) -> str:
    """The queue for work done by a model of this backend: vLLM needs a GPU worker."""
    if backend == "vllm":
        return GPU
    return JUDGE if judging else GENERATION
