"""Reviewing at speed in a real browser: keys on the example page (approve and next, reject with a comment,
edit), bulk decisions from the example list, and undo by key in curation."""


import pytest
from playwright.sync_api import expect

from annotation.importers.batch import Candidate
from annotation.models import Example, Status
from annotation.services.curation import save_candidates
from tests.builders import example
from tests.e2e.conftest import shot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]



def test_a_reviewer_works_through_the_queue_by_keyboard(page, live_server, login, researcher, author):
    first, second, third = (example(user=author, status=Status.SUBMITTED, title=f"Example {n}",
                                    turns=(f"Question {n}?", f"Answer {n}.")) for n in ("one", "two", "three"))
    login(page, "researcher1")
    page.goto(f"{live_server.url}/examples/{first.pk}/")
    expect(page.locator("#review-keys")).to_contain_text("approve and go to the next")
    shot(page, "review-keys")

    page.keyboard.press("a")
    page.wait_for_url(f"{live_server.url}/examples/{second.pk}/")
    assert Example.objects.get(pk=first.pk).status == Status.APPROVED

    page.keyboard.press("r")
    expect(page.locator("#review-comment")).to_be_focused()
    page.keyboard.type("Add a source for the claim.")  # letters typed here are text, not shortcuts
    page.keyboard.press("Control+Enter")
    page.wait_for_url(f"{live_server.url}/examples/{third.pk}/")
    second.refresh_from_db()
    assert second.status == Status.REJECTED and second.review_comment == "Add a source for the claim."

    page.keyboard.press("e")
    page.wait_for_url(f"{live_server.url}/examples/{third.pk}/edit/")
    assert Example.objects.get(pk=third.pk).status == Status.SUBMITTED


def test_bulk_decisions_from_the_example_list(page, live_server, login, researcher, author):
    submitted = [example(user=author, status=Status.SUBMITTED, turns=(f"Bulk question {n}?", "Answer.")) for n in range(3)]
    own = example(user=researcher, status=Status.SUBMITTED, turns=("My own question?", "Answer."))
    login(page, "researcher1")
    page.goto(f"{live_server.url}/examples/all/?status=submitted")
    page.check("#pick-all")
    page.click("#bulk-approve")
    expect(page.locator("#bulk-refusals")).to_contain_text(f"#{own.pk}")
    shot(page, "bulk-refused")
    assert not Example.objects.filter(status=Status.APPROVED).exists()
    page.goto(f"{live_server.url}/examples/all/?status=submitted&q=bulk")
    page.check("#pick-all")
    page.fill("#bulk-comment", "Split into two examples.")
    page.click("#bulk-reject")
    expect(page.locator(".messages")).to_contain_text("3 examples sent back")
    assert set(Example.objects.filter(pk__in=[e.pk for e in submitted]).values_list("status", flat=True)) == {Status.REJECTED}
    assert Example.objects.get(pk=own.pk).status == Status.SUBMITTED
    shot(page, "example-list")


def test_a_curator_undoes_a_rejection_by_key(page, live_server, login, researcher):
    save_candidates(candidates=[Candidate(source_key=f"wikihow:{n}", source="wikihow", split="train", title=f"How to {n}",
                                          conversations=[f"How to {n}?", f"Steps for {n}."], community="", provenance={})
                                for n in ("knit", "bake")], user=None)
    login(page, "researcher1")
    page.goto(f"{live_server.url}/curation/")
    expect(page.locator(".candidate-title")).to_have_text("How to knit")
    page.keyboard.press("r")
    expect(page.locator(".candidate-title")).to_have_text("How to bake")
    expect(page.locator("#undo-form")).to_contain_text("rejected “How to knit”")
    shot(page, "curation-undo")
    page.keyboard.press("u")
    expect(page.locator(".candidate-title")).to_have_text("How to knit")
    assert Example.objects.get(source_key="wikihow:knit").status == Status.CANDIDATE
