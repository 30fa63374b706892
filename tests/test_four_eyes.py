"""Four eyes on the text as it stands: a reviewer who edits a submission cannot approve their own version,
another reviewer can; the example page says who wrote and who changed what."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotation.models import Example, Status
from annotation.services.examples import ApprovalNeedsAnotherReviewer, ExampleDraft, TurnInput, review_example, save_example
from tests.builders import example

pytestmark = pytest.mark.django_db


def draft(*texts: str) -> ExampleDraft:
    return ExampleDraft(split="train", source="authored",
                        turns=[TurnInput("user" if i % 2 == 0 else "assistant", text) for i, text in enumerate(texts)])


@pytest.fixture
def reviewers(make_user):
    return make_user("author", group="A", username="reviewer_r"), make_user("author", group="A", username="reviewer_s")


def submitted(author) -> Example:
    return example(user=author, status=Status.SUBMITTED, turns=("How do I boil an egg?", "Put it in boiling water."))


def test_a_reviewer_who_edited_the_submission_cannot_approve_it_but_another_can(author, reviewers):
    editor, other = reviewers
    item = submitted(author)
    edited = save_example(example_id=item.pk, user=editor, expected_version=item.version,
                          draft=draft("How do I boil an egg?", "Boil it for nine minutes, then cool it."))
    assert edited.text_edited_by == editor and edited.created_by == author
    with pytest.raises(ApprovalNeedsAnotherReviewer):
        review_example(example_id=item.pk, reviewer=editor, expected_version=edited.version, approve=True)
    assert Example.objects.get(pk=item.pk).status == Status.SUBMITTED
    approved = review_example(example_id=item.pk, reviewer=other, expected_version=edited.version, approve=True)
    assert approved.status == Status.APPROVED and approved.reviewed_by == other


def test_the_editing_reviewer_may_still_reject(author, reviewers):
    editor, _ = reviewers
    item = submitted(author)
    edited = save_example(example_id=item.pk, user=editor, expected_version=item.version, draft=draft("Q?", "Edited."))
    rejected = review_example(example_id=item.pk, reviewer=editor, expected_version=edited.version, approve=False,
                              comment="I shortened it; the author should check.")
    assert rejected.status == Status.REJECTED


def test_a_save_that_changes_nothing_keeps_the_author_as_text_editor(author, reviewers):
    reviewer, _ = reviewers
    item = submitted(author)
    saved = save_example(example_id=item.pk, user=reviewer, expected_version=item.version,
                         draft=draft("How do I boil an egg?", "Put it in boiling water."))
    assert saved.text_edited_by == author
    approved = review_example(example_id=item.pk, reviewer=reviewer, expected_version=saved.version, approve=True)
    assert approved.status == Status.APPROVED


def test_the_page_says_who_wrote_what_and_refuses_the_editors_approval(client, author, reviewers):
    editor, other = reviewers
    item = submitted(author)
    edited = save_example(example_id=item.pk, user=editor, expected_version=item.version,
                          draft=draft("How do I boil an egg?", "Boil it for nine minutes."))
    client.force_login(editor)
    page = client.get(reverse("annotation:example_detail", args=[item.pk])).content.decode()
    assert "written by author_a" in page and "last changed by reviewer_r" in page
    assert page.count('class="muted turn-writer">by author_a<') == 1 and page.count('class="muted turn-writer">by reviewer_r<') == 1
    assert 'id="approve"' not in page and "another reviewer has to approve it" in page
    response = client.post(reverse("annotation:review_decide", args=[item.pk]),
                           {"version": edited.version, "decision": "approve", "comment": ""}, follow=True)
    assert "another reviewer has to approve it" in response.content.decode()
    assert Example.objects.get(pk=item.pk).status == Status.SUBMITTED

    client.force_login(other)
    assert 'id="approve"' in client.get(reverse("annotation:example_detail", args=[item.pk])).content.decode()
    queue = client.get(reverse("annotation:review_queue")).content.decode()
    assert "<td>reviewer_r</td>" in queue
    client.post(reverse("annotation:review_decide", args=[item.pk]), {"version": edited.version, "decision": "approve", "comment": ""})
    assert Example.objects.get(pk=item.pk).status == Status.APPROVED
    page = client.get(reverse("annotation:example_detail", args=[item.pk])).content.decode()
    assert "Approved by reviewer_s" in page
