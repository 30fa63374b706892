"""Study exports: streamed CSV / JSONL with the full trail, pseudonymised annotators, constant query counts,
the statistics report as JSON and Markdown, and the round trip through the external-judgment importer."""

from __future__ import annotations

import csv
from datetime import datetime
import io
import json
import random

import pytest
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from annotation.evaluation import exports, stats
from annotation.evaluation.judgment_import import parse_judgments
from annotation.evaluation.models import ComparisonItem, Judgment
from annotation.evaluation.selectors import study_report
from annotation.evaluation.services import judging
from annotation.evaluation.services.llm_judge import judge_user_for
from generation.models import ModelSpec, Response
from tests.builders import pairwise_study

pytestmark = pytest.mark.django_db


def judge_everything(study, annotators, side_for) -> None:
    for annotator in annotators:
        while (assignment := judging.current_assignment(study=study, annotator=annotator)) is not None:
            judging.record_judgment(study=study, item_public_id=assignment.item.public_id, annotator=annotator,
                                    side=side_for(annotator, assignment.item))


def seeded_sides(seed: int):
    """Verdicts that differ between annotators and items but are reproducible."""
    def side_for(annotator, item) -> str:
        return random.Random(f"{seed}:{annotator.pk}:{item.pk}").choice(["a", "a", "b", "tie"])
    return side_for


def judged_study(researcher, make_user, *, prompts: int = 8, name: str = "study", with_llm: bool = True):
    """Two crowd workers and one author judge every item they are given; an LLM judge answers every item."""
    people = [make_user("annotator", username=f"{name}-crowd{i}") for i in range(2)]
    people.append(make_user("annotator", username=f"{name}-author", group="A"))
    study = pairwise_study(researcher=researcher, annotators=people, prompts=prompts, baselines=("alpaca-65b", "davinci-003"),
                           agreement_subset=3, name=name, one_prompt_per_annotator=False)  # every item judged, both baselines
    judge_everything(study, people, seeded_sides(1))
    if with_llm:
        judge = judge_user_for(ModelSpec.objects.create(name=f"{name}-gpt-4", backend="openai", location="http://127.0.0.1:1/v1",
                                                        served_model_name="gpt-4"))
        side_for = seeded_sides(2)
        for item in study.items.all():
            side = side_for(judge, item)
            verdict = "tie" if side == "tie" else "target" if (side == "a") == item.target_is_a else "baseline"
            Judgment.objects.create(item=item, annotator=judge, side=side, verdict=verdict, seconds=0.5)
    return study, people


def download(client, study, kind: str, fmt: str, *, identities: bool = False):
    url = reverse("evaluation:study_export", args=[study.pk, kind, fmt]) + ("?identities=1" if identities else "")
    response = client.get(url)
    assert response.status_code == 200, response
    return response, b"".join(response.streaming_content).decode()


def jsonl_records(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line]


def figure_1(outcomes) -> dict:
    return {row.baseline: (row.counts, row.target_wins, row.ties, row.baseline_wins) for row in outcomes}


def group_agreement(report) -> dict:
    return {pair.label: (pair.comparisons, pair.tie_discounted, pair.agreement_without_ties, pair.mean_cohen_kappa)
            for pair in report.group_pairs}


def same_agreement(first, second) -> bool:
    """Means over annotator pairs may be summed in another order after a round trip: equal up to rounding."""
    return group_agreement(first) == {label: pytest.approx(values) for label, values in group_agreement(second).items()}


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_exported_judgments_reimport_to_the_same_statistics(client, researcher, make_user, fmt):
    study, _ = judged_study(researcher, make_user)
    client.force_login(researcher)
    _, text = download(client, study, "judgments", fmt)

    imported = parse_judgments(io.StringIO(text), fmt=fmt)

    assert imported.target == "lima-65b" and sorted(imported.baselines) == ["alpaca-65b", "davinci-003"]
    own = study_report(study, resamples=300)
    again = stats.statistics_report(imported.judgments, resamples=300, seed=study.seed)
    assert figure_1(again.human) == figure_1(own.human)
    assert figure_1(again.llm) == figure_1(own.llm)
    # Means over annotator pairs may be summed in another order: equal up to rounding.
    assert same_agreement(again.agreement, own.agreement)
    assert same_agreement(again.human_llm_agreement, own.human_llm_agreement)
    assert {label for label in group_agreement(own.agreement)} >= {"author-crowd", "crowd-crowd", "crowd-llm"}
    assert again.length_bias["human"].spearman == own.length_bias["human"].spearman


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_one_baseline_study_export_reimports_through_the_page_with_no_edit(client, researcher, make_user, fmt):
    """The page promises a study's judgments file imports unchanged: with one baseline both models sit in every
    row, so only the file's target_model column can say which is the target."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from annotation.evaluation.models import ExternalJudgmentSet

    people = [make_user("annotator", username=f"solo-crowd{i}") for i in range(2)]
    study = pairwise_study(researcher=researcher, annotators=people, prompts=4, baselines=("alpaca-65b",), name="solo",
                           agreement_subset=2, one_prompt_per_annotator=False)
    judge_everything(study, people, seeded_sides(3))
    client.force_login(researcher)
    _, text = download(client, study, "judgments", fmt)
    response = client.post(reverse("evaluation:external_list"),
                           {"name": "round trip", "file": SimpleUploadedFile(f"judgments.{fmt}", text.encode()), "seed": study.seed})
    assert response.status_code == 302, response.content.decode()[-3000:]
    imported = ExternalJudgmentSet.objects.get(name="round trip")
    assert (imported.target, imported.baselines) == ("lima-65b", ["alpaca-65b"])
    assert imported.judgment_count == Judgment.objects.filter(item__study=study).count()
    own = study_report(study, resamples=300)
    from annotation.evaluation.selectors import external_report
    assert figure_1(external_report(imported, resamples=300).human) == figure_1(own.human)


def test_a_judgment_row_carries_the_full_trail(client, researcher, make_user):
    study, people = judged_study(researcher, make_user, prompts=3, with_llm=False)
    client.force_login(researcher)
    _, text = download(client, study, "judgments", "jsonl", identities=True)
    records = jsonl_records(text)
    assert len(records) == Judgment.objects.filter(item__study=study).count()
    for record in records:
        stored = Judgment.objects.select_related("item__row", "item__baseline_run__model", "annotator").get(
            item__public_id=record["item"], annotator__username=record["annotator"])
        item = stored.item
        assert record["prompt"] == item.row.conversations and record["prompt_id"] == item.row.position
        assert (record["response_a"], record["response_b"]) == (item.text_a, item.text_b)
        target_side = "model_a" if item.target_is_a else "model_b"
        assert record[target_side] == "lima-65b" == record["target_model"]
        assert record["baseline_model"] == item.baseline_run.model.name
        assert (record["verdict"], record["verdict_model_terms"]) == (stored.side, stored.verdict)
        assert record["seconds"] == stored.seconds and datetime.fromisoformat(record["created_at"]) == stored.created_at
        assert record["annotator_group"] == ("author" if stored.annotator.username.endswith("author") else "crowd")


def test_exports_stream_and_hide_usernames_unless_asked(client, researcher, make_user):
    study, people = judged_study(researcher, make_user, prompts=3)
    other, _ = judged_study(researcher, make_user, prompts=2, name="other")
    client.force_login(researcher)

    response, text = download(client, study, "judgments", "csv")
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    assert not any(person.username in text for person in people) and "llm-judge" not in text
    rows = list(csv.DictReader(io.StringIO(text)))
    pseudonyms = {row["annotator"] for row in rows}
    assert pseudonyms == {exports.pseudonym(study_pk=study.pk, user_pk=person.pk) for person in people} | {
        exports.pseudonym(study_pk=study.pk, user_pk=judge.pk) for judge in
        {j.annotator for j in Judgment.objects.filter(item__study=study, annotator__username__startswith="llm-judge:")}}
    assert all(len(name) == 12 for name in pseudonyms)

    # Stable within a study (the JSONL file says the same), different in another study.
    _, jsonl = download(client, study, "judgments", "jsonl")
    assert {record["annotator"] for record in jsonl_records(jsonl)} == pseudonyms
    _, other_text = download(client, other, "judgments", "csv")
    assert not pseudonyms & {row["annotator"] for row in csv.DictReader(io.StringIO(other_text))}

    _, named = download(client, study, "judgments", "csv", identities=True)
    assert {person.username for person in people} <= {row["annotator"] for row in csv.DictReader(io.StringIO(named))}


EXPORTS = [(kind, fmt) for kind in exports.KINDS for fmt in exports.FORMATS]


@pytest.mark.parametrize("kind,fmt", EXPORTS)
def test_export_queries_do_not_grow_with_the_rows(client, researcher, make_user, kind, fmt):
    absolute = kind == "ratings"
    counts = []
    for prompts in (2, 12):
        name = f"{kind}-{fmt}-{prompts}"
        annotators = [make_user("annotator", username=f"{name}-{i}") for i in range(2)]
        study = pairwise_study(researcher=researcher, annotators=annotators, prompts=prompts, kind="absolute" if absolute else "pairwise",
                               name=name)
        for annotator in annotators:
            while (assignment := judging.current_assignment(study=study, annotator=annotator)) is not None:
                if absolute:
                    judging.record_rating(study=study, item_public_id=assignment.item.public_id, annotator=annotator, grade="pass")
                else:
                    judging.record_judgment(study=study, item_public_id=assignment.item.public_id, annotator=annotator, side="a")
        client.force_login(researcher)
        with CaptureQueriesContext(connection) as queries:
            _, text = download(client, study, kind, fmt)
        assert text.count("\n") >= prompts
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


def test_items_and_responses_exports_say_which_model_was_on_which_side(client, researcher, make_user):
    study, _ = judged_study(researcher, make_user, prompts=3, with_llm=False)
    client.force_login(researcher)
    _, text = download(client, study, "items", "csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == study.items.count() == 6
    for row in rows:
        item = ComparisonItem.objects.get(public_id=row["item"])
        assert (row["model_a"] == "lima-65b") == item.target_is_a and row["response_a"] == item.text_a
        assert json.loads(row["prompt"]) == item.row.conversations and row["is_shared"] in ("true", "false")
    _, text = download(client, study, "responses", "jsonl")
    records = jsonl_records(text)
    assert len(records) == Response.objects.filter(run__in=[study.target_run, *study.baseline_runs.all()]).count() == 9
    assert {(r["model"], r["role"]) for r in records} == {("lima-65b", "target"), ("alpaca-65b", "baseline"),
                                                           ("davinci-003", "baseline")}
    assert all(r["text"] == Response.objects.get(pk=r["response_id"]).text for r in records)


def test_ratings_export_of_an_absolute_study(client, researcher, make_user):
    raters = [make_user("annotator", username=f"rater{i}") for i in range(2)]
    study = pairwise_study(researcher=researcher, annotators=raters, prompts=3, kind="absolute", name="absolute")
    for rater, grade in zip(raters, ("excellent", "fail")):
        while (assignment := judging.current_assignment(study=study, annotator=rater)) is not None:
            judging.record_rating(study=study, item_public_id=assignment.item.public_id, annotator=rater, grade=grade)
    client.force_login(researcher)
    _, text = download(client, study, "ratings", "jsonl")
    records = jsonl_records(text)
    assert records and {r["model"] for r in records} == {"lima-65b"}
    assert {r["grade"] for r in records} == {"excellent", "fail"} and "rater0" not in text


def test_report_downloads_as_json_and_markdown(client, researcher, make_user):
    study, _ = judged_study(researcher, make_user, prompts=6)
    client.force_login(researcher)
    as_json = client.get(reverse("evaluation:study_report", args=[study.pk, "json"]))
    assert as_json["Content-Type"] == "application/json"
    report = as_json.json()
    assert report == json.loads(json.dumps(stats.report_as_dict(study_report(study))))
    assert {row["baseline"] for row in report["human"]} == {"alpaca-65b", "davinci-003"}

    markdown = client.get(reverse("evaluation:study_report", args=[study.pk, "md"])).content.decode()
    assert markdown.startswith("# Results of study")
    for heading in ("Preference of human annotators (LIMA Figure 1)", "Preference of the LLM judge", "Agreement between annotator groups",
                    "Absolute ratings", "Position bias", "Length bias", "Annotators"):
        assert f"## {heading}" in markdown
    assert "| alpaca-65b |" in markdown and "| crowd-crowd |" in markdown and "nan" not in markdown.lower()


def test_markdown_report_keeps_odd_names_inside_their_cells():
    judgments = [stats.PairwiseJudgment(item=f"p{i}", prompt=f"p{i}", baseline="gpt|4\nnew", annotator=name, group="crowd",
                                             verdict="target") for i in range(3) for name in ("x", "y")]
    markdown = exports.report_markdown(stats.statistics_report(judgments, resamples=50), title="t", target="lima")
    row = next(line for line in markdown.splitlines() if line.startswith("| gpt"))
    assert row.startswith("| gpt\\|4 new |") and row.count(" | ") == 6


def test_results_page_links_the_exports(client, researcher, make_user):
    study, _ = judged_study(researcher, make_user, prompts=2, with_llm=False)
    client.force_login(researcher)
    page = client.get(reverse("evaluation:study_results", args=[study.pk])).content.decode()
    for kind in exports.KINDS:
        assert reverse("evaluation:study_export", args=[study.pk, kind, "csv"]) in page
    assert reverse("evaluation:study_report", args=[study.pk, "md"]) in page and "identities=1" in page


def test_exports_are_for_researchers_only(client, researcher, make_user):
    study, people = judged_study(researcher, make_user, prompts=2, with_llm=False)
    url = reverse("evaluation:study_export", args=[study.pk, "judgments", "csv"])
    assert client.get(url).status_code == 302  # to the login page
    client.force_login(people[0])
    assert client.get(url).status_code == 403
    assert client.get(reverse("evaluation:study_report", args=[study.pk, "json"])).status_code == 403


def test_postgres_formatted_judgments_csv_matches_the_python_writer(researcher, make_user):
    study, _ = judged_study(researcher, make_user, prompts=4)
    Judgment.objects.filter(pk=Judgment.objects.filter(item__study=study).first().pk).update(
        reason='Both fine, but "B" rambles;\nA is crisp\r\nreally')
    from_python = list(csv.reader(io.StringIO("".join(exports.encoded(exports.judgment_export(study), "csv")))))
    from_postgres = list(csv.reader(io.StringIO(b"".join(exports.postgres_judgment_csv(study)).decode())))
    seconds = JUDGMENT_COLUMN_INDEX["seconds"]
    for row in from_python[1:] + from_postgres[1:]:
        row[seconds] = float(row[seconds]) if row[seconds] else None  # 20.0 in Python is 20 in PostgreSQL
    assert from_postgres == from_python and len(from_python) == Judgment.objects.filter(item__study=study).count() + 1


JUDGMENT_COLUMN_INDEX = {name: index for index, name in enumerate(exports.JUDGMENT_COLUMNS)}
