"""External judgment sets (upload page, service, results page) and the researchers' API for statistics,
exports and imports: token and session auth, researcher role only, errors with line numbers."""

from __future__ import annotations

import io
import json

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import StreamingHttpResponse
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotation.datasets.lima_format import FormatError
from annotation.evaluation.models import ExternalJudgment, ExternalJudgmentSet
from annotation.evaluation.selectors import external_report
from annotation.evaluation.services.external_judgments import import_external_judgments
from tests.builders import pairwise_study

pytestmark = pytest.mark.django_db

# Two crowd workers and an author judge LIMA against GPT-4 and Bard on three prompts.
GOOD_CSV = """prompt_id,model_a,model_b,verdict,annotator,annotator_group,length_a,length_b
1,lima,gpt-4,a,w1,crowd,120,300
1,gpt-4,lima,tie,w2,crowd,300,120
1,lima,gpt-4,gpt-4,ann,author,120,300
2,lima,bard,a,w1,crowd,80,90
2,bard,lima,b,w2,crowd,90,80
2,lima,bard,tie,ann,author,80,90
3,lima,gpt-4,b,w1,crowd,,
3,lima,gpt-4,b,w2,crowd,,
"""
BAD_CSV = """prompt_id,model_a,model_b,verdict,annotator,annotator_group
1,lima,gpt-4,a,w1,crowd
1,lima,gpt-4,maybe,w2,crowd
2,lima,bard,a,w1,crowd
2,lima,bard,b,w1,crowd
3,lima,gpt-4,,w3,crowd
"""


def upload(name: str, content: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content.encode(), content_type="text/plain")


def test_an_imported_set_feeds_the_study_statistics(researcher):
    judgment_set = import_external_judgments(name="paper crowd", stream=io.BytesIO(GOOD_CSV.encode()), filename="crowd.csv",
                                             user=researcher)
    assert (judgment_set.target, judgment_set.baselines, judgment_set.judgment_count) == ("lima", ["gpt-4", "bard"], 8)
    assert judgment_set.file_format == "csv" and len(judgment_set.sha256) == 64
    report = external_report(judgment_set, resamples=200)
    gpt4 = next(row for row in report.human if row.baseline == "gpt-4")
    # Prompt 1: lima, tie, gpt-4; prompt 3: gpt-4 twice.
    assert gpt4.counts == {"target": 1, "tie": 1, "baseline": 3}
    crowd = next(pair for pair in report.agreement.group_pairs if pair.label == "crowd-crowd")
    # w1 and w2 share prompts 1 (lima vs tie: 0.5), 2 (lima twice: 1) and 3 (gpt-4 twice: 1).
    assert crowd.tie_discounted == pytest.approx(2.5 / 3)


def test_a_bad_row_saves_nothing_and_names_its_line(researcher):
    with pytest.raises(FormatError) as raised:
        import_external_judgments(name="bad", stream=io.BytesIO(BAD_CSV.encode()), filename="bad.csv", user=researcher)
    lines = {(error.line, error.field) for error in raised.value.errors}
    assert lines == {(3, "verdict"), (5, "annotator"), (6, "verdict")}
    assert not ExternalJudgmentSet.objects.exists() and not ExternalJudgment.objects.exists()


def test_upload_page_imports_and_shows_results(client, researcher):
    client.force_login(researcher)
    assert client.get(reverse("evaluation:external_list")).status_code == 200
    response = client.post(reverse("evaluation:external_list"), {"name": "paper crowd", "file": upload("crowd.csv", GOOD_CSV), "seed": 3})
    judgment_set = ExternalJudgmentSet.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("evaluation:external_results", args=[judgment_set.pk])
    page = client.get(response["Location"]).content.decode()
    assert page.count("<svg") >= 2 and "gpt-4" in page and "crowd-crowd" in page and "paper crowd" in page
    listing = client.get(reverse("evaluation:external_list")).content.decode()
    assert "paper crowd" in listing
    png = client.get(reverse("evaluation:external_chart", args=[judgment_set.pk, "outcomes", "png"]))
    assert png.content.startswith(b"\x89PNG")
    markdown = client.get(reverse("evaluation:external_report", args=[judgment_set.pk, "md"])).content.decode()
    assert markdown.startswith("# paper crowd") and "| gpt-4 |" in markdown


def test_upload_page_lists_every_bad_line_and_saves_nothing(client, researcher):
    client.force_login(researcher)
    response = client.post(reverse("evaluation:external_list"), {"name": "bad", "file": upload("bad.csv", BAD_CSV)})
    assert response.status_code == 422
    page = response.content.decode()
    assert "Nothing was imported" in page and "line 3, field verdict" in page and "line 5, field annotator" in page
    assert "line 6, field verdict" in page and not ExternalJudgmentSet.objects.exists()
    wrong_type = client.post(reverse("evaluation:external_list"), {"name": "x", "file": upload("crowd.txt", GOOD_CSV)})
    assert wrong_type.status_code == 422 and "expected a .csv or .jsonl file" in wrong_type.content.decode()


def test_external_pages_are_for_researchers_only(client, make_user):
    client.force_login(make_user("annotator"))
    assert client.get(reverse("evaluation:external_list")).status_code == 403
    assert client.post(reverse("evaluation:external_list"), {"name": "x", "file": upload("crowd.csv", GOOD_CSV)}).status_code == 403
    assert not ExternalJudgmentSet.objects.exists()


# --- API ----------------------------------------------------------------------------------------


@pytest.fixture
def api(researcher):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=researcher).key}")
    return client


@pytest.fixture
def study(researcher, make_user):
    return pairwise_study(researcher=researcher, annotators=[make_user("annotator", username="crowd-api")], prompts=3)


def api_urls(study) -> list[tuple[str, str]]:
    urls = [("get", f"/api/studies/{study.pk}/statistics/"), ("get", "/api/external-judgments/")]
    urls += [("get", f"/api/studies/{study.pk}/exports/{kind}.{fmt}") for kind in ("judgments", "items", "responses", "ratings")
             for fmt in ("csv", "jsonl")]
    return urls + [("post", "/api/external-judgments/")]


def test_api_refuses_everyone_but_researchers(study, make_user):
    client = APIClient()
    for method, url in api_urls(study):
        assert getattr(client, method)(url).status_code in (401, 403), url
    for role in ("annotator", "author"):
        client.force_authenticate(make_user(role))
        for method, url in api_urls(study):
            assert getattr(client, method)(url).status_code == 403, (role, url)
    assert not ExternalJudgmentSet.objects.exists()


def test_api_serves_statistics_and_streams_exports_by_token(api, study):
    report = api.get(f"/api/studies/{study.pk}/statistics/")
    assert report.status_code == 200 and {"human", "llm", "agreement", "ratings", "notes"} <= set(report.json())
    response = api.get(f"/api/studies/{study.pk}/exports/items.jsonl", HTTP_ACCEPT="application/x-ndjson")
    assert response.status_code == 200 and isinstance(response, StreamingHttpResponse)
    records = [json.loads(line) for line in b"".join(response.streaming_content).decode().splitlines()]
    # 3 prompts × 2 baselines, less the 2 shared prompts' items against the other baseline (one prompt per annotator).
    assert len(records) == study.items.count() == 4 and {r["target_model"] for r in records} == {"lima-65b"}
    assert api.get(f"/api/studies/{study.pk + 1000}/exports/items.csv").status_code == 404


def test_api_exports_work_with_session_auth(client, researcher, study):
    client.force_login(researcher)
    response = client.get(f"/api/studies/{study.pk}/exports/judgments.csv")
    assert response.status_code == 200 and b"".join(response.streaming_content).startswith(b"study,item,prompt_id,prompt")


def test_api_imports_external_judgments_all_or_nothing(api):
    bad = api.post("/api/external-judgments/", {"name": "bad", "file": upload("bad.csv", BAD_CSV)}, format="multipart")
    assert bad.status_code == 400
    assert [(e["line"], e["field"]) for e in bad.json()["errors"]] == [(3, "verdict"), (5, "annotator"), (6, "verdict")]
    assert not ExternalJudgmentSet.objects.exists()

    good = api.post("/api/external-judgments/", {"name": "paper", "file": upload("crowd.csv", GOOD_CSV), "target": "lima"},
                    format="multipart")
    assert good.status_code == 201 and good.json()["judgment_count"] == 8
    pk = good.json()["id"]
    assert api.get("/api/external-judgments/").json()["results"][0]["name"] == "paper"
    stats = api.get(f"/api/external-judgments/{pk}/statistics/").json()
    assert {row["baseline"] for row in stats["human"]} == {"gpt-4", "bard"}


def test_schema_documents_the_new_endpoints(api):
    paths = yaml.safe_load(api.get("/api/schema/").content)["paths"]
    assert {"/api/studies/{id}/statistics/", "/api/studies/{id}/exports/{kind}.{fmt}", "/api/external-judgments/",
            "/api/external-judgments/{id}/statistics/"} <= set(paths)


def test_model_and_group_names_are_drawn_literally_not_as_math_text(client, researcher):
    odd = r"$\undefinedcommand$"
    csv_text = GOOD_CSV.replace("gpt-4", odd).replace("crowd", "$x_{crowd}$")
    judgment_set = import_external_judgments(name="odd names", stream=io.BytesIO(csv_text.encode()), filename="odd.csv",
                                             user=researcher)
    client.force_login(researcher)
    page = client.get(reverse("evaluation:external_results", args=[judgment_set.pk]))
    assert page.status_code == 200
    for name in ("outcomes", "agreement"):
        svg = client.get(reverse("evaluation:external_chart", args=[judgment_set.pk, name, "svg"]))
        assert svg.status_code == 200
        assert client.get(reverse("evaluation:external_chart", args=[judgment_set.pk, name, "png"])).status_code == 200
    outcomes = client.get(reverse("evaluation:external_chart", args=[judgment_set.pk, "outcomes", "svg"])).content.decode()
    assert odd in outcomes  # the text as typed (svg.fonttype none keeps text as text)
