"""Writes for blind judging: build a study's items, hand out assignments, record verdicts and ratings.

Assignment is correct under concurrency because the database enforces it: an item row is
locked (SKIP LOCKED, so concurrent annotators take different items instead of waiting), its
`assigned_count` may never exceed `capacity` (a check constraint), and (item, annotator) is
unique for assignments, judgments and ratings. A double submit returns the stored verdict.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from annotation.evaluation.models import Assignment, ComparisonItem, Judgment, Rating, Study, Verdict
from annotation.evaluation.scrub import scrub_self_identification
from generation.models import GenerationRun, Response

UNDO_WINDOW = timedelta(seconds=60)
SIDES = {"a", "b", "tie"}


class StudyClosed(Exception):
    """The study does not take judgments now."""


def _responses_by_row(run: GenerationRun) -> dict[int, Response]:
    return {r.row_id: r for r in Response.objects.filter(run=run, error="")}


def build_items(*, study: Study) -> int:
    """Create the study's items once: sides randomised per item with the study's seed, text scrubbed.

    Pairwise: one item per (prompt, baseline) where both models have a response. Absolute: a
    seeded sample of `absolute_sample` target responses. The first `agreement_subset` items in
    the seeded order are shared: every annotator in the pool judges them.
    """
    if study.items.exists():
        raise ValidationError("the study's items are already built; they never change once built")
    rng = random.Random(study.seed)
    target = _responses_by_row(study.target_run)
    plans: list[tuple[Response, Response | None, GenerationRun | None]] = []
    if study.kind == Study.Kind.PAIRWISE:
        baselines = list(study.baseline_runs.all())
        if not baselines:
            raise ValidationError({"baseline_runs": "a pairwise study needs at least one baseline run"})
        for run in baselines:
            if run.dataset_id != study.dataset_id or study.target_run.dataset_id != study.dataset_id:
                raise ValidationError({"baseline_runs": "every run must be over the study's prompt snapshot"})
            for row_id, baseline_response in sorted(_responses_by_row(run).items()):
                if row_id in target:
                    plans.append((target[row_id], baseline_response, run))
    else:
        sample = sorted(target)
        rng.shuffle(sample)
        plans = [(target[row_id], None, None) for row_id in sorted(sample[: study.absolute_sample])]
    if not plans:
        raise ValidationError("no prompt has responses from the compared runs")
    order = list(range(len(plans)))
    rng.shuffle(order)
    pool = max(study.annotators.count(), 1)
    items = []
    for (target_response, baseline_response, baseline_run), order_key in zip(plans, order):
        target_is_a = rng.random() < 0.5 if baseline_response else True
        target_text, target_changes = scrub_self_identification(target_response.text)
        if baseline_response:
            baseline_text, baseline_changes = scrub_self_identification(baseline_response.text)
        else:
            baseline_text, baseline_changes = "", []
        text_a, text_b = (target_text, baseline_text) if target_is_a else (baseline_text, target_text)
        changes_a, changes_b = (target_changes, baseline_changes) if target_is_a else (baseline_changes, target_changes)
        shared = order_key < study.agreement_subset
        items.append(ComparisonItem(
            study=study, row_id=target_response.row_id, target_response=target_response, baseline_response=baseline_response,
            baseline_run=baseline_run, target_is_a=target_is_a, text_a=text_a, text_b=text_b,
            scrubbed=[{"side": "a", **c.as_dict()} for c in changes_a] + [{"side": "b", **c.as_dict()} for c in changes_b],
            is_shared=shared, capacity=max(pool, study.overlap) if shared else study.overlap, order_key=order_key,
        ))
    ComparisonItem.objects.bulk_create(items, batch_size=1000)
    return len(items)


def open_study(*, study: Study) -> Study:
    with transaction.atomic():
        if not study.items.exists():
            build_items(study=study)
        Study.objects.filter(pk=study.pk).update(state=Study.State.OPEN)
    study.refresh_from_db()
    return study


def close_study(*, study: Study) -> Study:
    Study.objects.filter(pk=study.pk).update(state=Study.State.CLOSED)
    study.refresh_from_db()
    return study


def _check_open(study: Study, annotator) -> None:
    if study.state != Study.State.OPEN:
        raise StudyClosed(f"this study is {study.get_state_display().lower()}; it takes no judgments now")
    # Membership is checked once per study instance (one request), not before every step.
    checked = study.__dict__.setdefault("_members_checked", set())
    if annotator.pk in checked:
        return
    if not study.annotators.filter(pk=annotator.pk).exists():
        raise PermissionDenied("you are not in this study's annotator pool")
    checked.add(annotator.pk)


def current_assignment(*, study: Study, annotator) -> Assignment | None:
    """The item this annotator has open (assigned, not yet judged), or a newly claimed one; None when done."""
    _check_open(study, annotator)
    open_assignment = (
        Assignment.objects.select_related("item__row").filter(item__study=study, annotator=annotator, completed_at__isnull=True)
        .order_by("assigned_at", "id").first()
    )
    if open_assignment:
        return open_assignment
    for _ in range(5):
        try:
            return _claim(study=study, annotator=annotator)
        except IntegrityError:
            continue  # another request filled the item first; the constraint caught it, try the next
    return None


def _claim(*, study: Study, annotator) -> Assignment | None:
    with transaction.atomic():
        candidates = (
            ComparisonItem.objects.select_related("row").filter(study=study, assigned_count__lt=F("capacity"))
            .exclude(assignments__annotator=annotator)
            .order_by("-is_shared", "assigned_count", "order_key")
        )
        if connection.features.has_select_for_update_skip_locked:
            candidates = candidates.select_for_update(skip_locked=True, of=("self",))
        item = candidates.first()
        if item is None:
            return None
        assignment = Assignment.objects.create(item=item, annotator=annotator, shown_at=timezone.now())
        ComparisonItem.objects.filter(pk=item.pk).update(assigned_count=F("assigned_count") + 1)
        assignment.item = item
        return assignment


@dataclass(frozen=True)
class Recorded:
    created: bool
    verdict: str


def _assignment_for(study: Study, item_public_id, annotator) -> Assignment:
    try:
        assignment = Assignment.objects.select_related("item").get(
            item__study=study, item__public_id=item_public_id, annotator=annotator
        )
    except (Assignment.DoesNotExist, ValidationError):
        raise PermissionDenied("this item is not assigned to you") from None
    assignment.item.study = study
    return assignment


def _complete(assignment: Assignment, now) -> None:
    """Close the assignment after the verdict is stored. Were this lost (a crash in between), the
    item would come back to the annotator, whose resubmit finds the stored verdict and closes it."""
    Assignment.objects.filter(pk=assignment.pk, completed_at__isnull=True).update(completed_at=now)


def _store_once(model, *, item, annotator, values: dict):
    """Insert the verdict, or return the stored one: (item, annotator) is unique, so a concurrent
    or repeated submit can never write a second row."""
    try:
        if connection.in_atomic_block:  # keep the caller's transaction usable if the insert conflicts
            with transaction.atomic():
                return model.objects.create(item=item, annotator=annotator, **values), True
        return model.objects.create(item=item, annotator=annotator, **values), True  # one statement: atomic by itself
    except IntegrityError:
        return model.objects.get(item=item, annotator=annotator), False


def _seconds(assignment: Assignment, now) -> float | None:
    started = assignment.shown_at or assignment.assigned_at
    return round((now - started).total_seconds(), 2) if started else None


def record_judgment(*, study: Study, item_public_id, annotator, side: str, reason: str = "") -> Recorded:
    """Store one pairwise verdict; a repeated submit (double click, retry, stale tab) returns the stored one."""
    if side not in SIDES:
        raise ValidationError({"side": "choose A, B or neither"})
    _check_open(study, annotator)
    assignment = _assignment_for(study, item_public_id, annotator)
    item = assignment.item
    if item.study.kind != Study.Kind.PAIRWISE:
        raise ValidationError("this study rates single responses")
    if side == "tie":
        verdict = Verdict.TIE
    else:
        verdict = Verdict.TARGET if (side == "a") == item.target_is_a else Verdict.BASELINE
    now = timezone.now()
    judgment, created = _store_once(Judgment, item=item, annotator=annotator, values={
        "verdict": verdict, "side": side, "reason": reason.strip()[:5000], "seconds": _seconds(assignment, now),
    })
    _complete(assignment, now)
    return Recorded(created=created, verdict=judgment.verdict)


def record_rating(*, study: Study, item_public_id, annotator, grade: str, reason: str = "") -> Recorded:
    if grade not in Rating.Grade.values:
        raise ValidationError({"grade": "choose Fail, Pass or Excellent"})
    _check_open(study, annotator)
    assignment = _assignment_for(study, item_public_id, annotator)
    item = assignment.item
    if item.study.kind != Study.Kind.ABSOLUTE:
        raise ValidationError("this study compares two responses")
    now = timezone.now()
    rating, created = _store_once(Rating, item=item, annotator=annotator, values={
        "grade": grade, "reason": reason.strip()[:5000], "seconds": _seconds(assignment, now),
    })
    _complete(assignment, now)
    return Recorded(created=created, verdict=rating.grade)


def undo_last(*, study: Study, annotator) -> bool:
    """Take back the annotator's latest verdict within UNDO_WINDOW; the item comes back to them next."""
    _check_open(study, annotator)
    cutoff = timezone.now() - UNDO_WINDOW
    model = Judgment if study.kind == Study.Kind.PAIRWISE else Rating
    with transaction.atomic():
        last = (
            model.objects.select_for_update().filter(item__study=study, annotator=annotator, created_at__gte=cutoff)
            .order_by("-created_at", "-id").first()
        )
        if last is None:
            return False
        Assignment.objects.filter(item_id=last.item_id, annotator=annotator).update(completed_at=None, shown_at=timezone.now())
        last.delete()
    return True
