"""Tournament studies (every pair of N runs), external tournaments with no target, and safety studies, end to end
through the services and the researchers' results pages (real PostgreSQL)."""

from __future__ import annotations

import io
from collections import Counter

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from annotation.datasets.lima_format import FormatError, ParsedRow
from annotation.datasets.services import freeze_dataset, import_examples
from annotation.evaluation.judge_prompt import SAFETY_TEMPLATE, parse_safety
from annotation.evaluation.models import ExternalJudgment, Rating, Study
from annotation.evaluation.selectors import external_tournament, study_safety, study_tournament
from annotation.evaluation.services import judging, llm_judge
from annotation.evaluation.services.external_judgments import import_external_judgments
from annotation.models import Example, Status
from generation.models import ModelSpec
from tests.builders import completed_run, prompt_snapshot
from tests.fake_openai import FakeOpenAI

pytestmark = pytest.mark.django_db

# Runs answer with their quality in the text; the annotators below prefer the higher one.
QUALITY = {"strong-model": 3, "mid-model": 2, "weak-model": 1}


def tournament_study(*, researcher, annotators, prompts: int, name: str = "arena") -> Study:
    dataset = prompt_snapshot(user=researcher, n=prompts, name=f"{name}-prompts")
    runs = [completed_run(dataset=dataset, model_name=model, text=lambda row, q=quality: f"Quality {q} answer to {row.position}.")
            for model, quality in QUALITY.items()]
    study = Study.objects.create(name=name, kind=Study.Kind.TOURNAMENT, dataset=dataset, target_run=runs[1], agreement_subset=0,
                                 created_by=researcher, seed=5)
    study.baseline_runs.set([runs[0], runs[2]])
    study.annotators.set(annotators)
    judging.open_study(study=study)
    return study


def _quality(text: str) -> int:
    return int(text.split()[1])


def judge_by_quality(study, annotators, *, upset_prompt: int | None = None):
    """Each annotator picks the better answer, except on prompt `upset_prompt`, where every verdict goes the other way."""
    for annotator in annotators:
        while (assignment := judging.current_assignment(study=study, annotator=annotator)) is not None:
            item = assignment.item
            a_better = _quality(item.text_a) > _quality(item.text_b)
            if item.text_a.endswith(f" to {upset_prompt}."):
                a_better = not a_better
            judging.record_judgment(study=study, item_public_id=item.public_id, annotator=annotator, side="a" if a_better else "b")


def test_a_tournament_pairs_every_run_with_every_other_on_every_prompt(researcher, make_user):
    study = tournament_study(researcher=researcher, annotators=[make_user("annotator")], prompts=4)
    items = list(study.items.select_related("target_response__run__model", "baseline_run__model"))
    pairs = Counter(frozenset((item.target_response.run.model.name, item.baseline_run.model.name)) for item in items)
    assert len(items) == 12 and set(pairs.values()) == {4} and len(pairs) == 3
    firsts = Counter(item.target_response.run.model.name for item in items)
    assert set(firsts.values()) == {4}  # balanced: each run is the pair's first in one of its two pairs


def test_tournament_results_rank_the_runs_and_show_the_win_matrix(client, researcher, make_user):
    # Three annotators, each shown a prompt once, judge all 8 prompts x 3 pairs.
    annotators = [make_user("annotator", username=f"arena{i}") for i in range(3)]
    study = tournament_study(researcher=researcher, annotators=annotators, prompts=8)
    judge_by_quality(study, annotators, upset_prompt=0)
    boards = study_tournament(study, resamples=50)
    assert boards["human"].models == ["strong-model", "mid-model", "weak-model"]
    assert boards["human"].n_battles == 24 and not boards["llm"].n_battles
    client.force_login(researcher)
    page = client.get(reverse("evaluation:study_results", args=[study.pk])).content.decode()
    board = page[page.index('id="tournament-human"'):]
    assert board.index("strong-model") < board.index("mid-model") < board.index("weak-model")
    assert "win-matrix" in board and "<svg" in board
    assert "Preference (as LIMA" not in page  # Figure 1 is one target against baselines: not a tournament's chart


def test_a_tournament_study_needs_two_runs(client, researcher, make_user):
    dataset = prompt_snapshot(user=researcher, n=2, name="solo-prompts")
    run = completed_run(dataset=dataset, model_name="solo")
    client.force_login(researcher)
    response = client.post(reverse("evaluation:study_list"), {
        "name": "solo", "kind": "tournament", "dataset": dataset.pk, "target_run": run.pk, "overlap": 1, "agreement_subset": 0,
        "absolute_sample": 2, "one_prompt_per_annotator": "true"})
    assert response.status_code == 422 and "a tournament compares at least two runs" in response.content.decode()


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_tournament_results_page_queries_do_not_grow_with_the_study(client, researcher, make_user):
    small_pool = [make_user("annotator", username=f"s{i}") for i in range(2)]
    small = tournament_study(researcher=researcher, annotators=small_pool, prompts=3, name="small")
    judge_by_quality(small, small_pool)
    large_pool = [make_user("annotator", username=f"l{i}") for i in range(4)]
    large = tournament_study(researcher=researcher, annotators=large_pool, prompts=12, name="large")
    judge_by_quality(large, large_pool, upset_prompt=1)
    client.force_login(researcher)
    counts = [_queries(client, reverse("evaluation:study_results", args=[study.pk])) for study in (small, large)]
    assert counts[0] == counts[1] <= 12


TOURNAMENT_CSV = """prompt_id,model_a,model_b,verdict,annotator,annotator_group
p1,gpt-4,claude,a,ann1,crowd
p1,claude,gpt-4,b,ann2,crowd
p1,claude,bard,claude,ann1,crowd
p2,bard,gpt-4,b,ann1,crowd
p2,claude,bard,tie,ann2,crowd
p3,gpt-4,bard,gpt-4,ann1,crowd
p3,bard,claude,b,ann2,crowd
p4,claude,gpt-4,a,ann1,crowd
p4,gpt-4,bard,a,judge,llm
p4,claude,bard,a,judge,llm
"""


def test_an_external_tournament_without_a_target_is_rated_by_bradley_terry(client, researcher):
    with pytest.raises(FormatError, match="no model appears in every row"):
        import_external_judgments(name="t", stream=io.BytesIO(TOURNAMENT_CSV.encode()), filename="t.csv", user=researcher)
    with pytest.raises(FormatError, match="a tournament has no target"):
        import_external_judgments(name="t", stream=io.BytesIO(TOURNAMENT_CSV.encode()), filename="t.csv", user=researcher,
                                  target="gpt-4", tournament=True)
    judgment_set = import_external_judgments(name="arena", stream=io.BytesIO(TOURNAMENT_CSV.encode()), filename="t.csv",
                                             user=researcher, tournament=True)
    assert judgment_set.is_tournament and sorted(judgment_set.baselines) == ["bard", "claude", "gpt-4"]
    # Two annotators saw p1's pair in opposite orders and both preferred gpt-4: stored as one item, one verdict.
    p1 = ExternalJudgment.objects.filter(judgment_set=judgment_set, prompt="p1", baseline="gpt-4")
    assert {(j.model, j.verdict) for j in p1} == {("claude", "baseline")} and p1.count() == 2
    boards = external_tournament(judgment_set, resamples=50)
    assert boards["human"].n_battles == 8 and boards["llm"].n_battles == 2
    human = {r.model: r for r in boards["human"].ratings}
    assert (human["gpt-4"].wins, human["gpt-4"].losses) == (4, 1) and human["claude"].ties == 1
    client.force_login(researcher)
    page = client.get(reverse("evaluation:external_results", args=[judgment_set.pk])).content.decode()
    assert 'id="tournament-human"' in page and 'id="tournament-llm"' in page and "Preference (as LIMA" not in page


def test_an_external_tournament_uploaded_through_the_form(client, researcher):
    client.force_login(researcher)
    upload = io.BytesIO(TOURNAMENT_CSV.encode())
    upload.name = "arena.csv"
    response = client.post(reverse("evaluation:external_list"), {"name": "arena", "file": upload, "tournament": "on", "seed": 1})
    assert response.status_code == 302
    listing = client.get(reverse("evaluation:external_list")).content.decode()
    assert "tournament" in listing


def test_the_api_imports_a_tournament_and_serves_its_leaderboard(client, researcher):
    client.force_login(researcher)
    upload = io.BytesIO(TOURNAMENT_CSV.encode())
    upload.name = "arena.csv"
    created = client.post("/api/external-judgments/", {"name": "api arena", "file": upload, "tournament": "true"})
    assert created.status_code == 201, created.content
    board = client.get(f"/api/external-judgments/{created.json()['id']}/leaderboard/").json()
    assert [r["model"] for r in board["human"]["ratings"]][0] == "gpt-4" and board["human"]["n_battles"] == 8
    assert board["human"]["win_rate"][0][0] is None


def test_external_results_page_queries_do_not_grow_with_the_set(client, researcher):
    rows = TOURNAMENT_CSV.strip().splitlines()
    bigger = "\n".join(rows + [line.replace("p", "q", 1).replace("ann", "more") for line in rows[1:]] * 1) + "\n"
    small = import_external_judgments(name="s", stream=io.BytesIO(TOURNAMENT_CSV.encode()), filename="s.csv", user=researcher,
                                      tournament=True)
    large = import_external_judgments(name="l", stream=io.BytesIO(bigger.encode()), filename="l.csv", user=researcher,
                                      tournament=True)
    assert large.judgment_count == 2 * small.judgment_count
    client.force_login(researcher)
    counts = [_queries(client, reverse("evaluation:external_results", args=[s.pk])) for s in (small, large)]
    assert counts[0] == counts[1] <= 8


# --- safety ---------------------------------------------------------------------------------------

def sensitive_snapshot(*, researcher, prompts: int, sensitive: int, name: str):
    rows = [ParsedRow(line=i + 1, split="test", source="authored", conversations=[f"{name} prompt {i}: how do I do this?"])
            for i in range(prompts)]
    import_examples(rows=rows, user=researcher, status=Status.APPROVED)
    flagged = Example.objects.filter(split="test", turns__text__startswith=f"{name} prompt").order_by("pk")[:sensitive]
    Example.objects.filter(pk__in=[e.pk for e in flagged]).update(is_sensitive=True)
    return freeze_dataset(name=f"{name}-prompts", split="test", user=researcher)


def safety_study(*, researcher, annotators, prompts: int = 8, sensitive: int = 5, name: str = "safety") -> Study:
    dataset = sensitive_snapshot(researcher=researcher, prompts=prompts, sensitive=sensitive, name=name)
    careful = completed_run(dataset=dataset, model_name="careful-model", text=lambda row: f"Primary: I cannot help with {row.position}.")
    reckless = completed_run(dataset=dataset, model_name="reckless-model", text=lambda row: f"Sure, here is how ({row.position}).")
    study = Study.objects.create(name=name, kind=Study.Kind.SAFETY, dataset=dataset, target_run=careful, created_by=researcher,
                                 seed=3, agreement_subset=0)
    study.baseline_runs.set([reckless])
    study.annotators.set(annotators)
    judging.open_study(study=study)
    return study


def test_a_safety_study_rates_every_runs_responses_to_the_sensitive_prompts(client, researcher, make_user):
    annotators = [make_user("annotator", username=f"safe{i}") for i in range(2)]
    study = safety_study(researcher=researcher, annotators=annotators)
    assert study.items.count() == 10 and not study.items.filter(row__is_sensitive=False).exists()
    for annotator in annotators:
        while (assignment := judging.current_assignment(study=study, annotator=annotator)) is not None:
            grade = "safe" if "cannot help" in assignment.item.text_a else "unsafe"
            with pytest.raises(Exception, match="Safe or Partially safe or Unsafe"):
                judging.record_rating(study=study, item_public_id=assignment.item.public_id, annotator=annotator, grade="excellent")
            judging.record_rating(study=study, item_public_id=assignment.item.public_id, annotator=annotator, grade=grade)
    by_model = {m.model: m for m in study_safety(study, resamples=200)["human"]}
    assert by_model["careful-model"].safe.estimate == 1.0 and by_model["reckless-model"].safe.estimate == 0.0
    client.force_login(researcher)
    page = client.get(reverse("evaluation:study_results", args=[study.pk])).content.decode()
    section = page[page.index('id="safety-human"'):]
    assert "careful-model" in section and "100%" in section and "<svg" in section


def test_a_safety_study_without_sensitive_prompts_does_not_open(researcher, make_user):
    dataset = sensitive_snapshot(researcher=researcher, prompts=3, sensitive=0, name="plain")
    run = completed_run(dataset=dataset, model_name="m")
    study = Study.objects.create(name="s", kind=Study.Kind.SAFETY, dataset=dataset, target_run=run, created_by=researcher)
    with pytest.raises(Exception, match="no sensitive prompt"):
        judging.open_study(study=study)


def test_a_new_safety_study_gets_the_papers_guidelines(client, researcher, make_user):
    dataset = sensitive_snapshot(researcher=researcher, prompts=3, sensitive=2, name="guide")
    run = completed_run(dataset=dataset, model_name="m")
    client.force_login(researcher)
    response = client.post(reverse("evaluation:study_list"), {
        "name": "guided", "kind": "safety", "dataset": dataset.pk, "target_run": run.pk, "overlap": 1, "agreement_subset": 0,
        "absolute_sample": 2, "one_prompt_per_annotator": "true"})
    assert response.status_code == 302
    study = Study.objects.get(name="guided")
    assert "Partially safe" in study.guidelines and "80%" in study.guidelines


def test_parse_safety_reads_the_three_labels():
    assert parse_safety("Safe\nIt declines.") == "safe"
    assert parse_safety("**Partially safe**: it warns but answers.") == "partial"
    assert parse_safety("Partially-safe") == "partial"
    assert parse_safety("Unsafe.") == "unsafe"
    assert parse_safety("Thinking...\nRating: not safe") == "unsafe"
    assert parse_safety("It depends.") is None


def test_the_llm_judge_grades_safety_once_per_response(researcher, make_user, openai_server):
    FakeOpenAI.reply = staticmethod(lambda body: "Safe\nIt declines." if "Primary" in body["messages"][-1]["content"]
                                    else "Unsafe\nIt complies.")
    study = safety_study(researcher=researcher, annotators=[make_user("annotator")], name="judged")
    judge = ModelSpec.objects.create(name="gpt-4-judge", backend="openai", location=openai_server, served_model_name="gpt-4",
                                     requests_per_minute=6000)
    with pytest.raises(Exception, match="lacks"):
        llm_judge.start_llm_judge(study=study, model=judge, template="{prompt} {response_a} {response_b}", user=researcher)
    run = llm_judge.start_llm_judge(study=study, model=judge, template=SAFETY_TEMPLATE, user=researcher)
    item_ids = list(study.items.values_list("pk", flat=True))
    assert llm_judge.judge_items(judge_run_id=run.pk, item_ids=item_ids) == 10
    assert llm_judge.judge_items(judge_run_id=run.pk, item_ids=item_ids) == 0  # a redelivered chunk stores nothing twice
    run.refresh_from_db()
    assert run.status == "completed" and len(FakeOpenAI.seen) == 10
    assert Counter(Rating.objects.filter(annotator=run.judge_user).values_list("grade", flat=True)) == {"safe": 5, "unsafe": 5}
    llm = {m.model: m for m in study_safety(study, resamples=100)["llm"]}
    assert llm["careful-model"].safe.estimate == 1.0 and llm["reckless-model"].safe.estimate == 0.0
    assert llm_judge.judge_progress(run)["percent"] == 100
