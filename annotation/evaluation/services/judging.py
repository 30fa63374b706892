"""Writes for blind judging: build a study's items, hand out assignments, record verdicts and ratings.

Assignment is correct under concurrency because the database enforces it: an item row is
locked (SKIP LOCKED, so concurrent annotators take different items instead of waiting), its
`assigned_count` may never exceed `capacity` (a check constraint), and (item, annotator) is
unique for assignments, judgments and ratings. A double submit returns the stored verdict.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.utils import timezone

from annotation.evaluation.models import Assignment, ComparisonItem, Judgment, Rating, Study, Verdict
from annotation.evaluation.scrub import scrub_self_identification, still_self_identifying
from annotation.evaluation.stats.bradley_terry import balanced_pairs
from annotation.rendering import render_markdown
from generation.models import GenerationRun, ModelSpec, Response
from lima_site import sql
from lima_site.conflicts import Conflict

UNDO_WINDOW = timedelta(seconds=60)
SIDES = {"a", "b", "tie"}


class StudyClosed(Conflict):
    """The study does not take judgments now."""


def _responses_by_row(run: GenerationRun) -> dict[int, Response]:
    return {r.row_id: r for r in Response.objects.filter(run=run, error="")}


def _model_names() -> set[str]:
    """Every registered model's name and served name: the scrubber finds them however they are written."""
    names = ModelSpec.objects.values_list("name", "served_model_name")
    return {name for pair in names for name in pair if name}


@dataclass(frozen=True)
class _Plan:
    """One item to build: the target's response against a baseline's (pairwise), alone (absolute), or an attention check."""

    target: Response
    baseline: Response | None = None
    run: GenerationRun | None = None
    check: str = ""

    @property
    def row_id(self) -> int:
        return self.target.row_id


def _tournament_plans(study: Study) -> list[_Plan]:
    """Every pair of the study's runs (balanced: each run first as often as second) on every prompt both answered.
    In a tournament an item's "target" is just the pair's first run: the verdict is read as which run won."""
    runs = [study.target_run, *study.baseline_runs.order_by("pk")]
    for run in runs:
        if run.dataset_id != study.dataset_id:
            raise ValidationError({"baseline_runs": "every run must be over the study's prompt snapshot"})
    if len({run.pk for run in runs}) < 2:
        raise ValidationError({"baseline_runs": "a tournament needs at least two runs"})
    responses = {run.pk: _responses_by_row(run) for run in runs}
    plans = []
    for first, second in balanced_pairs(runs):
        plans += [_Plan(responses[first.pk][row_id], response, second) for row_id, response in sorted(responses[second.pk].items())
                  if row_id in responses[first.pk]]
    return plans


def _rated_plans(study: Study, rng: secrets.SystemRandom) -> list[_Plan]:
    """Single responses to rate. Absolute: a random sample of the target's. Safety: every response of every run
    (target and baselines) to the snapshot's sensitive prompts, so the safe share is reported per model."""
    if study.kind == Study.Kind.SAFETY:
        runs = [study.target_run, *study.baseline_runs.order_by("pk")]
        plans = [_Plan(response) for run in runs for response in
                 Response.objects.filter(run=run, error="", row__is_sensitive=True, row__dataset_id=study.dataset_id).order_by("row__position")]
        if not plans:
            raise ValidationError("no sensitive prompt in the snapshot has a response: flag the sensitive test prompts (the "
                                  "example's “Sensitive prompt” box) and freeze the snapshot again")
        return plans
    target = _responses_by_row(study.target_run)
    sample = sorted(target)
    rng.shuffle(sample)
    return [_Plan(target[row_id]) for row_id in sorted(sample[: study.absolute_sample])]


def _comparison_plans(study: Study, rng: secrets.SystemRandom) -> list[_Plan]:
    if study.kind == Study.Kind.TOURNAMENT:
        return _tournament_plans(study)
    if not study.compares_pairs:
        return _rated_plans(study, rng)
    target = _responses_by_row(study.target_run)
    baselines = list(study.baseline_runs.all())
    if not baselines:
        raise ValidationError({"baseline_runs": "a pairwise study needs at least one baseline run"})
    plans = []
    for run in baselines:
        if run.dataset_id != study.dataset_id or study.target_run.dataset_id != study.dataset_id:
            raise ValidationError({"baseline_runs": "every run must be over the study's prompt snapshot"})
        plans += [_Plan(target[row_id], response, run) for row_id, response in sorted(_responses_by_row(run).items()) if row_id in target]
    return plans


def _with_attention_checks(plans: list[_Plan], count: int, rng: secrets.SystemRandom) -> list[_Plan]:
    """Turn `count` prompts into attention checks; their comparisons are not built, so no annotator meets the
    target's response to such a prompt in a real item (it would then know which side the target is on)."""
    rows = sorted({plan.row_id for plan in plans})
    if count >= len(rows):
        raise ValidationError({"attention_checks": f"at most {len(rows) - 1} here: every check uses up one of the {len(rows)} prompts"})
    chosen = set(rng.sample(rows, count))
    checks = {}
    for plan in plans:
        if plan.row_id in chosen and plan.row_id not in checks:
            # A shuffle of at least 4 distinct words differs from the original (20 tries: certain in practice).
            kind = "broken" if len(checks) % 2 and len(set(plan.target.text.split())) >= 4 else "identical"
            checks[plan.row_id] = _Plan(plan.target, check=kind)
    return [plan for plan in plans if plan.row_id not in chosen] + list(checks.values())


def _shared_positions(plans: list[_Plan], order: list[int], subset: int, *, one_prompt: bool) -> set[int]:
    """Which plans form the agreement subset: the first `subset` comparisons in serving order, one per prompt when
    annotators see each prompt once (everyone judges the shared items, so two of one prompt would clash)."""
    shared: set[int] = set()
    rows: set[int] = set()
    for position in sorted(range(len(plans)), key=order.__getitem__):
        if len(shared) == subset:
            break
        if plans[position].check or (one_prompt and plans[position].row_id in rows):
            continue
        shared.add(position)
        rows.add(plans[position].row_id)
    return shared


def _item(study: Study, plan: _Plan, *, order_key: int, shared: bool, pool: int, names: set[str],
          rng: secrets.SystemRandom) -> ComparisonItem:
    target_text, target_changes = scrub_self_identification(plan.target.text, model_names=names)
    baseline_text, baseline_changes = "", []
    if plan.baseline:
        baseline_text, baseline_changes = scrub_self_identification(plan.baseline.text, model_names=names)
    elif plan.check == "identical":
        baseline_text = target_text
    elif plan.check == "broken":
        original = target_text.split()
        words = list(original)
        for _ in range(20):
            rng.shuffle(words)
            if words != original:
                break
        baseline_text = " ".join(words)
    target_is_a = bool(rng.getrandbits(1)) if baseline_text else True
    text_a, text_b = (target_text, baseline_text) if target_is_a else (baseline_text, target_text)
    changes_a, changes_b = (target_changes, baseline_changes) if target_is_a else (baseline_changes, target_changes)
    everyone = shared or bool(plan.check)
    return ComparisonItem(
        study=study, row_id=plan.row_id, target_response=plan.target, baseline_response=plan.baseline, baseline_run=plan.run,
        target_is_a=target_is_a, text_a=text_a, text_b=text_b,
        scrubbed=[{"side": "a", **c.as_dict()} for c in changes_a] + [{"side": "b", **c.as_dict()} for c in changes_b],
        held=not plan.check and (still_self_identifying(text_a) or still_self_identifying(text_b)),
        attention_check=plan.check, gold_verdict={"identical": Verdict.TIE, "broken": Verdict.TARGET}.get(plan.check, ""),
        is_shared=shared, capacity=max(pool, study.overlap) if everyone else study.overlap, order_key=order_key,
    )


def prompt_html(conversations: list[str]) -> str:
    """The prompt's turns as a judging page shows them (sanitised HTML)."""
    return render_to_string("evaluation/partials/prompt_turns.html", {"conversations": conversations})


def render_shown_html(items: list[ComparisonItem], conversations: dict[int, list[str]]) -> None:
    """Fill each item's HTML from its texts, once, when the items are built: every page that shows the item
    afterwards inserts it as it is (the texts never change once built). `conversations`: row id -> turns."""
    prompts: dict[int, str] = {}
    for item in items:
        if item.row_id not in prompts:
            prompts[item.row_id] = prompt_html(conversations[item.row_id])
        item.prompt_html = prompts[item.row_id]
        item.html_a = render_markdown(item.text_a)
        item.html_b = render_markdown(item.text_b) if item.text_b else ""


def build_items(*, study: Study) -> int:
    """Create the study's items once: sides and serving order drawn per item from a cryptographic source
    and stored, text scrubbed, and rendered to sanitised HTML once for every page that will show it.

    Nothing an annotator sees can replay them: there is no seed behind them (`secrets.SystemRandom`
    reads the operating system's entropy), so reproducing a study means reading its stored items
    or its export. Pairwise: one item per (prompt, baseline) where both models have a response, plus
    `attention_checks` checks. Absolute: a random sample of `absolute_sample` target responses. The
    first `agreement_subset` comparisons in serving order are shared: every annotator in the pool
    judges them. When each annotator sees a prompt once (the default), the shared items are of
    distinct prompts and a shared prompt's items against the other baselines are not built: nobody
    in the pool could be given them.
    """
    if study.items.exists():
        raise ValidationError("the study's items are already built; they never change once built")
    rng = secrets.SystemRandom()
    plans = _comparison_plans(study, rng)
    if not plans:
        raise ValidationError("no prompt has responses from the compared runs")
    if study.attention_checks and study.compares_pairs:
        plans = _with_attention_checks(plans, study.attention_checks, rng)
    order = list(range(len(plans)))
    rng.shuffle(order)
    shared_positions = _shared_positions(plans, order, study.agreement_subset, one_prompt=study.one_prompt_per_annotator)
    if study.one_prompt_per_annotator:
        # Everyone judges a shared item, so nobody may see another item of its prompt: those are not built.
        shared_rows = {plans[position].row_id for position in shared_positions}
        keep = [p for p in range(len(plans)) if p in shared_positions or plans[p].row_id not in shared_rows]
        ranks = {old: rank for rank, old in enumerate(sorted(keep, key=order.__getitem__))}  # serving order, without gaps
        shared_positions = {index for index, old in enumerate(keep) if old in shared_positions}
        plans, order = [plans[p] for p in keep], [ranks[p] for p in keep]
    pool = max(study.annotators.count(), 1)
    names = _model_names()
    items = [_item(study, plan, order_key=order_key, shared=position in shared_positions, pool=pool, names=names, rng=rng)
             for position, (plan, order_key) in enumerate(zip(plans, order))]
    render_shown_html(items, dict(study.dataset.rows.values_list("pk", "conversations")))
    ComparisonItem.objects.bulk_create(items, batch_size=1000)
    return len(items)


def open_study(*, study: Study) -> Study:
    """Build the items (once) and open the study, unless items are held for a researcher's decision:
    then the items stay built and the study stays closed to annotators until each is released or dropped."""
    with transaction.atomic():
        if not study.items.exists():
            build_items(study=study)
    held = study.items.filter(held=True).count()
    if held:
        raise ValidationError(f"{held} item{'s' if held != 1 else ''} still look{'s' if held == 1 else ''} self-identifying after "
                              "scrubbing: show each as it is or drop it (Scrubbed text), then open the study.", code="held")
    with transaction.atomic():
        if study.seed is None:  # the bootstrap's seed only; drawn so that no study shares a default
            study.seed = secrets.randbits(48)
        Study.objects.filter(pk=study.pk).update(state=Study.State.OPEN, seed=study.seed)
    study.refresh_from_db()
    return study


def set_exclusion(*, study: Study, annotator_id: int, reason: str, by) -> Study:
    """Leave an annotator out of the study's statistics (reason given), or put them back (empty reason).
    Their verdicts stay stored and exported; the report says who was left out and why."""
    reason = " ".join(reason.split())[:300]
    with transaction.atomic():
        locked = Study.objects.select_for_update().get(pk=study.pk)
        if reason and not (Judgment.objects.filter(item__study=locked, annotator_id=annotator_id).exists()
                           or Rating.objects.filter(item__study=locked, annotator_id=annotator_id).exists()):
            raise ValidationError("this annotator gave no verdict in the study")
        entries = [entry for entry in locked.exclusions if entry["user_id"] != annotator_id]
        if reason:
            entries.append({"user_id": annotator_id, "reason": reason, "by": by.username, "at": timezone.now().isoformat()})
        locked.exclusions = entries
        locked.save(update_fields=["exclusions"])
    return locked


def decide_held_item(*, study: Study, item_id: int, release: bool) -> None:
    """A researcher's decision on a held item: show it as it is, or leave it out of the study."""
    if study.state != Study.State.DRAFT:
        raise ValidationError("items are decided before the study opens")
    with transaction.atomic():
        item = ComparisonItem.objects.select_for_update().filter(study=study, pk=item_id, held=True).first()
        if item is None:
            raise ValidationError("this item is not held (already decided?)")
        if release:
            ComparisonItem.objects.filter(pk=item.pk).update(held=False)
        else:
            item.delete()


def close_study(*, study: Study) -> Study:
    Study.objects.filter(pk=study.pk).update(state=Study.State.CLOSED)
    study.refresh_from_db()
    return study


def _check_open(study: Study, annotator) -> None:
    if study.state != Study.State.OPEN:
        raise StudyClosed(f"this study is {study.get_state_display().lower()}; it takes no judgments now")
    # Membership is checked once per study instance (one request), not before every step; the judging views'
    # selector (selectors.study_for_judging) reads it together with the study and marks a member as checked.
    checked = study.__dict__.setdefault("_members_checked", set())
    if annotator.pk in checked:
        return
    if not study.annotators.filter(pk=annotator.pk).exists():
        raise PermissionDenied("you are not in this study's annotator pool")
    checked.add(annotator.pk)


@cache
def _assignment_with_item_sql(vendor: str, where: str) -> str:
    """An assignment and its item, one row each: the open one (`where` ends in ORDER BY/LIMIT) or the one judged."""
    del vendor  # the cache key: the SQL is written for the connection's database
    return (f"SELECT {sql.columns(Assignment, 'a')}, {sql.columns(ComparisonItem, 'i')} "
            f"FROM {sql.table(Assignment)} a JOIN {sql.table(ComparisonItem)} i ON i.id = a.item_id WHERE {where}")


_OPEN = "i.study_id = %s AND a.annotator_id = %s AND a.completed_at IS NULL ORDER BY a.assigned_at, a.id LIMIT 1"
_JUDGED = "i.study_id = %s AND i.public_id = %s AND a.annotator_id = %s"


@cache
def _claim_sql(vendor: str, one_prompt_per_annotator: bool, lock: str) -> str:
    """The next item for an annotator: room left, not theirs already (nor, in a one-prompt study, a prompt they
    were handed), shared items first, then the least assigned, then the stored random order (item_claim_rows_idx)."""
    del vendor
    assignments = sql.table(Assignment)
    # A probe of the unique (study, prompt_row, annotator) index per item passed over; `NOT IN (subquery)` had SQLite
    # build the annotator's whole list of prompts first, on every claim (0.49 -> 0.07 ms at 1,118 verdicts).
    seen = (f" AND NOT EXISTS (SELECT 1 FROM {assignments} s WHERE s.study_id = %s AND s.prompt_row_id = i.row_id "
            "AND s.annotator_id = %s)") if one_prompt_per_annotator else ""
    return (f"SELECT {sql.columns(ComparisonItem, 'i')} FROM {sql.table(ComparisonItem)} i "
            "WHERE i.assigned_count < i.capacity AND i.study_id = %s "
            f"AND NOT EXISTS (SELECT 1 FROM {assignments} m WHERE m.annotator_id = %s AND m.item_id = i.id){seen} "
            f"ORDER BY i.is_shared DESC, i.assigned_count, i.order_key LIMIT 1{lock}")


def _assignment_with_item(row) -> Assignment:
    assignment = sql.instance(Assignment, row)
    assignment.item = sql.instance(ComparisonItem, row, sql.width(Assignment))
    return assignment


def current_assignment(*, study: Study, annotator) -> Assignment | None:
    """The item this annotator has open (assigned, not yet judged), or a newly claimed one; None when done."""
    _check_open(study, annotator)
    rows = sql.fetch(_assignment_with_item_sql(connection.vendor, _OPEN), [study.pk, annotator.pk])
    if rows:
        return _assignment_with_item(rows[0])
    inside_a_transaction = connection.in_atomic_block
    for _ in range(5):
        try:
            return _claim(study=study, annotator=annotator)
        except IntegrityError:
            continue  # another request filled the item first; the constraint caught it, try the next
        except OperationalError as exc:
            # The claim waited for an item whose holder waits for this transaction (PostgreSQL ended the claim's
            # savepoint after deadlock_timeout). Alone, a claim holds no other lock once rolled back: try again.
            # Inside a caller's transaction (a verdict and the next item), the caller's own locks are part of the
            # cycle: no item now; the verdict is kept, and the page claims again once it is committed.
            if not sql.is_deadlock(exc):
                raise
            if inside_a_transaction:
                return None
    return None


def _claim(*, study: Study, annotator) -> Assignment | None:
    params = [study.pk, annotator.pk] + ([study.pk, annotator.pk] if study.one_prompt_per_annotator else [])

    def candidates(lock: str) -> list[tuple]:
        return sql.fetch(_claim_sql(connection.vendor, study.one_prompt_per_annotator, lock), params)

    with transaction.atomic():
        if connection.features.has_select_for_update_skip_locked:
            # Skip items another annotator is claiming right now; when that leaves nothing, wait for their
            # locks instead, so "no item" always means none is left for this annotator (not "all busy").
            # FOR NO KEY UPDATE (what the UPDATE below takes anyway), not FOR UPDATE: a claim then does not wait
            # for the key-share locks that storing a verdict or an assignment takes on its item (foreign keys),
            # only for another claim or update of the same item.
            rows = candidates(" FOR NO KEY UPDATE OF i SKIP LOCKED") or candidates(" FOR NO KEY UPDATE OF i")
        else:
            rows = candidates("")
        if not rows:
            return None
        item = sql.instance(ComparisonItem, rows[0])
        now = timezone.now()
        fields = {"item_id": item.pk, "annotator_id": annotator.pk, "study_id": study.pk,
                  "prompt_row_id": item.row_id if study.one_prompt_per_annotator else None, "assigned_at": now, "shown_at": now}
        pk = sql.insert(Assignment, fields)  # a second claim of the item or prompt: IntegrityError, the caller tries again
        # Past capacity: IntegrityError (the item_not_over_filled check).
        sql.execute(f"UPDATE {sql.table(ComparisonItem)} SET assigned_count = assigned_count + 1 WHERE id = %s", [item.pk])
        assignment = Assignment(pk=pk, **fields)
        assignment._state.adding, assignment._state.db = False, connection.alias
        assignment.item = item
        return assignment


@dataclass(frozen=True)
class Recorded:
    created: bool
    verdict: str


def _assignment_for(study: Study, item_public_id, annotator) -> Assignment:
    try:
        rows = sql.fetch(_assignment_with_item_sql(connection.vendor, _JUDGED),
                         [study.pk, sql.db_value(ComparisonItem, "public_id", item_public_id), annotator.pk])
    except ValidationError:
        rows = []  # not an item id at all
    if not rows:
        raise PermissionDenied("this item is not assigned to you")
    assignment = _assignment_with_item(rows[0])
    assignment.item.study = study
    return assignment


def _complete(assignment: Assignment, now) -> None:
    """Close the assignment after the verdict is stored. Were this lost (a crash in between), the
    item would come back to the annotator, whose resubmit finds the stored verdict and closes it."""
    sql.execute(f"UPDATE {sql.table(Assignment)} SET completed_at = %s WHERE id = %s AND completed_at IS NULL",
                [sql.db_value(Assignment, "completed_at", now), assignment.pk])


def _store_once(model, answer: str, *, item, annotator, values: dict, now) -> tuple[str, bool]:
    """Insert the verdict unless (item, annotator) has one (the unique constraint) and return the stored answer: a
    concurrent or repeated submit never writes a second row, and the first verdict is the one kept."""
    row = {"item_id": item.pk, "annotator_id": annotator.pk, **values, "created_at": now}
    if sql.insert(model, row, unless_conflict_on=("item_id", "annotator_id")) is not None:
        return values[answer], True
    return model.objects.filter(item=item, annotator=annotator).values_list(answer, flat=True).get(), False


def _seconds(assignment: Assignment, now) -> float | None:
    started = assignment.shown_at or assignment.assigned_at
    return round((now - started).total_seconds(), 2) if started else None


def _widen_if_disagreed(study: Study, item: ComparisonItem, model, answer: str) -> None:
    """Adaptive overlap: once every annotator an item had room for has answered and they disagree, it takes
    one more annotator, up to the study's `max_overlap` (off at 0). Shared items and checks keep their size."""
    if study.max_overlap <= item.capacity or item.is_shared or item.attention_check:
        return
    answers = list(model.objects.filter(item=item).values_list(answer, flat=True))
    if len(answers) >= item.capacity and len(set(answers)) > 1:
        ComparisonItem.objects.filter(pk=item.pk, capacity=item.capacity).update(capacity=F("capacity") + 1)


def record_judgment(*, study: Study, item_public_id, annotator, side: str, reason: str = "") -> Recorded:
    """Store one pairwise verdict; a repeated submit (double click, retry, stale tab) returns the stored one."""
    if side not in SIDES:
        raise ValidationError({"side": "choose A, B or neither"})
    _check_open(study, annotator)
    assignment = _assignment_for(study, item_public_id, annotator)
    item = assignment.item
    if not item.study.compares_pairs:
        raise ValidationError("this study rates single responses")
    if side == "tie":
        verdict = Verdict.TIE
    else:
        verdict = Verdict.TARGET if (side == "a") == item.target_is_a else Verdict.BASELINE
    now = timezone.now()
    stored, created = _store_once(Judgment, "verdict", item=item, annotator=annotator, now=now, values={
        "verdict": verdict, "side": side, "reason": reason.strip()[:5000], "seconds": _seconds(assignment, now),
    })
    _complete(assignment, now)
    if created:
        _widen_if_disagreed(study, item, Judgment, "verdict")
    return Recorded(created=created, verdict=stored)


def record_rating(*, study: Study, item_public_id, annotator, grade: str, reason: str = "") -> Recorded:
    if study.compares_pairs:
        raise ValidationError("this study compares two responses")
    if grade not in dict(study.grades):
        raise ValidationError({"grade": "choose " + " or ".join(label for _, label in study.grades)})
    _check_open(study, annotator)
    assignment = _assignment_for(study, item_public_id, annotator)
    item = assignment.item
    now = timezone.now()
    stored, created = _store_once(Rating, "grade", item=item, annotator=annotator, now=now, values={
        "grade": grade, "reason": reason.strip()[:5000], "seconds": _seconds(assignment, now),
    })
    _complete(assignment, now)
    if created:
        _widen_if_disagreed(study, item, Rating, "grade")
    return Recorded(created=created, verdict=stored)


def record_and_claim_next(*, study: Study, item_public_id, annotator, choice: str, reason: str = "") -> tuple[Recorded, Assignment | None]:
    """One verdict as the judging page sends it (a side, or a grade in a rating study), and the item to show next,
    in one write transaction: one commit (one fsync, one SQLite write lock) per verdict instead of three. The
    claim is a savepoint inside it, so a verdict is stored whatever becomes of the claim; the next item is None
    when the annotator is done (or the claim lost every race: the page then claims again)."""
    with transaction.atomic():
        if study.compares_pairs:
            recorded = record_judgment(study=study, item_public_id=item_public_id, annotator=annotator, side=choice, reason=reason)
        else:
            recorded = record_rating(study=study, item_public_id=item_public_id, annotator=annotator, grade=choice, reason=reason)
        return recorded, current_assignment(study=study, annotator=annotator)


def undo_last(*, study: Study, annotator) -> bool:
    """Take back the annotator's latest verdict within UNDO_WINDOW; the item comes back to them next."""
    _check_open(study, annotator)
    cutoff = timezone.now() - UNDO_WINDOW
    model = Judgment if study.compares_pairs else Rating
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
