"""Claims that wait for each other (PostgreSQL row locks): no deadlock costs a verdict or an error page.

The burst test (tests/test_judging.py, twelve annotators at once) once ended with "deadlock detected ... while
locking tuple in relation evaluation_comparisonitem". When SKIP LOCKED finds no free item, a claim waits for a
locked one; if the holder waits for this transaction in turn, PostgreSQL ends one of them. Here the two cycles a
verdict can close are built on purpose, two annotators each holding the item the other needs:

- storing a verdict takes a key-share lock on its item (the foreign key), which a claim taken FOR UPDATE waited
  for: a claim now takes FOR NO KEY UPDATE, so verdicts and claims do not wait for each other at all;
- a lock a claim must wait for (here: an update of the item in the same transaction as the verdict, as adaptive
  overlap makes) ends in PostgreSQL's deadlock error; the claim's savepoint is rolled back, the verdict is kept,
  and the annotator gets the item on the next claim.

PostgreSQL only: SQLite has no row locks (one writer at a time).
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from annotation.evaluation.models import Assignment, ComparisonItem, Judgment
from annotation.evaluation.services import judging
from tests.builders import pairwise_study

pytestmark = pytest.mark.django_db(transaction=True)


def crossed_study(researcher, make_user):
    """Two shared items X and Y (room for both annotators); A holds X, B holds Y: each one's next item is the other's."""
    first, second = make_user("annotator", username="cross-a"), make_user("annotator", username="cross-b")
    study = pairwise_study(researcher=researcher, annotators=[first, second], prompts=2, baselines=("davinci-003",),
                           agreement_subset=2, name="crossed")
    x, y = study.items.order_by("order_key")
    assert x.capacity == y.capacity == 2 and x.row_id != y.row_id
    for annotator, item in ((first, x), (second, y)):
        Assignment.objects.create(item=item, annotator=annotator, study=study, prompt_row_id=item.row_id, shown_at=timezone.now())
    ComparisonItem.objects.filter(pk__in=[x.pk, y.pk]).update(assigned_count=1)
    return study, [(first, x, y), (second, y, x)]


def run_crossed(study, crossing, hold_own_item) -> tuple[dict, list[str]]:
    """Each annotator, in one transaction: `hold_own_item` on the item they hold, then (once both have) a claim."""
    barrier = threading.Barrier(len(crossing), timeout=30)
    claimed, errors = {}, []

    def work(annotator, own, _other):
        try:
            with transaction.atomic():
                hold_own_item(annotator, own)
                barrier.wait()
                assignment = judging.current_assignment(study=study, annotator=annotator)
                claimed[annotator.username] = assignment.item_id if assignment else None
        except Exception as exc:  # surfaced below
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=entry) for entry in crossing]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a claim is still waiting"
    return claimed, errors


def test_a_verdict_and_a_claim_in_one_transaction_do_not_wait_for_each_other(researcher, make_user):
    study, crossing = crossed_study(researcher, make_user)

    def judge(annotator, own):
        judging.record_judgment(study=study, item_public_id=own.public_id, annotator=annotator, side="a")

    claimed, errors = run_crossed(study, crossing, judge)
    assert not errors, errors
    # Each got the other's item at once: no claim waited for a verdict's key-share lock, none was sent away empty.
    assert claimed == {annotator.username: other.pk for annotator, _, other in crossing}, claimed
    assert Judgment.objects.filter(item__study=study).count() == 2
    assert sorted(ComparisonItem.objects.filter(study=study).values_list("assigned_count", flat=True)) == [2, 2]


def test_a_claim_ended_by_a_deadlock_keeps_the_verdict_and_claims_again(researcher, make_user):
    study, crossing = crossed_study(researcher, make_user)

    def judge_and_widen(annotator, own):
        judging.record_judgment(study=study, item_public_id=own.public_id, annotator=annotator, side="a")
        ComparisonItem.objects.filter(pk=own.pk).update(capacity=F("capacity"))  # a row lock, as adaptive overlap takes

    claimed, errors = run_crossed(study, crossing, judge_and_widen)
    assert not errors, errors  # PostgreSQL's "deadlock detected" reached the caller before
    # One claim was the deadlock's victim: no item this time, the other annotator got theirs once the victim committed.
    assert list(claimed.values()).count(None) == 1, claimed
    assert Judgment.objects.filter(item__study=study).count() == 2  # both verdicts kept, the victim's too
    for annotator, _, other in crossing:
        assignment = judging.current_assignment(study=study, annotator=annotator)
        assert assignment is not None and assignment.item_id == other.pk
    assert sorted(ComparisonItem.objects.filter(study=study).values_list("assigned_count", flat=True)) == [2, 2]
