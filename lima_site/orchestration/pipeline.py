"""The study at a glance: every stage of the pipeline with its counts and live state, read from every app.

quotas -> snapshots -> training runs -> checkpoints -> generation runs -> studies -> results. One aggregate query
per stage, so the researcher's home page costs the same with ten rows or a million.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count, Exists, OuterRef, Q, Sum

from annotation.datasets.models import Dataset
from annotation.evaluation.models import ExternalJudgmentSet, Judgment, Rating, Study
from annotation.models import Example, Quota, Status
from generation.models import GenerationRun, RunStatus
from training.models import ACTIVE_STATES, Checkpoint, RunState, TrainingRun


@dataclass(frozen=True)
class Stage:
    """One box of the pipeline: a headline count, what it is doing now, and where to go."""

    key: str
    label: str
    count: int
    url_name: str
    summary: str
    state: str = "idle"  # idle (nothing yet), active (something running), done (has results), attention (something failed)
    facts: list[str] = field(default_factory=list)
    url_args: tuple = ()


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _quotas() -> Stage:
    target = Quota.objects.filter(flag="").aggregate(total=Sum("target"))["total"] or 0
    examples = Example.objects.aggregate(
        approved=Count("id", filter=Q(status=Status.APPROVED)), submitted=Count("id", filter=Q(status=Status.SUBMITTED)),
        sensitive=Count("id", filter=Q(is_sensitive=True, status=Status.APPROVED)),
    )
    facts = [f"{examples['submitted']:,} waiting for review", f"{examples['sensitive']:,} sensitive prompts approved"]
    state = "done" if target and examples["approved"] >= target else ("active" if examples["approved"] or examples["submitted"] else "idle")
    return Stage("quotas", "Quotas", examples["approved"], "annotation:dashboard",
                 f"{examples['approved']:,} of {target:,} examples approved", state, facts)


def _snapshots() -> Stage:
    found = Dataset.objects.aggregate(
        total=Count("id"), train=Count("id", filter=Q(split="train")), dev=Count("id", filter=Q(split="dev")),
        test=Count("id", filter=Q(split="test")),
    )
    return Stage("snapshots", "Snapshots", found["total"], "datasets:dataset_list",
                 f"{found['train']} train · {found['dev']} dev · {found['test']} test", "done" if found["total"] else "idle")


def _training() -> Stage:
    found = TrainingRun.objects.aggregate(
        total=Count("id"), active=Count("id", filter=Q(state__in=ACTIVE_STATES)),
        completed=Count("id", filter=Q(state=RunState.COMPLETED)),
        failed=Count("id", filter=Q(state__in=[RunState.FAILED, RunState.TIMED_OUT, RunState.NODE_FAILED, RunState.OUT_OF_MEMORY])),
    )
    state = "active" if found["active"] else "attention" if found["failed"] else "done" if found["completed"] else "idle"
    return Stage("training", "Training runs", found["total"], "training:run_list",
                 f"{found['active']} running or queued · {found['completed']} completed", state,
                 [f"{found['failed']} failed"] if found["failed"] else [])


def _checkpoints() -> Stage:
    found = Checkpoint.objects.aggregate(
        total=Count("id"), with_dev=Count("id", filter=Q(dev_run__isnull=False)),
    )
    kept = TrainingRun.objects.filter(result__isnull=False).count()
    return Stage("checkpoints", "Checkpoints", found["total"], "training:run_list",
                 f"{found['with_dev']} with dev responses · {kept} kept", "done" if found["total"] else "idle")


def _generation() -> Stage:
    found = GenerationRun.objects.aggregate(
        total=Count("id"), active=Count("id", filter=Q(status__in=[RunStatus.PENDING, RunStatus.RUNNING])),
        completed=Count("id", filter=Q(status=RunStatus.COMPLETED)),
        with_errors=Count("id", filter=Q(status=RunStatus.COMPLETED_WITH_ERRORS)),
    )
    state = "active" if found["active"] else "attention" if found["with_errors"] else "done" if found["completed"] else "idle"
    return Stage("generation", "Generation runs", found["total"], "generation:run_list",
                 f"{found['active']} running · {found['completed']} completed", state,
                 [f"{found['with_errors']} completed with errors"] if found["with_errors"] else [])


def _studies() -> Stage:
    found = Study.objects.aggregate(
        total=Count("id"), open=Count("id", filter=Q(state=Study.State.OPEN)), draft=Count("id", filter=Q(state=Study.State.DRAFT)),
        closed=Count("id", filter=Q(state=Study.State.CLOSED)),
    )
    kinds = dict(Study.objects.values_list("kind").annotate(n=Count("id")).order_by())
    facts = [f"{n} {Study.Kind(kind).label.split(' (')[0].lower()}" for kind, n in sorted(kinds.items()) if kind in Study.Kind.values]
    return Stage("studies", "Studies", found["total"], "evaluation:study_list",
                 f"{found['open']} open · {found['draft']} draft · {found['closed']} closed", "active" if found["open"] else
                 "done" if found["total"] else "idle", facts)


def _results() -> Stage:
    verdicts = Judgment.objects.count() + Rating.objects.count()
    external = ExternalJudgmentSet.objects.count()
    judged = Exists(Judgment.objects.filter(item__study=OuterRef("pk"))) | Exists(Rating.objects.filter(item__study=OuterRef("pk")))
    latest = Study.objects.filter(judged).order_by("-created_at", "-id").values_list("pk", flat=True).first()
    summary = f"{verdicts:,} verdicts stored · {_plural(external, 'external set')}"
    if latest:
        return Stage("results", "Results", verdicts, "evaluation:study_results", summary + " · latest study's results", "done",
                     url_args=(latest,))
    return Stage("results", "Results", verdicts, "evaluation:external_list", summary, "done" if external else "idle")


def pipeline_overview() -> list[Stage]:
    """The seven stages in pipeline order."""
    return [_quotas(), _snapshots(), _training(), _checkpoints(), _generation(), _studies(), _results()]
