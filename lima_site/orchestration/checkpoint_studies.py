"""A blind judging study over a training run's checkpoints, opened in one click from the checkpoint table.

LIMA kept the checkpoint of epochs 5-10 whose dev-set responses were best (dev perplexity does not
predict quality). The study compares the dev responses of the checkpoint the researcher leans towards
(the target) against those of every other checkpoint of the run with finished dev responses on the same
dev snapshot (the baselines): the usual blind pairwise study, sides drawn from a cryptographic source,
model names scrubbed, annotators never told which epoch wrote what.

It sits here, above `training` and `annotation.evaluation`, because it needs both.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction

from annotation.evaluation.models import Study
from annotation.evaluation.services import judging
from generation.models import RunStatus
from training.models import Checkpoint, TrainingRun

FINISHED = (RunStatus.COMPLETED, RunStatus.COMPLETED_WITH_ERRORS)
PUBLIC_TITLE = "Which answer is better?"
GUIDELINES = ("Read the prompt and both answers, then choose the answer that is more helpful, correct and "
              "well written, or say neither is better. Judge the answers, not their length.")


def _study_name(run: TrainingRun, target: Checkpoint, baselines: list[Checkpoint]) -> str:
    others = ", ".join(str(c.epoch) for c in baselines)
    return f"{run.name}: epoch {target.epoch} vs epoch{'s' if len(baselines) > 1 else ''} {others} (dev responses)"[:200]


def _existing(target: Checkpoint, baseline_run_ids: set[int]) -> Study | None:
    """The study this button made before for the same target and baselines (a double click, a second researcher)."""
    for study in Study.objects.filter(target_run=target.dev_run).prefetch_related("baseline_runs"):
        if {run.pk for run in study.baseline_runs.all()} == baseline_run_ids and study.name.startswith(f"{target.run.name}: "):
            return study
    return None


def open_checkpoint_study(*, checkpoint: Checkpoint, user) -> tuple[Study, str]:
    """Create (once) and open a blind pairwise study: this checkpoint's dev responses against each other
    checkpoint's. Returns the study and a note for the researcher (empty, or why it is not open yet).

    Refused with a clear reason when this checkpoint has no finished dev responses or no other checkpoint
    has finished ones on the same dev snapshot. The run's row is locked while the study is made, so two
    clicks make one study.
    """
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().get(pk=checkpoint.run_id)
        checkpoints = list(run.checkpoints.select_related("dev_run", "run").order_by("epoch"))
        target = next((c for c in checkpoints if c.pk == checkpoint.pk), None)
        if target is None:
            raise ValidationError({"checkpoint": "that checkpoint belongs to another run"})
        if target.dev_run is None:
            raise ValidationError({"checkpoint": f"epoch {target.epoch} has no dev responses yet: generate them first"})
        if target.dev_run.status not in FINISHED:
            raise ValidationError({"checkpoint": f"epoch {target.epoch}'s dev responses are not finished "
                                                 f"({target.dev_run.get_status_display().lower()})"})
        dataset_id = target.dev_run.dataset_id
        baselines = [c for c in checkpoints if c.pk != target.pk and c.dev_run and c.dev_run.dataset_id == dataset_id
                     and c.dev_run.status in FINISHED]
        if not baselines:
            raise ValidationError({"checkpoint": f"no other checkpoint has finished dev responses on "
                                                 f"{target.dev_run.dataset.name} to compare epoch {target.epoch} with"})
        baseline_run_ids = {c.dev_run_id for c in baselines}
        study = _existing(target, baseline_run_ids)
        if study is None:
            study = Study.objects.create(
                name=_study_name(run, target, baselines), public_title=PUBLIC_TITLE, kind=Study.Kind.PAIRWISE,
                dataset_id=dataset_id, target_run=target.dev_run, overlap=1,
                # Dev sets are small (LIMA: 50 prompts); a shared subset would take its prompts away from the other
                # epochs' comparisons (one prompt per annotator), so every item is judged once.
                agreement_subset=0, guidelines=GUIDELINES, created_by=user,
            )
            study.baseline_runs.set([c.dev_run for c in baselines])
            study.annotators.set(get_user_model().objects.filter(groups__name="annotator", is_active=True))
    if study.state != Study.State.DRAFT:
        return study, ""
    try:
        study = judging.open_study(study=study)
    except ValidationError as exc:
        return study, " ".join(exc.messages)
    return study, ""
