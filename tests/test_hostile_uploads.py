"""Hostile uploads and JSON bodies on every endpoint that parses one: never a 500, always a 4xx naming the line.

The three payloads of the hardening issue (a lone surrogate escaped in JSON, 100,000 nested arrays, an
integer of 100,000 digits) each gave a 500 on the four upload endpoints and on the judging API's reason.
Also here: the size and line caps that keep a large upload from filling the server's memory.
"""

from __future__ import annotations

import json
import os

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from annotation.evaluation.models import ExternalJudgmentSet, Judgment
from annotation.models import Example
from generation.models import GenerationRun, ModelSpec
from tests.builders import pairwise_study, prompt_snapshot

pytestmark = pytest.mark.django_db

SURROGATE = '"\\ud800"'  # the six characters \ud800 in a JSON string: valid JSON, not valid Unicode
NESTED = "[" * 100_000 + "]" * 100_000
HUGE_INTEGER = "9" * 100_000
PAYLOADS = {"lone_surrogate": SURROGATE, "nested_arrays": NESTED, "huge_integer": HUGE_INTEGER,
            "nul": '"a\\u0000b"', "nan": "NaN"}

# One valid JSONL record per endpoint, with VALUE where a hostile value goes.
DATASET_ROW = '{"conversations": ["How do I brew tea?", VALUE], "source": "authored", "split": "train"}'
RESPONSE_ROW = '{"example_id": 1, "response": VALUE}'
JUDGMENT_ROW = '{"prompt_id": VALUE, "model_a": "lima", "model_b": "gpt-4", "verdict": "a", "annotator": "w1", "annotator_group": "crowd"}'


def jsonl(template: str, value: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("hostile.jsonl", template.replace("VALUE", value).encode() + b"\n")


@pytest.fixture
def researcher_client(client, researcher):
    client.force_login(researcher)
    return client


@pytest.mark.parametrize("payload", PAYLOADS)
def test_dataset_upload_answers_422_with_the_line(researcher_client, payload):
    response = researcher_client.post(reverse("datasets:dataset_import"),
                                      {"file": jsonl(DATASET_ROW, PAYLOADS[payload]), "default_split": "auto", "status": "approved"})
    assert response.status_code == 422
    assert "line 1" in response.content.decode()
    assert not Example.objects.exists()


@pytest.mark.parametrize("payload", PAYLOADS)
def test_response_import_answers_422_with_the_line(researcher_client, researcher, payload):
    dataset = prompt_snapshot(user=researcher, n=1)
    model = ModelSpec.objects.create(name="alpaca-65b", backend="imported")
    response = researcher_client.post(reverse("generation:run_import"),
                                      {"model": model.pk, "dataset": dataset.pk, "file": jsonl(RESPONSE_ROW, PAYLOADS[payload])})
    assert response.status_code == 422
    assert "line 1" in response.content.decode()
    assert not GenerationRun.objects.filter(model=model).exists()


@pytest.mark.parametrize("payload", PAYLOADS)
def test_external_judgment_upload_page_answers_422_with_the_line(researcher_client, payload):
    response = researcher_client.post(reverse("evaluation:external_list"),
                                      {"name": "crowd", "target": "lima", "file": jsonl(JUDGMENT_ROW, PAYLOADS[payload])})
    assert response.status_code == 422
    assert "line 1" in response.content.decode()
    assert not ExternalJudgmentSet.objects.exists()


@pytest.mark.parametrize("payload", PAYLOADS)
def test_external_judgment_api_answers_400_with_the_line(researcher, payload):
    api = APIClient()
    api.force_authenticate(researcher)
    response = api.post("/api/external-judgments/", {"name": "crowd", "target": "lima", "file": jsonl(JUDGMENT_ROW, PAYLOADS[payload])},
                        format="multipart")
    assert response.status_code == 400
    assert [error["line"] for error in response.json()["errors"]] == [1]
    assert not ExternalJudgmentSet.objects.exists()


@pytest.mark.parametrize("payload", PAYLOADS)
def test_judging_api_reason_answers_400(researcher, make_user, payload):
    annotator = make_user("annotator", username="hostile-crowd")
    study = pairwise_study(researcher=researcher, annotators=[annotator], prompts=1, baselines=("davinci-003",), agreement_subset=0)
    api = APIClient()
    api.force_authenticate(annotator)
    url = f"/api/judging/{study.public_id}/"
    item = api.get(url).json()["item"]
    body = '{"item": "%s", "choice": "a", "reason": %s}' % (item, PAYLOADS[payload])
    response = api.post(url, body, content_type="application/json")
    assert response.status_code == 400, response.content[:300]
    assert response.json()["detail"].startswith("JSON parse error")
    assert not Judgment.objects.exists()


@override_settings(LIMA_MAX_LINE_BYTES=1024)
def test_a_line_over_the_limit_is_refused_by_its_number(researcher_client):
    row = json.dumps({"conversations": ["Q?", "A" * 10_000], "source": "authored"})
    good = json.dumps({"conversations": ["Q?", "A short answer."], "source": "authored"})
    upload = SimpleUploadedFile("long.jsonl", f"{good}\n{row}\n".encode())
    response = researcher_client.post(reverse("datasets:dataset_import"), {"file": upload, "default_split": "auto", "status": "approved"})
    assert response.status_code == 422
    assert "line 2: the line is longer than 1 KiB (LIMA_MAX_LINE_BYTES)" in response.content.decode()
    assert not Example.objects.exists()


@override_settings(LIMA_MAX_UPLOAD_BYTES=4096, FILE_UPLOAD_MAX_MEMORY_SIZE=1024)
def test_an_upload_over_the_size_limit_is_refused_with_the_limit(researcher_client):
    rows = "".join(json.dumps({"conversations": [f"Q{i}?", "An answer."], "source": "authored"}) + "\n" for i in range(200))
    response = researcher_client.post(reverse("datasets:dataset_import"),
                                      {"file": SimpleUploadedFile("big.jsonl", rows.encode()), "default_split": "auto", "status": "approved"})
    assert response.status_code == 422
    assert "the file is larger than 4,096 bytes, the most an upload may be (LIMA_MAX_UPLOAD_BYTES)" in response.content.decode()
    assert not Example.objects.exists()


@override_settings(LIMA_MAX_UPLOAD_BYTES=4096)
def test_the_upload_handler_stops_writing_at_the_limit():
    from lima_site.uploads import CappedTemporaryFileUploadHandler

    handler = CappedTemporaryFileUploadHandler()
    handler.new_file("file", "big.jsonl", "application/octet-stream", 100_000)
    for start in range(0, 100_000, 1000):
        handler.receive_data_chunk(b"x" * 1000, start)
    upload = handler.file_complete(100_000)
    assert upload.size == 100_000  # the true size, for the form's message
    assert os.path.getsize(upload.temporary_file_path()) == 4097
    upload.close()
