"""Ablation experiments: create, then advance each variant freeze -> train -> generate -> grade, idempotently.

`advance_experiment` is the one driver. It runs under a row lock on the experiment (two advancers never both act),
looks at where each variant is, and takes the next step through the owning apps' services: datasets freezes the
variant's rows, training creates and submits the run (local launcher or Slurm) and registers its checkpoints,
generation samples the dev snapshot N times (one run per seed), and the grading chunks ask the LLM judge for a
1-6 helpfulness score per response. Every step is safe to repeat: a re-delivered task or a second click finds
the step done and moves on.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.text import slugify

from annotation.datasets.models import Dataset
from annotation.datasets.services import freeze_dataset
from annotation.models import Example, Status
from generation.backends import BackendError, GenerationResult, get_backend
from generation.decoding import Decoding
from generation.models import Backend, GenerationRun, ModelSpec, Response, RunStatus
from generation.services import runs as generation_runs
from generation.services.runs import backend_config
from lima_site.orchestration import helpfulness
from lima_site.orchestration.models import Experiment, HelpfulnessGrade, Variant
from training import slurm
from training.models import Launcher, RunState
from training.recipe import Hyperparameters
from training.services import checkpoints as training_checkpoints
from training.services import runs as training_runs

logger = logging.getLogger(__name__)
GRADE_CHUNK = 8
# Without the quality filter a variant takes every mined or written example of its sources whatever the review
# said (LIMA's unfiltered Stack Exchange); drafts are unfinished writing, never data.
UNFILTERED_STATUSES = (Status.CANDIDATE, Status.SUBMITTED, Status.APPROVED, Status.REJECTED)


def variant_example_ids(*, sources, quality_filter: bool) -> list[int]:
    statuses = (Status.APPROVED,) if quality_filter else UNFILTERED_STATUSES
    return list(Example.objects.filter(split="train", source__in=list(sources), status__in=statuses)
                .order_by("id").values_list("id", flat=True))


def sample_rows(ids: list[int], *, size: int | None, seed: int) -> list[int]:
    """`size` of the ids drawn with `seed` (all when size is None); the same seed draws the same rows."""
    if size is None:
        return ids
    return sorted(random.Random(seed).sample(ids, size))


def create_experiment(*, name: str, base_model: ModelSpec, dev_dataset: Dataset, judge_model: ModelSpec, user,
                      variants: list[helpfulness.VariantSpec], hyperparameters: dict | None = None,
                      launcher: str = Launcher.SLURM, resources: dict | None = None, samples_per_prompt: int = 5,
                      decoding: dict | None = None, judge_template: str = helpfulness.DEFAULT_TEMPLATE,
                      description: str = "", seed: int = 0) -> Experiment:
    """Check everything a variant will need before anything is written; all or nothing."""
    errors: dict[str, str] = {}
    slug = slugify(name)[:60]
    if not slug:
        errors["name"] = "a name of letters, digits or dashes"
    elif Experiment.objects.filter(name=slug).exists():
        errors["name"] = f"an experiment named {slug!r} exists already"
    try:
        recipe = Hyperparameters.from_dict(hyperparameters or {}).as_dict()
    except (TypeError, ValueError) as exc:
        errors["hyperparameters"] = str(exc)
    if launcher not in Launcher.values:
        errors["launcher"] = f"one of {', '.join(Launcher.values)}"
    try:
        resources_checked = slurm.Resources(**(resources or {}))
        errors.update(resources_checked.problems())
    except TypeError as exc:
        errors["resources"] = str(exc)
    if dev_dataset.split != "dev":
        errors["dev_dataset"] = f"{dev_dataset.name} is a {dev_dataset.split} snapshot; variants are compared on dev prompts"
    if not 1 <= samples_per_prompt <= 100:
        errors["samples_per_prompt"] = "between 1 and 100 (LIMA: 5)"
    if judge_model.backend == Backend.IMPORTED:
        errors["judge_model"] = "an imported model cannot answer questions"
    if missing := helpfulness.validate_template(judge_template):
        errors["judge_template"] = f"the prompt lacks {', '.join(missing)}"
    try:
        Decoding.from_dict({**base_model.default_decoding(), **(decoding or {})})
    except (TypeError, ValueError) as exc:
        errors["decoding"] = str(exc)
    if not variants:
        errors["variants"] = "at least one variant"
    for number, spec in enumerate(variants, start=1):
        available = len(variant_example_ids(sources=spec.sources, quality_filter=spec.quality_filter))
        if not available:
            errors.setdefault("variants", f"variant {number} ({spec.label}) has no training examples")
        elif spec.size is not None and spec.size > available:
            errors.setdefault("variants", f"variant {number} ({spec.label}) needs {spec.size:,} examples; "
                                          f"the platform holds {available:,} that match")
    if errors:
        raise ValidationError(errors)
    training_runs.check_base_model(base_model)
    with transaction.atomic():
        experiment = Experiment.objects.create(
            name=slug, description=description, base_model=base_model, hyperparameters=recipe, launcher=launcher,
            resources=(resources or {}), dev_dataset=dev_dataset, samples_per_prompt=samples_per_prompt,
            decoding=decoding or {}, judge_model=judge_model, judge_template=judge_template, seed=seed, created_by=user,
        )
        Variant.objects.bulk_create(
            Variant(experiment=experiment, position=position, label=spec.label[:200], sources=list(spec.sources),
                    quality_filter=spec.quality_filter, size=spec.size, seed=spec.seed)
            for position, spec in enumerate(variants)
        )
        from lima_site.orchestration import tasks

        transaction.on_commit(lambda: tasks.advance_experiment.delay(experiment.pk))
    return experiment


def advance_experiment(*, experiment_id: int) -> str:
    """Take every variant one step further; returns the experiment's state ("busy" when another advancer holds it)."""
    with transaction.atomic():
        experiment = (Experiment.objects.select_for_update(skip_locked=True).select_related("base_model", "dev_dataset")
                      .filter(pk=experiment_id).first())
        if experiment is None:
            return "busy"
        if experiment.state != Experiment.State.RUNNING:
            return experiment.state
        for variant in experiment.variants.select_related("training_run", "snapshot"):
            if variant.stage in (Variant.Stage.DONE, Variant.Stage.FAILED):
                continue
            try:
                # A savepoint per variant: one variant's surprise never undoes another's step (a submitted job whose
                # run row rolled back to "draft" would be submitted twice).
                with transaction.atomic():
                    _advance_variant(experiment, variant)
            except ValidationError as exc:
                _fail(variant, "; ".join(exc.messages))
            except DatabaseError:
                raise  # the task retries: the database, not the variant, is at fault
            except Exception as exc:
                logger.exception("experiment %s, variant %s", experiment.pk, variant.position)
                _fail(variant, f"unexpected error: {exc!r}"[:2000])
        stages = set(experiment.variants.values_list("stage", flat=True))
        if stages <= {Variant.Stage.DONE, Variant.Stage.FAILED}:
            experiment.state = Experiment.State.COMPLETED if Variant.Stage.DONE in stages else Experiment.State.FAILED
            experiment.error = "" if Variant.Stage.DONE in stages else "every variant failed"
            experiment.finished_at = timezone.now()
            experiment.save(update_fields=["state", "error", "finished_at"])
        return experiment.state


def _fail(variant: Variant, message: str) -> None:
    variant.stage, variant.error = Variant.Stage.FAILED, message
    variant.save(update_fields=["stage", "error"])


def _advance_variant(experiment: Experiment, variant: Variant) -> None:
    if variant.stage == Variant.Stage.FREEZING:
        _freeze_and_prepare(experiment, variant)
    if variant.stage == Variant.Stage.TRAINING:
        _train(experiment, variant)
    if variant.stage == Variant.Stage.GENERATING:
        _generate(experiment, variant)
    if variant.stage == Variant.Stage.GRADING:
        _grade(experiment, variant)


def _freeze_and_prepare(experiment: Experiment, variant: Variant) -> None:
    ids = variant_example_ids(sources=variant.sources, quality_filter=variant.quality_filter)
    if variant.size is not None and variant.size > len(ids):
        _fail(variant, f"needs {variant.size:,} examples; {len(ids):,} match now")
        return
    with transaction.atomic():
        snapshot = freeze_dataset(
            name=f"{experiment.name}-v{variant.position}"[:100], split="train", user=experiment.created_by,
            example_ids=sample_rows(ids, size=variant.size, seed=variant.seed),
            description=f"Experiment {experiment.name}, variant {variant.position}: {variant.label}",
        )
        run = training_runs.create_run(
            dataset=snapshot, base_model=experiment.base_model, user=experiment.created_by,
            hyperparameters=experiment.hyperparameters, launcher=experiment.launcher,
            resources=slurm.Resources(**experiment.resources), name=f"{experiment.name}-v{variant.position}",
        )
        variant.snapshot, variant.training_run, variant.stage = snapshot, run, Variant.Stage.TRAINING
        variant.save(update_fields=["snapshot", "training_run", "stage"])


def _train(experiment: Experiment, variant: Variant) -> None:
    run = variant.training_run
    if run.state == RunState.DRAFT:
        run = training_runs.submit_run(run=run)
    if run.state == RunState.REJECTED:
        _fail(variant, f"training run not submitted: {run.error}")
        return
    run = training_runs.refresh_run(run=run)
    if run.is_active:
        return
    if run.state != RunState.COMPLETED:
        _fail(variant, f"training run {run.name} ended {run.get_state_display().lower()}: {run.error}")
        return
    training_checkpoints.register_checkpoints(run=run)
    # The last epoch is kept: an ablation compares data, not a hand-picked epoch per variant.
    checkpoint = run.checkpoints.select_related("model").order_by("-epoch").first()
    if checkpoint is None:
        _fail(variant, f"training run {run.name} completed without a checkpoint")
        return
    training_checkpoints.pick_result(run=run, checkpoint=checkpoint)
    generation = [
        generation_runs.start_run(run=generation_runs.create_run(
            model=checkpoint.model, dataset=experiment.dev_dataset, user=experiment.created_by,
            decoding=experiment.decoding, seed=sample))
        for sample in range(experiment.samples_per_prompt)
    ]
    variant.generation_runs.set(generation)
    variant.checkpoint, variant.stage = checkpoint, Variant.Stage.GENERATING
    variant.save(update_fields=["checkpoint", "stage"])


def _generate(experiment: Experiment, variant: Variant) -> None:
    statuses = list(variant.generation_runs.values_list("status", flat=True))
    if any(s in (RunStatus.PENDING, RunStatus.RUNNING) for s in statuses):
        return
    if RunStatus.CANCELLED in statuses:
        _fail(variant, "a dev generation run was cancelled")
        return
    variant.stage = Variant.Stage.GRADING
    variant.save(update_fields=["stage"])
    enqueue_grading(variant)


def ungraded_response_ids(variant: Variant) -> list[int]:
    return list(Response.objects.filter(run__in=variant.generation_runs.all(), error="")
                .exclude(pk__in=HelpfulnessGrade.objects.filter(variant=variant).values("response_id"))
                .order_by("id").values_list("id", flat=True))


def enqueue_grading(variant: Variant) -> int:
    from lima_site.orchestration import tasks

    ids = ungraded_response_ids(variant)
    chunks = [ids[i:i + GRADE_CHUNK] for i in range(0, len(ids), GRADE_CHUNK)]
    queue = variant.experiment.judge_model.queue
    transaction.on_commit(lambda: [tasks.grade_chunk.apply_async(args=(variant.pk, chunk), queue=queue) for chunk in chunks])
    return len(chunks)


def _grade(experiment: Experiment, variant: Variant) -> None:
    if not ungraded_response_ids(variant):
        variant.stage = Variant.Stage.DONE
        variant.save(update_fields=["stage"])


def grade_responses(*, variant_id: int, response_ids: list[int]) -> int:
    """Ask the judge for the responses of this chunk not graded yet; returns how many grades were stored."""
    variant = Variant.objects.select_related("experiment__judge_model").get(pk=variant_id)
    experiment = variant.experiment
    if experiment.state != Experiment.State.RUNNING:
        return 0
    graded = set(HelpfulnessGrade.objects.filter(variant=variant, response_id__in=response_ids).values_list("response_id", flat=True))
    responses = [r for r in Response.objects.filter(pk__in=response_ids).select_related("row").order_by("id") if r.pk not in graded]
    if not responses:
        return 0
    judge = experiment.judge_model
    asks = [[helpfulness.render_prompt(experiment.judge_template, prompt="\n\n".join(r.row.conversations), response=r.text)]
            for r in responses]
    try:
        answers = get_backend(backend_config(judge)).generate(asks, Decoding.from_dict(judge.default_decoding()), seed=variant.pk)
    except BackendError as exc:
        answers = [GenerationResult(error=str(exc)) for _ in asks]
    grades = []
    for response, answer in zip(responses, answers):
        score = None if answer.error else helpfulness.parse_score(answer.text)
        error = answer.error or ("" if score else "no score 1-6 on a line of its own in the judge's answer")
        grades.append(HelpfulnessGrade(variant=variant, response=response, score=score, raw=answer.text.replace("\x00", ""), error=error))
    return len(HelpfulnessGrade.objects.bulk_create(grades, ignore_conflicts=True))


def cancel_experiment(*, experiment: Experiment) -> Experiment:
    """Stop where it is: active training runs are cancelled, dev generation stops, no more grading."""
    with transaction.atomic():
        experiment = Experiment.objects.select_for_update().get(pk=experiment.pk)
        if experiment.state != Experiment.State.RUNNING:
            return experiment
        experiment.state, experiment.finished_at = Experiment.State.CANCELLED, timezone.now()
        experiment.save(update_fields=["state", "finished_at"])
    for variant in experiment.variants.select_related("training_run"):
        if variant.training_run and variant.training_run.state in (RunState.DRAFT, RunState.PENDING, RunState.RUNNING):
            training_runs.cancel_run(run=variant.training_run)
        for run in variant.generation_runs.all():
            generation_runs.cancel_run(run=run)
    return experiment


@dataclass(frozen=True)
class VariantPoint:
    variant: Variant
    score: helpfulness.MeanScore | None
    failed_grades: int


def variant_points(experiment: Experiment) -> list[VariantPoint]:
    """Mean helpfulness per variant with its 95% interval; two queries whatever the number of variants or grades."""
    variants = list(experiment.variants.select_related("training_run", "snapshot", "checkpoint"))
    scores: dict[int, dict[str, list[int]]] = {v.pk: {} for v in variants}
    failed = dict.fromkeys(scores, 0)
    for variant_id, row_id, score in (HelpfulnessGrade.objects.filter(variant__experiment=experiment)
                                      .values_list("variant_id", "response__row_id", "score")):
        if score is None:
            failed[variant_id] += 1
        else:
            scores[variant_id].setdefault(str(row_id), []).append(score)
    return [VariantPoint(variant=v, score=helpfulness.mean_with_interval(scores[v.pk], seed=experiment.seed),
                         failed_grades=failed[v.pk]) for v in variants]


def experiment_progress(experiment: Experiment) -> dict:
    stages = dict(experiment.variants.values_list("stage").annotate(n=Count("id")).values_list("stage", "n"))
    total = sum(stages.values())
    done = stages.get(Variant.Stage.DONE, 0) + stages.get(Variant.Stage.FAILED, 0)
    grades = HelpfulnessGrade.objects.filter(variant__experiment=experiment).aggregate(
        graded=Count("id"), failed=Count("id", filter=Q(score__isnull=True)))
    return {"stages": stages, "done": done, "total": total, "percent": round(100 * done / total) if total else 100, **grades}


def variant_responses(variant: Variant):
    """The variant's dev responses with their grades (the page a chart point opens)."""
    grades = {g.response_id: g for g in HelpfulnessGrade.objects.filter(variant=variant)}
    responses = (Response.objects.filter(run__in=variant.generation_runs.all()).select_related("row", "run")
                 .order_by("row__position", "run__seed"))
    return [(response, grades.get(response.pk)) for response in responses]


def generation_runs_of(variant: Variant) -> list[GenerationRun]:
    return list(variant.generation_runs.order_by("seed"))
