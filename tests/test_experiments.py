"""Ablation experiments end to end on this machine: variants frozen from what the platform holds, trained with the
local launcher on the tiny model, sampled on dev by a real Celery worker, graded by an LLM judge (the local
OpenAI-compatible fake), and summarised as mean helpfulness per variant with 95% intervals."""

from __future__ import annotations

import json
import time
import zlib

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from annotation.datasets.lima_format import ParsedRow
from annotation.datasets.services import import_examples
from annotation.models import Example, Status
from generation.models import ModelSpec, Response
from lima_site.orchestration import experiments, helpfulness
from lima_site.orchestration.models import Experiment, HelpfulnessGrade, Variant
from tests.builders import tiny_model_spec
from tests.fake_openai import FakeOpenAI
from tests.training_support import dev_snapshot
from tests.workers import wait_for
from training.models import RunState, TrainingRun

QUICK = {"epochs": 1, "batch_size": 4, "micro_batch_size": 2, "learning_rate": 1e-3, "final_learning_rate": 1e-4}


def judge_score(text: str) -> int:
    """The fake judge's rule: a score any test can recompute from the response it was shown."""
    return zlib.crc32(text.encode()) % 6 + 1


def judge_reply(body: dict) -> str:
    content = body["messages"][-1]["content"]
    submission = content.split("[Submission]: ", 1)[1].split("\n***\n[Criterion]", 1)[0]
    score = judge_score(submission)
    return f"The submission is weighed against the rubric.\nIt scores {score} of 6 overall.\n{score}\n{score}"


def mined(source: str, n: int, *, status: str, user, tag: str) -> None:
    rows = [ParsedRow(line=i + 1, split="train", source=source,
                      conversations=[f"{tag} {source} question {i}: how does one do it?", f"Certainly. {tag} answer {i} explains it."])
            for i in range(n)]
    import_examples(rows=rows, user=user, status=status)


def platform_data(user):
    mined("stackexchange_stem", 8, status=Status.APPROVED, user=user, tag="Curated")
    mined("stackexchange_stem", 4, status=Status.REJECTED, user=user, tag="Rejected")
    mined("wikihow", 4, status=Status.APPROVED, user=user, tag="Curated")
    return dev_snapshot(user=user, n=2, name="ablation-dev")


def judge_model(url: str) -> ModelSpec:
    return ModelSpec.objects.create(name="helpfulness-judge", backend="openai", location=url, served_model_name="judge-model",
                                    requests_per_minute=6000)


def queued(run):
    """A submit that launches nothing: the job waits in a queue (for tests of the driver alone)."""
    TrainingRun.objects.filter(pk=run.pk).update(state=RunState.PENDING, job_id="4242")
    run.refresh_from_db()
    return run


@pytest.fixture
def experiment_env(settings, tmp_path, monkeypatch):
    settings.LIMA_TRAINING_DIR = tmp_path / "training"
    monkeypatch.setenv("LIMA_TRAINING_DIR", str(tmp_path / "training"))
    monkeypatch.setenv("LIMA_EXPERIMENT_POLL_SECONDS", "1")


def test_an_ablation_runs_end_to_end_on_the_tiny_model(researcher, tiny_model, openai_server, experiment_env, start_worker,
                                                       client):
    FakeOpenAI.reply = staticmethod(judge_reply)
    dev = platform_data(researcher)
    specs = helpfulness.plan_variants(source_groups=[["stackexchange_stem"], ["wikihow"]], size=4, unfiltered=True,
                                      doublings=1, seeds=1)
    assert [s.label for s in specs] == ["stackexchange_stem · filtered · 4 · seed 0", "stackexchange_stem · unfiltered · 4 · seed 0",
                                        "wikihow · filtered · 4 · seed 0", "wikihow · unfiltered · 4 · seed 0",
                                        "stackexchange_stem · filtered · 8 · seed 0"]
    start_worker()
    started = time.monotonic()
    experiment = experiments.create_experiment(
        name="diversity quality quantity", base_model=tiny_model_spec(), dev_dataset=dev, judge_model=judge_model(openai_server),
        user=researcher, variants=specs, hyperparameters=QUICK, launcher="local", samples_per_prompt=2,
        decoding={"max_new_tokens": 12})
    wait_for(lambda: Experiment.objects.get(pk=experiment.pk).state != Experiment.State.RUNNING, timeout=900, interval=1,
             what="the experiment to finish")
    wall = time.monotonic() - started
    experiment.refresh_from_db()
    variants = list(experiment.variants.select_related("snapshot", "training_run", "checkpoint"))
    assert experiment.state == Experiment.State.COMPLETED, [(v.label, v.stage, v.error) for v in variants]
    assert [v.stage for v in variants] == [Variant.Stage.DONE] * 5
    for variant in variants:
        rows = list(variant.snapshot.rows.all())
        assert len(rows) == variant.size and {r.source for r in rows} == set(variant.sources)
        statuses = set(Example.objects.filter(pk__in=[r.example_id for r in rows]).values_list("status", flat=True))
        assert statuses == {Status.APPROVED} if variant.quality_filter else statuses <= {Status.APPROVED, Status.REJECTED}
        run = variant.training_run
        assert run.state == RunState.COMPLETED and run.launcher == "local" and run.dataset_id == variant.snapshot_id
        assert run.hyperparameters == experiment.hyperparameters and run.base_model_id == experiment.base_model_id
        assert run.result_id == variant.checkpoint_id and variant.checkpoint.epoch == 1
        generation = list(variant.generation_runs.order_by("seed"))
        assert [(g.seed, g.model_id, g.dataset_id, g.decoding["max_new_tokens"]) for g in generation] == [
            (0, variant.checkpoint.model_id, dev.pk, 12), (1, variant.checkpoint.model_id, dev.pk, 12)]
        grades = list(HelpfulnessGrade.objects.filter(variant=variant).select_related("response"))
        assert len(grades) == 4  # 2 dev prompts x 2 samples, each graded once
        assert all(g.score == judge_score(g.response.text) and not g.error for g in grades)
    # The unfiltered Stack Exchange variant drew from rejected answers too (seeded sample of 4 out of 12).
    assert HelpfulnessGrade.objects.count() == 20 and TrainingRun.objects.count() == 5
    asked = [seen["body"]["messages"][-1]["content"] for seen in FakeOpenAI.seen if seen["body"]]
    assert len(asked) == 20 and all(experiment.judge_template.split("{prompt}")[0] in a for a in asked)
    points = experiments.variant_points(experiment)
    for point in points:
        by_prompt = {}
        for grade in HelpfulnessGrade.objects.filter(variant=point.variant).select_related("response"):
            by_prompt.setdefault(grade.response.row_id, []).append(grade.score)
        mean = sum(sum(s) for s in by_prompt.values()) / 4
        assert point.score.mean == pytest.approx(mean) and point.score.low <= mean <= point.score.high
        assert point.score.n_scores == 4 and point.score.n_prompts == 2
    client.force_login(researcher)
    page = client.get(reverse("experiments:experiment_detail", args=[experiment.pk]))
    assert page.status_code == 200
    for variant in variants:
        assert reverse("training:run_detail", args=[variant.training_run_id]).encode() in page.content
        assert reverse("datasets:dataset_detail", args=[variant.snapshot_id]).encode() in page.content
    chart = client.get(reverse("experiments:experiment_chart", args=[experiment.pk]))
    assert chart["Content-Type"].startswith("image/svg+xml")
    for variant in variants:
        assert reverse("experiments:variant_detail", args=[experiment.pk, variant.position]).encode() in chart.content
    record = {"wall_seconds": round(wall, 1), "variants": len(variants),
              "points": [{"variant": p.variant.label, "mean": round(p.score.mean, 3), "low": round(p.score.low, 3),
                          "high": round(p.score.high, 3)} for p in points]}
    print("ablation on the tiny model:", json.dumps(record))


@pytest.mark.django_db
def test_a_variant_larger_than_the_platform_holds_is_refused_and_nothing_is_created(researcher, tiny_model, settings, tmp_path):
    settings.LIMA_TRAINING_DIR = tmp_path / "training"
    dev = platform_data(researcher)
    judge = ModelSpec.objects.create(name="judge", backend="openai", location="https://judge.example/v1", served_model_name="j")
    base = tiny_model_spec()
    too_many = helpfulness.plan_variants(source_groups=[["wikihow"]], size=4, unfiltered=False, doublings=1, seeds=1)
    with pytest.raises(ValidationError) as error:
        experiments.create_experiment(name="too big", base_model=base, dev_dataset=dev, judge_model=judge, user=researcher,
                                      variants=too_many, launcher="local")
    assert error.value.message_dict["variants"] == [
        "variant 2 (wikihow · filtered · 8 · seed 0) needs 8 examples; the platform holds 4 that match"]
    train = Variant  # keep the name honest below: a train snapshot is not a dev set
    with pytest.raises(ValidationError) as error:
        experiments.create_experiment(
            name="bad", base_model=base, dev_dataset=dev, judge_model=judge, user=researcher, launcher="nowhere",
            variants=helpfulness.plan_variants(source_groups=[["reddit_writingprompts"]], size=None, unfiltered=False,
                                               doublings=0, seeds=1),
            judge_template="Rate {response}", samples_per_prompt=0, hyperparameters={"epochs": 0})
    assert set(error.value.message_dict) == {"launcher", "variants", "judge_template", "samples_per_prompt", "hyperparameters"}
    assert "lacks {prompt}" in error.value.message_dict["judge_template"][0]
    assert not Experiment.objects.exists() and not train.objects.exists() and not TrainingRun.objects.exists()
    assert not Response.objects.exists()


@pytest.mark.django_db
def test_the_same_seed_draws_the_same_rows_and_another_seed_others(researcher):
    mined("stackexchange_stem", 8, status=Status.APPROVED, user=researcher, tag="Curated")
    mined("stackexchange_stem", 4, status=Status.REJECTED, user=researcher, tag="Rejected")
    mined("stackexchange_stem", 3, status=Status.DRAFT, user=researcher, tag="Draft")
    filtered = experiments.variant_example_ids(sources=["stackexchange_stem"], quality_filter=True)
    unfiltered = experiments.variant_example_ids(sources=["stackexchange_stem"], quality_filter=False)
    assert len(filtered) == 8 and len(unfiltered) == 12  # drafts are never data
    first = experiments.sample_rows(unfiltered, size=4, seed=0)
    assert first == experiments.sample_rows(unfiltered, size=4, seed=0)
    assert first != experiments.sample_rows(unfiltered, size=4, seed=1)


@pytest.mark.django_db
def test_the_form_shows_every_field_once_with_the_7b_preset():
    from lima_site.orchestration.forms_experiments import ExperimentForm

    form = ExperimentForm()
    shown = [field.name for _, fields in form.fieldsets() for field in fields]
    assert sorted(shown) == sorted(form.fields) and len(shown) == len(set(shown))
    assert form.fields["batch_size"].initial == 64 and form.fields["residual_dropout_top"].initial == 0.2
    values = [value for value, _ in form.fields["sources"].choices]
    assert len(values) == len(set(values))  # a group never shares its value with a single source


@pytest.mark.django_db
def test_the_experiment_page_costs_the_same_queries_with_more_variants_and_grades(researcher, client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.builders import completed_run

    dev = dev_snapshot(user=researcher, n=3, name="pages-dev")
    judge = ModelSpec.objects.create(name="judge", backend="openai", location="https://judge.example/v1", served_model_name="j")
    experiment = Experiment.objects.create(name="pages", base_model=judge, hyperparameters={}, launcher="local",
                                           dev_dataset=dev, judge_model=judge, judge_template=helpfulness.DEFAULT_TEMPLATE,
                                           created_by=researcher)
    client.force_login(researcher)

    def add_variants(n: int) -> None:
        start = experiment.variants.count()
        for position in range(start, start + n):
            variant = Variant.objects.create(experiment=experiment, position=position, label=f"variant {position}",
                                             sources=["wikihow"], quality_filter=True, stage=Variant.Stage.DONE)
            for seed in range(2):
                run = completed_run(dataset=dev, model_name=f"m{position}-{seed}")
                variant.generation_runs.add(run)
                HelpfulnessGrade.objects.bulk_create(HelpfulnessGrade(variant=variant, response=r, score=1 + (r.pk + seed) % 6)
                                                     for r in run.responses.all())

    def queries(url: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    detail = reverse("experiments:experiment_detail", args=[experiment.pk])
    variant_page = reverse("experiments:variant_detail", args=[experiment.pk, 0])
    add_variants(2)
    few = (queries(detail), queries(variant_page), queries(reverse("experiments:experiment_list")))
    add_variants(6)
    assert HelpfulnessGrade.objects.count() == 8 * 2 * 3
    assert (queries(detail), queries(variant_page), queries(reverse("experiments:experiment_list"))) == few
    assert b"variant 7" in client.get(detail).content


@pytest.mark.django_db
def test_a_variant_that_breaks_is_marked_failed_and_the_others_go_on(researcher, tiny_model, settings, tmp_path, monkeypatch):
    settings.LIMA_TRAINING_DIR = tmp_path / "training"
    dev = platform_data(researcher)
    judge = ModelSpec.objects.create(name="judge", backend="openai", location="https://judge.example/v1", served_model_name="j")
    specs = helpfulness.plan_variants(source_groups=[["stackexchange_stem"], ["wikihow"]], size=4, unfiltered=False,
                                      doublings=0, seeds=1)
    experiment = experiments.create_experiment(name="fragile", base_model=tiny_model_spec(), dev_dataset=dev, judge_model=judge,
                                               user=researcher, variants=specs, hyperparameters=QUICK, launcher="local")
    real_freeze = experiments.freeze_dataset

    def freeze_breaking_on_wikihow(**kwargs):
        if "wikihow" in kwargs["description"]:
            raise RuntimeError("disk full")
        return real_freeze(**kwargs)

    monkeypatch.setattr(experiments, "freeze_dataset", freeze_breaking_on_wikihow)
    monkeypatch.setattr(experiments.training_runs, "submit_run", queued)
    monkeypatch.setattr(experiments.training_runs, "refresh_run", lambda run: run)
    assert experiments.advance_experiment(experiment_id=experiment.pk) == "running"
    first, second = experiment.variants.order_by("position")
    assert (first.stage, second.stage) == (Variant.Stage.TRAINING, Variant.Stage.FAILED)
    assert second.error == "unexpected error: RuntimeError('disk full')" and second.snapshot_id is None
    assert first.snapshot.rows.count() == 4 and TrainingRun.objects.get().dataset_id == first.snapshot_id


@pytest.mark.django_db
def test_beats_safety_net_advances_an_experiment_whose_chain_was_lost(researcher, tiny_model, settings, tmp_path, monkeypatch):
    from lima_site.orchestration import tasks

    settings.LIMA_TRAINING_DIR = tmp_path / "training"
    dev = platform_data(researcher)
    judge = ModelSpec.objects.create(name="judge", backend="openai", location="https://judge.example/v1", served_model_name="j")
    experiment = experiments.create_experiment(
        name="orphaned", base_model=tiny_model_spec(), dev_dataset=dev, judge_model=judge, user=researcher, launcher="local",
        variants=helpfulness.plan_variants(source_groups=[["wikihow"]], size=2, unfiltered=False, doublings=0, seeds=1),
        hyperparameters=QUICK)
    monkeypatch.setattr(experiments.training_runs, "submit_run", queued)
    monkeypatch.setattr(experiments.training_runs, "refresh_run", lambda run: run)
    assert tasks.advance_running_experiments() == [experiment.pk]  # the chain's first task never ran (no worker here)
    variant = experiment.variants.get()
    assert variant.stage == Variant.Stage.TRAINING and variant.snapshot.row_count == 2
    assert "advance-running-experiments" in settings.CELERY_BEAT_SCHEDULE
