"""`make run`'s demo data: a judging study that reads like a real one, and a sample dump curation can import."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse

from annotation.evaluation.models import ComparisonItem, Study
from annotation.models import Example, ImportJob
from annotation.services import curation
from annotation.tasks import run_import_job
from lima_site.management.commands.load_demo import DEMO_STUDY

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(lima_defaults, settings, tmp_path):
    settings.LIMA_DUMPS_DIR = tmp_path / "dumps"
    call_command("load_demo", stdout=io.StringIO())
    return tmp_path / "dumps"


def test_the_demo_study_is_open_for_the_demo_annotator_with_two_different_hand_written_answers_per_prompt(demo):
    study = Study.objects.get(name=DEMO_STUDY)
    assert study.state == Study.State.OPEN and study.annotators.filter(username="annotator").exists()
    items = list(ComparisonItem.objects.filter(study=study).select_related("row"))
    assert len(items) == 8 and not any(item.held for item in items)
    for item in items:
        assert item.text_a != item.text_b and len(item.text_a.split()) >= 5 and len(item.text_b.split()) >= 5
    prompts = {item.row.conversations[0] for item in items}
    assert "My sourdough starter smells like nail polish remover. Is it ruined?" in prompts


def test_the_demo_annotator_judges_a_real_looking_item(demo, client):
    client.force_login(get_user_model().objects.get(username="annotator"))
    study = Study.objects.get(name=DEMO_STUDY)
    page = client.get(reverse("evaluation:judge", args=[study.public_id]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Which answer helps more?" in html and DEMO_STUDY not in html
    assert "demo-assistant" not in html  # blind: the demo models' names never reach the annotator


def test_loading_the_demo_twice_changes_nothing(demo):
    counts = (Example.objects.count(), Study.objects.count(), ComparisonItem.objects.count())
    call_command("load_demo", stdout=io.StringIO())
    assert (Example.objects.count(), Study.objects.count(), ComparisonItem.objects.count()) == counts


def test_the_sample_dump_lies_in_the_dumps_folder_and_imports_from_the_imports_page(demo, researcher):
    assert (demo / "sample" / "stackexchange" / "physics.stackexchange.com" / "Posts.xml").is_file()
    job = curation.create_import_job(kind="stackexchange", path="sample/stackexchange", parameters={}, user=researcher)
    run_import_job.apply(args=[job.pk])
    job.refresh_from_db()
    assert job.state == ImportJob.State.SUCCEEDED and job.created_count == 6
    assert Example.objects.filter(status="candidate", source__startswith="stackexchange").count() == 6


def test_the_demo_submitted_examples_are_the_demo_authors_and_wait_for_the_researchers_review(demo):
    submitted = Example.objects.filter(status="submitted")
    assert submitted.count() == 3 and {example.created_by.username for example in submitted} == {"author"}
