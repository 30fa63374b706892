"""Import, freeze and export of GAIR/lima data: atomic, line-exact, Table 1 on the dashboard."""

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from annotation.models import Example, ExampleRevision, Status, Turn
from annotation.datasets.models import Dataset
from annotation.datasets.services import freeze_dataset
from tests.builders import TABLE_1_MIX, example, lima_1330_lines

pytestmark = pytest.mark.django_db


def upload(client, lines, name="lima.jsonl", **fields):
    data = ("\n".join(lines) + "\n").encode()
    return client.post(reverse("datasets:dataset_import"),
                       {"file": SimpleUploadedFile(name, data), "default_split": "auto", "status": "approved", **fields})


def cell(page: str, key: str) -> str:
    return page.split(f'data-cell="{key}"')[1].split("</tr>")[0]


def test_importing_the_1330_row_file_shows_table_1_on_the_dashboard(client, researcher):
    client.force_login(researcher)
    response = upload(client, lima_1330_lines())
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Example.objects.count() == 1330
    assert Turn.objects.count() == 1000 * 2 + 30 * 4 + 300
    page = client.get(reverse("annotation:dashboard")).content.decode()
    for split, source, count in TABLE_1_MIX:
        assert f'data-status="approved">{count}<' in cell(page, f"{split}/{source}/all"), (split, source)
    assert 'data-status="approved">30<' in cell(page, "train/any/multi_turn")
    assert 'data-status="approved">13<' in cell(page, "train/any/refusal")


def test_a_broken_row_713_rejects_the_whole_file_and_names_the_line(client, researcher):
    client.force_login(researcher)
    lines = lima_1330_lines()
    lines[712] = json.dumps({"conversations": ["Q?", "A."], "source": "geocities"})
    before = (Example.objects.count(), Turn.objects.count(), ExampleRevision.objects.count())
    response = upload(client, lines)
    body = response.content.decode()
    assert response.status_code == 422
    assert "line 713, field source: unknown source" in body
    assert (Example.objects.count(), Turn.objects.count(), ExampleRevision.objects.count()) == before


def test_a_failure_inside_the_database_write_leaves_nothing(client, researcher):
    """A row that passes parsing but breaks a constraint in the write must roll back every earlier batch."""
    client.force_login(researcher)
    lines = lima_1330_lines()
    lines[1200] = json.dumps({"conversations": ["Q?", "A."], "source": "wikihow", "title": "t" * 150})
    from annotation.datasets import services as datasets

    rows = datasets.parse_upload(io.BytesIO(("\n".join(lines)).encode()), filename="x.jsonl", default_split="auto").rows
    rows[1200].split = "holdout"  # bypasses parsing; the database's check constraint rejects it
    with pytest.raises(Exception):
        datasets.import_examples(rows=rows, user=researcher, status=Status.APPROVED)
    assert Example.objects.count() == 0 and Turn.objects.count() == 0


def test_csv_import_and_wrong_extension(client, researcher):
    client.force_login(researcher)
    csv_text = "source,split,is_refusal,turn_1,turn_2\nwikihow,train,false,How to knit?,\"Start with a cast-on.\"\n"
    response = client.post(reverse("datasets:dataset_import"),
                           {"file": SimpleUploadedFile("x.csv", csv_text.encode()), "default_split": "auto", "status": "submitted"})
    assert response.status_code == 302
    assert Example.objects.get().status == Status.SUBMITTED
    response = client.post(reverse("datasets:dataset_import"),
                           {"file": SimpleUploadedFile("x.txt", b"hello"), "default_split": "auto", "status": "approved"})
    assert response.status_code == 422 and "expected a .jsonl, .json, .csv or .parquet file" in response.content.decode()


def test_freeze_is_content_hashed_immutable_and_round_trips_through_export(client, researcher, author):
    client.force_login(researcher)
    assert upload(client, lima_1330_lines()).status_code == 302
    dataset = freeze_dataset(name="lima-train-v1", split="train", user=researcher)
    assert dataset.row_count == 1030
    again = freeze_dataset(name="lima-train-v1-copy", split="train", user=researcher)
    assert again.content_hash == dataset.content_hash
    Turn.objects.filter(example__split="train", position=1).update(text="changed later")
    exported = b"".join(client.get(reverse("datasets:dataset_export", args=[dataset.pk, "jsonl"])).streaming_content)
    rows = [json.loads(line) for line in exported.decode().splitlines()]
    assert len(rows) == 1030 and rows[0]["conversations"][1] != "changed later"
    import hashlib
    assert hashlib.sha256(exported).hexdigest() == dataset.content_hash
    csv_export = b"".join(client.get(reverse("datasets:dataset_export", args=[dataset.pk, "csv"])).streaming_content).decode()
    assert csv_export.splitlines()[0] == "split,source,is_refusal,turn_1,turn_2,turn_3,turn_4"
    # The export re-imports cleanly: the format is its own round trip.
    Example.objects.all().delete()
    response = client.post(reverse("datasets:dataset_import"),
                           {"file": SimpleUploadedFile("again.jsonl", exported), "default_split": "train", "status": "approved"})
    assert response.status_code == 302 and Example.objects.count() == 1030


def test_freeze_refuses_a_duplicate_name_and_an_empty_split(researcher, author):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="no approved"):
        freeze_dataset(name="empty", split="dev", user=researcher)
    example(user=author, status=Status.APPROVED)
    freeze_dataset(name="one", split="train", user=researcher)
    with pytest.raises(ValidationError, match="already exists"):
        freeze_dataset(name="one", split="train", user=researcher)
    assert Dataset.objects.count() == 1


def test_a_source_without_a_target_is_shown_by_its_label_not_its_key(client, researcher):
    client.force_login(researcher)
    lines = [json.dumps({"conversations": [f"Q{i}?", f"A{i}."], "source": "other", "split": "train"}) for i in range(2)]
    assert upload(client, lines).status_code == 302
    row = cell(client.get(reverse("annotation:dashboard")).content.decode(), "train/other/all")
    assert "<td>Other / unclassified <span class=\"tag\">no target</span></td>" in row, row
    assert 'data-status="approved">2<' in row
