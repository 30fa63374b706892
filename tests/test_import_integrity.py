"""Imports never duplicate silently: the same GAIR/lima file twice (or twice at once) stores each example
once and says how many duplicates it skipped; a responses file that matches no prompt is refused."""

from __future__ import annotations

import io
import json
import threading
import unicodedata

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse

from annotation.datasets import lima_format
from annotation.datasets.lima_format import FormatError
from annotation.datasets.services import import_examples
from annotation.models import Example, Status, Turn
from generation.models import GenerationRun, ModelSpec
from generation.services import imported
from tests.builders import example, prompt_snapshot

FIGURES: dict[str, str] = {}


@pytest.fixture(scope="module", autouse=True)
def duplicate_import_figures():
    """The duplicate-import results, printed for the issue's note (visible with -s)."""
    yield
    for name, figure in FIGURES.items():
        print(f"duplicate imports, {name}: {figure}")


def lima_file(n: int, *, crlf: bool = False, decomposed: bool = False) -> bytes:
    """n training examples; optionally as a re-saved copy (CRLF, padded whitespace, accents decomposed)."""
    lines = []
    for i in range(n):
        prompt, answer = f"Which café is number {i}?", f"Café {i} is on the corner."
        if decomposed:
            prompt, answer = unicodedata.normalize("NFD", f"  {prompt}  "), unicodedata.normalize("NFD", answer.replace(" ", "   "))
        lines.append(json.dumps({"conversations": [prompt, answer], "source": "authored", "split": "train"}, ensure_ascii=False))
    return (("\r\n" if crlf else "\n").join(lines) + "\n").encode()


def rows_of(data: bytes) -> list[lima_format.ParsedRow]:
    return lima_format.parse_jsonl(io.BytesIO(data))


@pytest.mark.django_db
def test_importing_the_same_file_twice_skips_every_duplicate_and_says_so(client, researcher):
    client.force_login(researcher)

    def upload(data: bytes, name: str):
        return client.post(reverse("datasets:dataset_import"), {"file": SimpleUploadedFile(name, data), "default_split": "auto",
                                                                "status": "approved"}, follow=True)

    first = upload(lima_file(40), "lima.jsonl")
    assert "Imported 40 examples (40 train)" in first.content.decode() and Example.objects.count() == 40
    again = upload(lima_file(40), "lima.jsonl").content.decode()
    assert Example.objects.count() == 40 and Turn.objects.count() == 80
    assert "Nothing new" in again and "Imported 0 examples; 40 duplicates skipped (40 exact, 0 equal after normalising: line 1: already stored as example" in again
    resaved = upload(lima_file(41, crlf=True, decomposed=True), "lima-resaved.jsonl").content.decode()
    assert "Imported 1 examples (1 train); 40 duplicates skipped (0 exact, 40 equal after normalising" in resaved and Example.objects.count() == 41
    FIGURES["sequential"] = "40 stored, a second upload of the file: 0 created, 40 skipped; a re-saved copy (CRLF, NFD, spaces) " \
                            "with one new row: 1 created, 40 skipped"


@pytest.mark.django_db
def test_a_conversation_repeated_inside_a_file_is_stored_once(researcher, author):
    stored = example(user=author, turns=("Which café is number 0?", "Café 0 is on the corner."))
    data = lima_file(3) + lima_file(2)
    result = import_examples(rows=rows_of(data), user=researcher, status=Status.SUBMITTED)
    assert result.created == 2 and Example.objects.count() == 3
    assert [str(d) for d in result.duplicates] == [
        f"line 1: already stored as example {stored.pk}", f"line 4: already stored as example {stored.pk}",
        "line 5: same conversation as line 2"]
    assert "2 examples (2 train); 3 duplicates skipped" in result.summary()


@pytest.mark.django_db
def test_an_edited_example_is_recognised_by_its_new_text(researcher, author):
    from annotation.services.examples import ExampleDraft, TurnInput, save_example

    written = example(user=author, turns=("Draft prompt?", "Draft answer."))
    save_example(example_id=written.pk, user=author, expected_version=written.version, draft=ExampleDraft(
        split="train", source="authored", turns=[TurnInput("user", "Which café is number 1?"),
                                                 TurnInput("assistant", "Café 1 is on the corner.")]))
    result = import_examples(rows=rows_of(lima_file(2)), user=researcher, status=Status.APPROVED)
    assert result.created == 1 and [d.example_id for d in result.duplicates] == [written.pk]


@pytest.mark.django_db(transaction=True)
def test_two_uploads_of_one_file_at_once_store_each_example_exactly_once(researcher):
    rows = rows_of(lima_file(600))
    start = threading.Barrier(2)
    results, errors = [], []

    def upload() -> None:
        try:
            start.wait()
            results.append(import_examples(rows=rows, user=researcher, status=Status.APPROVED))
        except Exception as exc:  # reported below: a thread's exception would otherwise vanish
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=upload) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(result.created for result in results) == [0, 600]
    assert sorted(len(result.duplicates) for result in results) == [0, 600]
    assert Example.objects.count() == 600
    assert Example.objects.values("content_hash").distinct().count() == 600
    FIGURES["concurrent"] = (f"two threads, one 600-row file at once: created {sorted(r.created for r in results)}, skipped "
                             f"{sorted(len(r.duplicates) for r in results)}, {Example.objects.count()} examples stored")


@pytest.mark.django_db
def test_a_responses_file_that_matches_no_prompt_is_refused(researcher):
    dataset = prompt_snapshot(user=researcher, n=2)
    model = ModelSpec.objects.create(name="alpaca-65b", backend="imported")
    data = b'{"prompt": "Nobody asked this?", "response": "Orphan."}\n{"example_id": 999999, "response": "Lost."}\n'
    with pytest.raises(FormatError) as refused:
        imported.import_responses(model=model, dataset=dataset, stream=io.BytesIO(data), user=researcher)
    assert [str(error) for error in refused.value.errors] == [
        "line 1, field prompt: no prompt of test-prompts matches", "line 2, field example_id: no prompt of test-prompts matches"]
    assert not GenerationRun.objects.exists()


@pytest.mark.django_db
def test_the_responses_upload_page_shows_the_refusal(client, researcher):
    dataset = prompt_snapshot(user=researcher, n=2)
    model = ModelSpec.objects.create(name="alpaca-65b", backend="imported")
    client.force_login(researcher)
    response = client.post(reverse("generation:run_import"), {
        "model": model.pk, "dataset": dataset.pk,
        "file": SimpleUploadedFile("alpaca.jsonl", b'{"prompt": "Nobody asked this?", "response": "Orphan."}\n')})
    assert response.status_code == 422 and "line 1, field prompt: no prompt of test-prompts matches" in response.content.decode()
    assert not GenerationRun.objects.exists()
