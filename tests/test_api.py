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
                                         "served_model_name": "gpt-4", "api_key_env": "OPENAI_API_KEY"}, format="json")
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
