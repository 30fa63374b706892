"""A researcher invites an annotator in the browser, the annotator sets a password from the link and logs in;
the jobs page renders the queues and a stuck job."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from playwright.sync_api import expect

from generation.models import GenerationRun, ModelSpec, RunStatus
from tests.builders import prompt_snapshot
from tests.e2e.conftest import shot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]



def test_a_researcher_invites_an_annotator_who_sets_a_password(page, browser, live_server, login, researcher):
    login(page, "researcher1")
    page.goto(f"{live_server.url}/people/")
    page.fill("#id_username", "crowd-worker-1")
    page.check("input[name=roles][value=annotator]")
    page.fill("#id_pools", "crowd")
    page.select_option("#id_author_group", "B")  # bad input first: only authors have a group
    page.click("#create-person")
    expect(page.locator("#new-person")).to_contain_text("only authors have an author group")
    shot(page, "people-error")
    page.select_option("#id_author_group", "")
    page.click("#create-person")
    link = page.locator("#invite-url").input_value()
    shot(page, "person-invited")
    assert "/accounts/invite/" in link

    visitor = browser.new_context().new_page()
    visitor.goto(link)
    visitor.fill("input[name=new_password1]", "crowd-worker-password-77")
    visitor.fill("input[name=new_password2]", "crowd-worker-password-77")
    visitor.click("button[type=submit]")
    visitor.wait_for_url(f"{live_server.url}/accounts/login/")
    visitor.fill("input[name=username]", "crowd-worker-1")
    visitor.fill("input[name=password]", "crowd-worker-password-77")
    visitor.click("button[type=submit]")
    visitor.wait_for_url(f"{live_server.url}/")
    expect(visitor.locator("nav[aria-label=Main]")).to_contain_text("Judging")
    visitor.context.close()

    page.goto(f"{live_server.url}/people/?role=pool")
    expect(page.locator("#people-table")).to_contain_text("crowd-worker-1")
    shot(page, "people")
    assert get_user_model().objects.get(username="crowd-worker-1").has_usable_password()


def test_the_jobs_page_shows_queues_and_a_stuck_run(page, live_server, login, researcher, settings):
    dataset = prompt_snapshot(user=researcher, n=2, name="jobs-e2e")
    model = ModelSpec.objects.create(name="tiny", backend="transformers", location=settings.LIMA_MODEL_DIR)
    GenerationRun.objects.create(model=model, dataset=dataset, decoding={}, total=2, status=RunStatus.RUNNING,
                                 started_at=timezone.now() - timedelta(hours=1))
    login(page, "researcher1")
    page.goto(f"{live_server.url}/jobs/")
    expect(page.locator("#queue-table tr[data-queue=judge]")).to_be_visible()
    expect(page.locator("#app-jobs .stuck")).to_contain_text("no new response")
    shot(page, "jobs")
