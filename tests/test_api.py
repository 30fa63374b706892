"""The REST API: token and session auth, researcher role, validation with field names, OpenAPI schema."""

import pytest
import yaml
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from generation.models import GenerationRun, ModelSpec
from tests.builders import prompt_snapshot, tiny_model_spec

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(researcher):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=researcher).key}")
    return client


def test_schema_is_served_and_lists_the_generation_endpoints(api):
    schema = yaml.safe_load(api.get("/api/schema/").content)
    assert schema["openapi"].startswith("3.") and "/api/generation-runs/" in schema["paths"] and "/api/models/" in schema["paths"]


def test_only_researchers_reach_the_api(author, annotator):
    client = APIClient()
    assert client.get("/api/models/").status_code in (401, 403)
    for user in (author, annotator):
        client.force_authenticate(user)
        assert client.get("/api/models/").status_code == 403


def test_registering_a_model_validates_per_backend(api):
    response = api.post("/api/models/", {"name": "gpt-4", "backend": "openai", "location": "not-a-url"}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"location", "served_model_name"}
    response = api.post("/api/models/", {"name": "gpt-4", "backend": "openai", "location": "https://api.example.com/v1",
                                         "served_model_name": "gpt-4", "api_key_env": "LIMA_OPENAI_API_KEY"}, format="json")
    assert response.status_code == 201 and response.json()["top_p"] == 0.9
    assert ModelSpec.objects.get(name="gpt-4").created_by.username == "researcher1"


def test_starting_a_run_through_the_api_applies_lima_decoding(api, researcher):
    dataset = prompt_snapshot(user=researcher, n=3)
    model = tiny_model_spec()
    response = api.post("/api/generation-runs/", {"model": model.pk, "dataset": dataset.pk, "decoding": {"max_new_tokens": 64}},
                        format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "running" and body["progress"] == {"done": 0, "errors": 0, "total": 3, "percent": 0}
    assert GenerationRun.objects.get().decoding == {"top_p": 0.9, "temperature": 0.7, "repetition_penalty": 1.2, "max_new_tokens": 64}
    bad = api.post("/api/generation-runs/", {"model": model.pk, "dataset": dataset.pk, "decoding": {"temperature": -1}}, format="json")
    assert bad.status_code == 400 and "decoding" in bad.json()


def test_annotators_judge_through_the_api_blind_and_idempotently(researcher, make_user):
    import re

    from annotation.evaluation.models import Judgment
    from tests.builders import pairwise_study

    annotator = make_user("annotator", username="api_crowd")
    study = pairwise_study(researcher=researcher, annotators=[annotator], prompts=2, baselines=("davinci-003",),
                           name="lima-65b vs davinci", agreement_subset=0)
    client = APIClient()
    client.force_authenticate(annotator)
    url = f"/api/judging/{study.public_id}/"
    current = client.get(url)
    body = current.content.decode()
    assert current.status_code == 200 and not re.search(r"lima|davinci|target|baseline|run", body, re.IGNORECASE)
    item = current.json()["item"]
    first = client.post(url, {"item": item, "choice": "b"}, format="json")
    again = client.post(url, {"item": item, "choice": "a"}, format="json")
    assert first.status_code == 201 and again.status_code == 200 and again.json()["stored"] is False
    assert Judgment.objects.get().side == "b"
    assert client.post(url, {"item": item, "choice": "maybe"}, format="json").status_code == 400
    from annotation.evaluation.services.judging import close_study

    close_study(study=study)  # a closed study's state refuses verdicts: 409 with the reason, nothing stored
    for closed in (client.get(url), client.post(url, {"item": item, "choice": "a"}, format="json")):
        assert closed.status_code == 409 and "takes no judgments now" in closed.json()["detail"], closed.content
    assert Judgment.objects.count() == 1
    client.force_authenticate(researcher)
    assert client.get(url).status_code == 403  # researchers set studies up; they do not judge blind


def test_researchers_manage_studies_through_the_api(api, researcher, make_user):
    from tests.builders import completed_run, prompt_snapshot

    dataset = prompt_snapshot(user=researcher, n=2, name="api-prompts")
    target, baseline = completed_run(dataset=dataset, model_name="lima"), completed_run(dataset=dataset, model_name="gpt-4")
    annotator = make_user("annotator")
    response = api.post("/api/studies/", {"name": "LIMA vs GPT-4", "kind": "pairwise", "dataset": dataset.pk, "target_run": target.pk,
                                          "baseline_runs": [baseline.pk], "annotators": [annotator.pk], "overlap": 1,
                                          "agreement_subset": 1, "absolute_sample": 50, "seed": 0}, format="json")
    assert response.status_code == 201, response.content
    opened = api.post(f"/api/studies/{response.json()['id']}/open/")
    assert opened.json()["state"] == "open" and opened.json()["overview"]["items"]["total"] == 2
    bad = api.post("/api/studies/", {"name": "x", "kind": "pairwise", "dataset": dataset.pk, "target_run": target.pk, "overlap": 1,
                                     "agreement_subset": 1, "absolute_sample": 1, "seed": 0}, format="json")
    assert bad.status_code == 400 and "baseline_runs" in bad.json()


def test_openapi_schema_validates_without_warnings(tmp_path):
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))
    assert "/api/judging/{study_id}/" in (tmp_path / "schema.yml").read_text()


def test_retry_is_refused_where_there_is_nothing_a_worker_could_retry(api, researcher):
    """POST retry on a completed run once set it back to "running" (and on an imported run queued chunks no worker can
    generate). A run that completed cleanly and an imported run answer 409 with the reason and stay as they were; a
    cancelled run that already has every response is finished by the retry, not left running with no chunk to end it."""
    from generation.models import GenerationChunk, Response, RunStatus
    from tests.builders import completed_run

    dataset = prompt_snapshot(user=researcher, n=3)
    model = tiny_model_spec()
    done = completed_run(dataset=dataset, model_name="imported-baseline")
    answer = api.post(f"/api/generation-runs/{done.pk}/retry/")
    assert answer.status_code == 409 and "upload" in answer.json()["detail"]
    GenerationRun.objects.filter(pk=done.pk).update(model=model)
    answer = api.post(f"/api/generation-runs/{done.pk}/retry/")
    assert answer.status_code == 409 and "nothing to retry" in answer.json()["detail"], answer.content
    done.refresh_from_db()
    assert done.status == RunStatus.COMPLETED and not GenerationChunk.objects.filter(run=done).exists()

    cancelled = GenerationRun.objects.create(model=model, dataset=dataset, decoding={}, total=3, status=RunStatus.CANCELLED)
    Response.objects.bulk_create(Response(run=cancelled, row=row, text="kept") for row in dataset.rows.all())
    answer = api.post(f"/api/generation-runs/{cancelled.pk}/retry/")
    assert answer.status_code == 200 and answer.json()["status"] == "completed", answer.content
    assert not GenerationChunk.objects.filter(run=cancelled).exists()


def test_the_retry_button_says_what_happened(client, researcher):
    from django.urls import reverse

    from generation.models import Response, RunStatus
    from tests.builders import completed_run

    dataset = prompt_snapshot(user=researcher, n=2)
    client.force_login(researcher)

    def retry(run) -> str:
        return client.post(reverse("generation:run_action", args=[run.pk, "retry"]), follow=True).content.decode()

    done = completed_run(dataset=dataset, model_name="imported-done")
    assert "Nothing retried: an imported model&#x27;s responses come by upload" in retry(done)
    GenerationRun.objects.filter(pk=done.pk).update(model=tiny_model_spec())
    assert "Nothing retried: the run completed without errors: there is nothing to retry." in retry(done)
    cancelled = GenerationRun.objects.create(model=tiny_model_spec(name="tiny-2"), dataset=dataset, decoding={}, total=2,
                                             status=RunStatus.CANCELLED)
    Response.objects.bulk_create(Response(run=cancelled, row=row, text="kept") for row in dataset.rows.all())
    assert "Nothing had failed or was missing: the run is complete." in retry(cancelled)
    GenerationRun.objects.filter(pk=cancelled.pk).update(status=RunStatus.RUNNING)
    assert "The run is already generating; nothing was sent again." in retry(cancelled)
