"""Reads for judging: an annotator's studies and progress, a researcher's study overview."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from django.db.models import Count, Exists, F, OuterRef, Q

from annotation.models import Assignment, ComparisonItem, Judgment, Rating, Study


def annotator_studies(user):
    return Study.objects.filter(annotators=user, state=Study.State.OPEN).order_by("-created_at")


@dataclass(frozen=True)
class AnnotatorProgress:
    done: int
    total: int

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 100


def annotator_progress(*, study: Study, annotator) -> AnnotatorProgress:
    """Done = verdicts given; total = those plus every item still open to this annotator (one query)."""
    mine = Assignment.objects.filter(item=OuterRef("pk"), annotator=annotator)
    counts = (
        ComparisonItem.objects.filter(study=study)
        .annotate(is_mine=Exists(mine), done_by_me=Exists(mine.filter(completed_at__isnull=False)))
        .aggregate(
            done=Count("id", filter=Q(done_by_me=True)),
            total=Count("id", filter=Q(is_mine=True) | Q(assigned_count__lt=F("capacity"))),
        )
    )
    return AnnotatorProgress(done=counts["done"], total=counts["total"])


@dataclass
class AnnotatorSummary:
    username: str
    is_llm: bool
    count: int
    median_seconds: float | None
    shared_count: int


def annotator_summaries(study: Study) -> list[AnnotatorSummary]:
    """Per annotator: verdicts, median seconds per item, how many shared (agreement) items they did."""
    model = Judgment if study.kind == Study.Kind.PAIRWISE else Rating
    rows = model.objects.filter(item__study=study).values_list("annotator__username", "annotator__is_active", "seconds", "item__is_shared")
    by_user: dict[str, dict] = {}
    for username, active, seconds, shared in rows:
        entry = by_user.setdefault(username, {"seconds": [], "count": 0, "shared": 0, "llm": not active})
        entry["count"] += 1
        entry["shared"] += int(shared)
        if seconds is not None:
            entry["seconds"].append(seconds)
    return [
        AnnotatorSummary(username=name, is_llm=entry["llm"], count=entry["count"],
                         median_seconds=round(statistics.median(entry["seconds"]), 1) if entry["seconds"] else None,
                         shared_count=entry["shared"])
        for name, entry in sorted(by_user.items())
    ]


def study_overview(study: Study) -> dict:
    items = study.items.aggregate(
        total=Count("id"), shared=Count("id", filter=Q(is_shared=True)),
        scrubbed=Count("id", filter=~Q(scrubbed=[])),
    )
    model = Judgment if study.kind == Study.Kind.PAIRWISE else Rating
    verdicts = dict(model.objects.filter(item__study=study).values_list("verdict" if model is Judgment else "grade").annotate(n=Count("id")).order_by())
    return {"items": items, "verdicts": verdicts, "open_assignments": Assignment.objects.filter(item__study=study, completed_at__isnull=True).count()}
