"""Examples at speed: the researchers' searchable list, bulk review under four eyes, approve-and-next, imported
submissions in the importer's own review queue, and undo in curation."""

from __future__ import annotations

import io
import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from annotation.models import Example, Status
from annotation.services import curation
from annotation.services.examples import BulkReviewRefused, bulk_review
from tests.builders import bulk_examples, example

pytestmark = pytest.mark.django_db


def listed(client, **query) -> set[int]:
    response = client.get(reverse("annotation:example_browse"), query)
    assert response.status_code == 200
    return {item.pk for item in response.context["page"].object_list}


def test_full_text_search_stems_words_and_reads_every_turn(client, researcher, author):
    packing = example(user=author, turns=("What should I pack for a week of hiking?", "Pack light: layers and a rain jacket."))
    later_turn = example(user=author, turns=("Any tips?", "Sure.", "And for camping?", "Bring a tent and cooking gear."))
    titled = example(user=author, title="Sourdough starters", turns=("How do I bake bread?", "Knead it."))
    example(user=author, turns=("How do tides work?", "The moon pulls the oceans."))
    client.force_login(researcher)
    assert listed(client, q="packing") == {packing.pk}  # stemmed: pack, packs, packing
    assert listed(client, q="tents") == {later_turn.pk}  # a later turn, plural
    assert listed(client, q="sourdough") == {titled.pk}
    assert listed(client, q='"rain jacket"') == {packing.pk}
    assert listed(client, q="pack -hiking") == set()
    assert listed(client, q="moon OR tent") == {later_turn.pk, Example.objects.get(turns__text__startswith="The moon").pk}


def test_filters_combine(client, researcher, author, make_user):
    other = make_user("author", group="A", username="other_author")
    wanted = example(user=author, split="dev", source="wikihow", status=Status.SUBMITTED, is_refusal=True, turns=("Prompt?",))
    example(user=other, split="dev", source="wikihow", status=Status.SUBMITTED, is_refusal=True, turns=("Another?",))
    example(user=author, split="dev", source="wikihow", status=Status.APPROVED, is_refusal=True, turns=("Third?",))
    dialogue = example(user=author, turns=("One?", "Two.", "Three?", "Four."))
    Example.objects.filter(pk=dialogue.pk).update(status=Status.CANDIDATE)
    client.force_login(researcher)
    assert listed(client, split="dev", source="wikihow", status="submitted", author="author_a", refusal="yes") == {wanted.pk}
    assert dialogue.pk not in listed(client)  # candidates belong to curation...
    assert listed(client, status="candidate", multi_turn="yes") == {dialogue.pk}  # ...unless asked for
    assert listed(client, refusal="no", status="candidate") == {dialogue.pk}
    assert listed(client, split="nonsense") == listed(client)  # an unknown value is no filter, never an error


def test_the_list_costs_the_same_queries_for_20_and_2000_examples(client, researcher, author):
    client.force_login(researcher)

    def queries(**query) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("annotation:example_browse"), query).status_code == 200
        return len(captured)

    bulk_examples(20, user=author, status=Status.SUBMITTED)
    small, small_search = queries(), queries(q="prompt", status="submitted")
    bulk_examples(1980, user=author, status=Status.SUBMITTED, source="wikihow")
    assert queries() == small and queries(q="prompt", status="submitted") == small_search
    assert small <= 10


def picks(*examples) -> dict[int, int]:
    return {item.pk: item.version for item in examples}


def test_bulk_approve_is_all_or_nothing_and_keeps_four_eyes(client, researcher, author, make_user):
    mine = example(user=researcher, status=Status.SUBMITTED, turns=("Mine?", "Yes."))
    theirs = [example(user=author, status=Status.SUBMITTED, turns=(f"Theirs {i}?", "Yes.")) for i in range(3)]
    client.force_login(researcher)
    data = {"decision": "approve", "pick": [f"{e.pk}:{e.version}" for e in [*theirs, mine]], "comment": ""}
    response = client.post(reverse("annotation:example_bulk_review"), data)
    assert response.status_code == 422
    refusals = re.findall(r'<li data-example="(\d+)">(.*?)</li>', response.content.decode())
    assert [(int(pk), "you cannot review it (your own example" in text) for pk, text in refusals] == [(mine.pk, True)]
    assert set(Example.objects.filter(pk__in=[e.pk for e in theirs]).values_list("status", flat=True)) == {Status.SUBMITTED}
    data["pick"] = data["pick"][:3]
    assert client.post(reverse("annotation:example_bulk_review"), data).status_code == 302
    assert set(Example.objects.filter(pk__in=[e.pk for e in theirs]).values_list("status", flat=True)) == {Status.APPROVED}
    assert Example.objects.get(pk=mine.pk).status == Status.SUBMITTED


def test_bulk_reject_needs_a_comment_and_a_changed_example_stops_the_batch(researcher, author):
    first, second = (example(user=author, status=Status.SUBMITTED, turns=(f"Q{i}?", "A.")) for i in range(2))
    with pytest.raises(Exception, match="needs a comment"):
        bulk_review(reviewer=researcher, versions=picks(first, second), approve=False, comment="  ")
    stale = picks(first, second)
    Example.objects.filter(pk=second.pk).update(version=second.version + 1)
    with pytest.raises(BulkReviewRefused) as refused:
        bulk_review(reviewer=researcher, versions=stale, approve=False, comment="Cite a source.")
    assert [r.example_id for r in refused.value.refusals] == [second.pk] and "changed" in refused.value.refusals[0].reason
    assert Example.objects.get(pk=first.pk).status == Status.SUBMITTED
    second.refresh_from_db()
    decided = bulk_review(reviewer=researcher, versions=picks(first, second), approve=False, comment="Cite a source.")
    assert {e.status for e in decided} == {Status.REJECTED} and {e.review_comment for e in decided} == {"Cite a source."}


def test_a_reviewer_who_edited_a_submission_cannot_bulk_approve_it(researcher, author):
    edited = example(user=author, status=Status.SUBMITTED)
    Example.objects.filter(pk=edited.pk).update(text_edited_by=researcher)
    with pytest.raises(BulkReviewRefused, match="changed this version yourself"):
        bulk_review(reviewer=researcher, versions=picks(edited), approve=True)


def test_approve_and_next_opens_the_next_submission(client, researcher, author):
    first, second = (example(user=author, status=Status.SUBMITTED, turns=(f"Q{i}?", "A.")) for i in range(2))
    client.force_login(researcher)
    response = client.post(reverse("annotation:review_decide", args=[first.pk]),
                           {"decision": "approve", "version": first.version, "then": "next"})
    assert response["Location"] == reverse("annotation:example_detail", args=[second.pk])
    page = client.get(response["Location"]).content.decode()
    assert 'id="review-keys"' in page and "<kbd>a</kbd>" in page
    response = client.post(reverse("annotation:review_decide", args=[second.pk]),
                           {"decision": "reject", "version": second.version, "comment": "Shorter.", "then": "next"})
    assert response["Location"] == reverse("annotation:review_queue")


def test_submitted_rows_a_researcher_imports_wait_in_their_own_review_queue(client, researcher):
    client.force_login(researcher)
    upload = io.BytesIO(json.dumps({"conversations": ["Imported prompt?", "Imported answer."], "source": "authored"}).encode())
    upload.name = "submitted.jsonl"
    response = client.post(reverse("datasets:dataset_import"), {"file": upload, "status": "submitted", "default_split": "train"})
    assert response.status_code == 302, response.content.decode()[:2000]
    imported = Example.objects.get()
    assert imported.created_by is None and imported.provenance["imported_by"] == researcher.username
    assert imported.pk in {e.pk for e in client.get(reverse("annotation:review_queue")).context["page"].object_list}
    response = client.post(reverse("annotation:review_decide", args=[imported.pk]), {"decision": "approve", "version": imported.version})
    assert response.status_code == 302 and Example.objects.get().status == Status.APPROVED


def candidate(researcher, key: str) -> Example:
    from annotation.importers.batch import Candidate

    curation.save_candidates(candidates=[Candidate(source_key=key, source="wikihow", split="train", title=key,
                                                   conversations=[f"{key} prompt?", f"{key} answer."], community="",
                                                   provenance={})], user=researcher)
    return Example.objects.get(source_key=key)


def test_a_curation_decision_can_be_undone_once_while_nothing_changed(client, researcher):
    first, second = candidate(researcher, "first"), candidate(researcher, "second")
    client.force_login(researcher)
    response = client.post(reverse("annotation:candidate_decide", args=[first.pk]),
                           {"decision": "reject", "version": first.version}, HTTP_HX_REQUEST="true")
    page = response.content.decode()
    assert 'id="undo-decision"' in page and "rejected “first”" in page and second.title in page
    first.refresh_from_db()
    assert first.status == Status.REJECTED
    response = client.post(reverse("annotation:candidate_undo", args=[first.pk]), {"version": first.version}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and 'data-example="%d"' % first.pk in response.content.decode()
    first.refresh_from_db()
    assert first.status == Status.CANDIDATE and first.reviewed_by is None
    assert first.revisions.order_by("-version").first().comment == "undid “rejected” in curation"
    again = client.post(reverse("annotation:candidate_undo", args=[first.pk]), {"version": first.version}, HTTP_HX_REQUEST="true")
    assert again.status_code == 409 and Example.objects.get(pk=first.pk).status == Status.CANDIDATE

    accepted = curation.accept_candidate(example_id=second.pk, user=researcher, expected_version=second.version)
    Example.objects.filter(pk=second.pk).update(version=accepted.version + 1)  # someone edited it since
    with pytest.raises(Exception, match="version"):
        curation.undo_decision(example_id=second.pk, user=researcher, expected_version=accepted.version)
    assert Example.objects.get(pk=second.pk).status == Status.APPROVED
