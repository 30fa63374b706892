"""Importing the formats researchers bring through the page and the API, the detected format named, unknown
sources kept as "other", and every snapshot export read back unchanged by our importer and by `datasets`."""

from __future__ import annotations

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotation.datasets import formats
from annotation.datasets.services import freeze_dataset, parse_upload
from annotation.models import Example, Status
from tests.builders import example

pytestmark = pytest.mark.django_db

SHAREGPT = [
    {"conversations": [{"from": "human", "value": f"Question {i}?"}, {"from": "gpt", "value": f"Answer {i}."}]}
    for i in range(3)
]


def post(client, data: bytes, name: str, **fields):
    return client.post(reverse("datasets:dataset_import"), {
        "file": SimpleUploadedFile(name, data), "default_split": "auto", "status": "approved", **fields}, follow=True)


def test_a_sharegpt_array_imports_and_the_page_names_the_format(client, researcher):
    client.force_login(researcher)
    page = post(client, json.dumps(SHAREGPT, indent=2).encode(), "chats.json", default_source="other").content.decode()
    assert "Read chats.json as ShareGPT (from/value), JSON array. Imported 3 examples (3 train)" in page
    stored = Example.objects.get(turns__text="Question 1?")
    assert stored.source == "other" and stored.provenance["format"] == "ShareGPT (from/value), JSON array"


def test_unknown_sources_are_refused_until_kept_as_other(client, researcher):
    client.force_login(researcher)
    data = "".join(json.dumps({"conversations": [f"Q{i}?", f"A{i}."], "source": "unknown"}) + "\n" for i in range(3)).encode()
    refused = post(client, data, "lima.jsonl")
    assert refused.status_code == 422 and Example.objects.count() == 0
    assert "line 1, field source: unknown source &#x27;unknown&#x27;" in refused.content.decode()
    kept = post(client, data, "lima.jsonl", unknown_as_other="on")
    assert kept.status_code == 200 and Example.objects.filter(source="other").count() == 3
    assert Example.objects.first().provenance["original_source"] == "unknown"


def test_the_same_file_twice_is_reported_not_doubled_with_exact_and_normalised_counts(researcher):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=researcher).key}")
    url = reverse("api:dataset-import")
    data = json.dumps(SHAREGPT).encode()
    first = api.post(url, {"file": SimpleUploadedFile("c.json", data), "default_source": "authored"}, format="multipart")
    assert first.status_code == 201, first.json()
    assert first.json()["detected_format"] == "ShareGPT (from/value), JSON array" and first.json()["created"] == 3
    resaved = json.dumps([{"conversations": [{"from": "human", "value": f"  Question {i}? "},
                                             {"from": "gpt", "value": f"Answer   {i}."}]} for i in range(3)]).encode()
    again = api.post(url, {"file": SimpleUploadedFile("c.json", data), "default_source": "authored"}, format="multipart").json()
    normalised = api.post(url, {"file": SimpleUploadedFile("c2.json", resaved), "default_source": "authored"},
                          format="multipart").json()
    assert Example.objects.count() == 3
    assert again["created"] == 0 and [d["exact"] for d in again["duplicates"]] == [True] * 3
    assert normalised["created"] == 0 and [d["exact"] for d in normalised["duplicates"]] == [False] * 3
    assert "3 duplicates skipped (0 exact, 3 equal after normalising: record 1: already stored" in normalised["summary"]
    repeated = "".join(json.dumps({"conversations": pair, "source": "wikihow"}) + "\n"
                       for pair in (["New?", "Yes."], ["New?", "Yes."], ["  New?  ", "Yes."]))
    within = api.post(url, {"file": SimpleUploadedFile("r.jsonl", repeated.encode())}, format="multipart").json()
    assert within["created"] == 1 and [(d["first_line"], d["exact"]) for d in within["duplicates"]] == [(1, True), (1, False)]
    refused = api.post(url, {"file": SimpleUploadedFile("c.json", b'{"conversations": ["Q?"]}')}, format="multipart")
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["text"] == "line 1, field source: missing (choose a source for rows that name none)"


@pytest.mark.parametrize("suffix", sorted(formats.EXPORTS) + ["csv"])
def test_every_snapshot_export_reimports_unchanged(client, researcher, author, suffix):
    example(user=author, status=Status.APPROVED, turns=("How do I knit?", "Cast on, then knit every row."))
    example(user=author, status=Status.APPROVED, source="wikihow", is_refusal=True,
            turns=("Hi", "Hello!", "How do I pick a lock?", "I can't help with that."))
    dataset = freeze_dataset(name="snap", split="train", user=researcher)
    client.force_login(researcher)
    response = client.get(reverse("datasets:dataset_export", args=[dataset.pk, suffix]))
    assert response.status_code == 200
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert f'filename="snap.{suffix}"' in response["Content-Disposition"]
    parsed = parse_upload(io.BytesIO(body), filename=f"snap.{suffix}", default_split="auto")
    # GAIR/lima JSONL is the published format byte for byte (the snapshot's hash): conversations and source only.
    keeps_refusal = suffix != "jsonl"
    assert [(r.split, r.source, r.is_refusal, r.conversations) for r in parsed.rows] == [
        (dataset.split, row.source, row.is_refusal and keeps_refusal, row.conversations)
        for row in dataset.rows.order_by("position")]


def test_datasets_load_dataset_reads_the_downloaded_parquet_and_messages_files(client, researcher, author, tmp_path,
                                                                               monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    import datasets

    example(user=author, status=Status.APPROVED, turns=("How do I knit?", "Cast on, then knit every row."))
    dataset = freeze_dataset(name="snap", split="train", user=researcher)
    client.force_login(researcher)
    (tmp_path / "snap.parquet").write_bytes(client.get(reverse("datasets:dataset_export", args=[dataset.pk, "parquet"])).content)
    messages = client.get(reverse("datasets:dataset_export", args=[dataset.pk, "messages.jsonl"]))
    (tmp_path / "snap.jsonl").write_bytes(b"".join(messages.streaming_content))
    parquet = datasets.load_dataset("parquet", data_files=str(tmp_path / "snap.parquet"), split="train",
                                    cache_dir=str(tmp_path / "cache"))
    chat = datasets.load_dataset("json", data_files=str(tmp_path / "snap.jsonl"), split="train", cache_dir=str(tmp_path / "cache"))
    assert parquet[0]["conversations"] == ["How do I knit?", "Cast on, then knit every row."]
    assert chat[0]["messages"] == [{"role": "user", "content": "How do I knit?"},
                                   {"role": "assistant", "content": "Cast on, then knit every row."}]
