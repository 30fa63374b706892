"""Authoring services: optimistic locking, history, submit, review, and who sees what."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from annotation import selectors
from annotation.models import Example, ExampleRevision, Status
from annotation.services.examples import (
    EditConflict, ExampleDraft, TurnInput, review_example, save_example, submit_example,
)
from tests.builders import example

pytestmark = pytest.mark.django_db


def draft(*texts, split="train", source="authored", title=""):
    return ExampleDraft(split=split, source=source, title=title,
                        turns=[TurnInput("user" if i % 2 == 0 else "assistant", t) for i, t in enumerate(texts)])


def test_second_save_on_a_stale_version_is_a_conflict_with_both_versions(author, researcher):
    item = example(user=author)
    save_example(example_id=item.pk, user=author, expected_version=1, draft=draft("Mine?", "My answer."))
    with pytest.raises(EditConflict) as caught:
        save_example(example_id=item.pk, user=researcher, expected_version=1, draft=draft("Theirs?", "Their answer."))
    conflict = caught.value
    assert conflict.current.version == 2
    assert conflict.current_snapshot["turns"][0]["text"] == "Mine?"
    assert conflict.submitted.turns[0].text == "Theirs?"
    assert [t.text for t in Example.objects.get(pk=item.pk).turns.all()] == ["Mine?", "My answer."]


def test_keeping_mine_after_a_conflict_saves_on_the_current_version_and_history_keeps_theirs(author, researcher):
    item = example(user=author)
    save_example(example_id=item.pk, user=author, expected_version=1, draft=draft("Mine?", "Mine."))
    save_example(example_id=item.pk, user=researcher, expected_version=2, draft=draft("Theirs?", "Theirs."))
    snapshots = [r.snapshot["turns"][0]["text"] for r in ExampleRevision.objects.filter(example=item).order_by("version")]
    assert snapshots == ["A prompt?", "Mine?", "Theirs?"]


def test_autosaves_by_one_person_coalesce_into_one_history_entry(author):
    item = example(user=author)
    for version, text in enumerate(["a", "ab", "abc"], start=1):
        save_example(example_id=item.pk, user=author, expected_version=version, draft=draft(text + "?", "x"))
    revisions = list(ExampleRevision.objects.filter(example=item).order_by("version"))
    assert [(r.action, r.version) for r in revisions] == [("created", 1), ("edited", 4)]
    assert revisions[-1].snapshot["turns"][0]["text"] == "abc?"


def test_submit_needs_alternating_non_empty_turns_ending_with_the_response(author):
    item = example(user=author)
    with pytest.raises(ValidationError) as caught:
        submit_example(example_id=item.pk, user=author, expected_version=1, draft=draft("Only a prompt?"))
    assert "turns" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        submit_example(example_id=item.pk, user=author, expected_version=1, draft=draft("Q?", ""))
    assert "turn-1" in caught.value.message_dict
    assert Example.objects.get(pk=item.pk).status == Status.DRAFT


def test_three_turn_test_prompt_dialogue_can_be_submitted(test_author):
    item = example(user=test_author, split="test", turns=("Q?",))
    submitted = submit_example(example_id=item.pk, user=test_author, expected_version=1,
                               draft=draft("Q?", "A.", "And then?", split="test"))
    assert submitted.status == Status.SUBMITTED and submitted.is_multi_turn


def test_reviewer_cannot_approve_their_own_example(make_user):
    writer = make_user("author", group="A")
    item = example(user=writer, status=Status.SUBMITTED)
    with pytest.raises(PermissionDenied):
        review_example(example_id=item.pk, reviewer=writer, expected_version=item.version, approve=True)


def test_reject_needs_a_comment_and_sends_the_example_back(author, researcher):
    item = example(user=author, status=Status.SUBMITTED)
    with pytest.raises(ValidationError):
        review_example(example_id=item.pk, reviewer=researcher, expected_version=item.version, approve=False)
    rejected = review_example(example_id=item.pk, reviewer=researcher, expected_version=item.version, approve=False,
                              comment="Open by addressing the question.")
    assert rejected.status == Status.REJECTED and rejected.reviewed_by == researcher
    edited = save_example(example_id=item.pk, user=author, expected_version=rejected.version, draft=draft("Q?", "Better."))
    assert edited.status == Status.DRAFT


def test_author_cannot_edit_a_submitted_example_but_a_reviewer_can(author, make_user):
    reviewer = make_user("author", group="A")
    item = example(user=author, status=Status.SUBMITTED)
    with pytest.raises(PermissionDenied):
        save_example(example_id=item.pk, user=author, expected_version=item.version, draft=draft("Q?", "A."))
    saved = save_example(example_id=item.pk, user=reviewer, expected_version=item.version, draft=draft("Q?", "Edited."))
    assert saved.status == Status.SUBMITTED


def test_blind_test_authors_never_see_training_responses(author, test_author, researcher, settings):
    settings.LIMA_BLIND_TEST_AUTHORS = True
    train = example(user=author, status=Status.SUBMITTED)
    test = example(user=test_author, split="test", turns=("Q?",), status=Status.SUBMITTED)
    assert list(selectors.visible_examples(test_author)) == [test]
    assert list(selectors.visible_examples(author)) == [train]
    assert set(selectors.visible_examples(researcher)) == {train, test}
    settings.LIMA_BLIND_TEST_AUTHORS = False
    assert set(selectors.visible_examples(test_author)) == {train, test}


def test_annotators_see_no_examples(annotator, author):
    example(user=author)
    assert not selectors.visible_examples(annotator).exists()


def test_one_tab_overtaking_itself_is_not_a_conflict_but_another_tab_is(author):
    item = example(user=author)
    save_example(example_id=item.pk, user=author, expected_version=1, draft=draft("Q1?", "A1."), edit_session="tab1")
    # The same tab's next request still carries version 1 (sent before the first answer came back).
    saved = save_example(example_id=item.pk, user=author, expected_version=1, draft=draft("Q2?", "A2."), edit_session="tab1")
    assert saved.version == 3 and [t.text for t in saved.turns.all()] == ["Q2?", "A2."]
    with pytest.raises(EditConflict):
        save_example(example_id=item.pk, user=author, expected_version=1, draft=draft("Q3?", "A3."), edit_session="tab2")
