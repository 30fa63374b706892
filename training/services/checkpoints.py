"""Checkpoints become models: registration, dev-set generation for chosen epochs, and the pick.

LIMA found that dev perplexity does not predict quality, so the paper compared the checkpoints
of epochs 5-10 on the 50 dev prompts and kept the best. Here each chosen epoch gets a generation
run on a dev snapshot; the researcher compares them (generation's compare page) and picks one.
Training does not import evaluation: the one-click blind study over these runs lives above both, in
lima_site/orchestration/checkpoint_studies.py.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from annotation.datasets.models import Dataset
from generation.models import Backend, GenerationRun, ModelSpec
from generation.services import runs as generation_runs
from training.models import Checkpoint, TrainingRun
from training.sft import STATE_FILE

DEFAULT_EPOCHS = range(5, 11)
logger = logging.getLogger(__name__)


def register_checkpoints(*, run: TrainingRun) -> list[Checkpoint]:
    """Register every complete `epoch-N/` with weights (its state file is written last) as a ModelSpec with the run's checkpoint
    backend (vLLM on the GPU queue, or transformers), the base model's chat template and its generation limits
    (max new tokens, top p, temperature, repetition penalty): a checkpoint answers as its base was set up to.

    Idempotent: the (run, epoch) constraint and the unique model name make a repeated poll a no-op.
    """
    created = []
    known = set(run.checkpoints.values_list("epoch", flat=True))
    for directory in sorted(Path(run.run_dir, "checkpoints").glob("epoch-*")):
        state_file = directory / STATE_FILE
        if not state_file.exists():
            continue
        state = json.loads(state_file.read_text())
        epoch = int(state["epoch"])
        if epoch in known or not state.get("weights", True):
            continue  # registered already, or a resume-only checkpoint (no Hugging Face weights for this epoch)
        base = run.base_model
        model = ModelSpec(
            name=f"{run.name}-epoch-{epoch}"[:100], backend=run.checkpoint_backend or Backend.TRANSFORMERS,
            location=str(directory), chat_template=base.chat_template, top_p=base.top_p, temperature=base.temperature,
            repetition_penalty=base.repetition_penalty, max_new_tokens=base.max_new_tokens, description=(
                f"Training run {run.name}, epoch {epoch} of {run.epochs}, fine-tuned from {run.base_model.name} "
                f"on {run.dataset.name} ({run.dataset_hash[:12]})."
            ), created_by=run.created_by,
        )
        try:
            # The registry's rules, as for a model registered by hand (the directory loads, under LIMA_MODEL_ROOTS).
            model.full_clean(validate_unique=False)
        except ValidationError as exc:
            logger.warning("checkpoint %s of training run %s not registered: %s", directory, run.pk, "; ".join(exc.messages))
            continue
        try:
            with transaction.atomic():
                model.save()
                created.append(Checkpoint.objects.create(run=run, epoch=epoch, step=int(state.get("global_step", 0)),
                                                         path=str(directory), model=model))
        except IntegrityError:
            continue  # another poller registered it first
    return created


def generate_dev_responses(*, run: TrainingRun, dataset: Dataset, epochs: list[int] | None, user) -> list[GenerationRun]:
    """One generation run per chosen checkpoint on a dev snapshot (LIMA's default: epochs 5-10 that exist)."""
    if dataset.split != "dev":
        raise ValidationError({"dataset": f"{dataset.name} is a {dataset.split} snapshot; checkpoints are compared on dev prompts"})
    checkpoints = list(run.checkpoints.select_related("model", "dev_run"))
    wanted = set(epochs) if epochs else {c.epoch for c in checkpoints if c.epoch in DEFAULT_EPOCHS}
    chosen = [c for c in checkpoints if c.epoch in wanted]
    if not chosen:
        available = ", ".join(str(c.epoch) for c in checkpoints) or "none yet"
        raise ValidationError({"epochs": f"no checkpoint for the chosen epochs (available: {available})"})
    started = []
    for checkpoint in chosen:
        if checkpoint.dev_run and checkpoint.dev_run.dataset_id == dataset.pk:
            started.append(checkpoint.dev_run)
            continue
        generation = generation_runs.create_run(model=checkpoint.model, dataset=dataset, user=user)
        generation_runs.start_run(run=generation)
        Checkpoint.objects.filter(pk=checkpoint.pk).update(dev_run=generation)
        started.append(generation)
    return started


def pick_result(*, run: TrainingRun, checkpoint: Checkpoint) -> TrainingRun:
    """Mark the checkpoint kept as the run's result (chosen by hand on the dev-set responses)."""
    if checkpoint.run_id != run.pk:
        raise ValidationError({"checkpoint": "that checkpoint belongs to another run"})
    TrainingRun.objects.filter(pk=run.pk).update(result=checkpoint)
    run.refresh_from_db()
    return run
