"""The HTMX editor, review and dashboard pages over HTTP, with their query counts."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from annotation.models import Example, Quota, Status
from tests.builders import bulk_examples, example

pytestmark = pytest.mark.django_db


def form_data(item, *texts, version=None, **extra):
    data = {"version": version or item.version, "split": item.split, "source": item.source, "title": "",
            "turn_count": len(texts)}
    for i, text in enumerate(texts):
        data[f"turn-{i}-role"] = "user" if i % 2 == 0 else "assistant"
        data[f"turn-{i}-text"] = text
    data.update(extra)
    return data


def test_autosave_returns_status_preview_and_style_warnings(client, author):
    item = example(user=author)
    client.force_login(author)
    response = client.post(reverse("annotation:example_autosave", args=[item.pk]),
                           form_data(item, "How do I make tea?", "I like **tea** <script>alert(1)</script>"), HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    assert "Saved version 2" in body
    assert "<strong>tea</strong>" in body and "<script>" not in body
    assert 'data-code="first_person"' in body
    assert 'id="version" value="2" hx-swap-oob="true"' in body


def test_autosave_on_a_stale_version_answers_409_with_both_versions(client, author, researcher):
    item = example(user=author)
    client.force_login(researcher)
    client.post(reverse("annotation:example_autosave", args=[item.pk]), form_data(item, "Theirs?", "Their text."))
    client.force_login(author)
    response = client.post(reverse("annotation:example_autosave", args=[item.pk]), form_data(item, "Mine?", "My text."))
    body = response.content.decode()
    assert response.status_code == 409
    assert "Edit conflict" in body and "Their text." in body and "My text." in body
    assert Example.objects.get(pk=item.pk).turns.get(position=1).text == "Their text."


def test_turn_operations_add_move_and_remove(client, author):
    item = example(user=author)
    client.force_login(author)
    url = lambda op: reverse("annotation:example_turns", args=[item.pk, op])  # noqa: E731
    client.post(url("add"), form_data(item, "Q?", "A."))
    item.refresh_from_db()
    assert [t.role for t in item.turns.all()] == ["user", "assistant", "user"]
    client.post(url("up"), {**form_data(item, "Q?", "A.", "Q2?"), "index": 2})
    item.refresh_from_db()
    assert [t.text for t in item.turns.all()] == ["Q?", "Q2?", "A."]
    client.post(url("remove"), {**form_data(item, "Q?", "Q2?", "A."), "index": 1})
    item.refresh_from_db()
    assert [t.text for t in item.turns.all()] == ["Q?", "A."]


def test_submit_with_structural_errors_answers_422_and_keeps_the_draft(client, author):
    item = example(user=author)
    client.force_login(author)
    response = client.post(reverse("annotation:example_submit", args=[item.pk]), form_data(item, "Q?", ""))
    assert response.status_code == 422 and "Turn 2 is empty" in response.content.decode()
    assert Example.objects.get(pk=item.pk).status == Status.DRAFT


def test_bad_form_fields_name_the_field(client, author):
    item = example(user=author)
    client.force_login(author)
    response = client.post(reverse("annotation:example_autosave", args=[item.pk]), form_data(item, "Q?", "A.", split="holdout"))
    assert response.status_code == 422 and 'data-field="split"' in response.content.decode()


def test_review_approve_moves_the_quota_cell(client, author, researcher):
    item = example(user=author, status=Status.SUBMITTED)
    client.force_login(researcher)
    response = client.post(reverse("annotation:review_decide", args=[item.pk]), {"decision": "approve", "version": item.version})
    assert response.status_code == 302
    assert Example.objects.get(pk=item.pk).status == Status.APPROVED
    page = client.get(reverse("annotation:dashboard"), HTTP_HX_REQUEST="true").content.decode()
    row = page.split('data-cell="train/authored/all"')[1].split("</tr>")[0]
    assert 'data-status="approved">1<' in row


def test_quota_targets_are_editable_by_researchers_only(client, author, researcher):
    quota = Quota.objects.get(split="train", source="wikihow", flag="")
    client.force_login(author)
    assert client.post(reverse("annotation:quota_update", args=[quota.pk]), {"target": 5}).status_code == 403
    client.force_login(researcher)
    client.post(reverse("annotation:quota_update", args=[quota.pk]), {"target": 250})
    assert Quota.objects.get(pk=quota.pk).target == 250


def queries_for(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


@pytest.mark.parametrize("url_name", ["annotation:example_list", "annotation:dashboard", "annotation:review_queue"])
def test_list_pages_use_the_same_number_of_queries_for_10_and_5000_examples(client, author, researcher, make_user, url_name):
    other = make_user("author", group="A")
    viewer = researcher if url_name != "annotation:example_list" else author
    owner = author if url_name == "annotation:example_list" else other
    status = Status.SUBMITTED if url_name == "annotation:review_queue" else Status.APPROVED
    client.force_login(viewer)
    bulk_examples(10, user=owner, status=status)
    small = queries_for(client, reverse(url_name))
    bulk_examples(4990, user=owner, status=status)
    large = queries_for(client, reverse(url_name))
    assert small == large
    assert large <= 8


def test_a_multi_turn_submit_error_reads_as_a_sentence_not_a_python_list(client, author):
    item = example(user=author, turns=("Q?", "A.", "And then?"))
    client.force_login(author)
    response = client.post(reverse("annotation:example_submit", args=[item.pk]), form_data(item, "Q?", "A.", "And then?"))
    body = response.content.decode()
    assert response.status_code == 422
    assert '<li data-field="turns">A training example ends with an assistant response.</li>' in body
    assert "[&#x27;" not in body and "['" not in body
