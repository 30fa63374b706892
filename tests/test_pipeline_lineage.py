"""The study at a glance: the researcher's home page shows the pipeline with live counts, and every verdict has a
lineage page back to the examples a checkpoint was trained on (researchers only). Query counts stay constant."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from annotation.evaluation.models import Judgment, Study
from annotation.evaluation.services import judging
from generation.models import GenerationRun, ModelSpec, Response, RunStatus
from tests.builders import completed_run, prompt_snapshot
from tests.training_support import train_snapshot
from training.models import Checkpoint, RunState, TrainingRun

pytestmark = pytest.mark.django_db

STAGES = ("quotas", "snapshots", "training", "checkpoints", "generation", "studies", "results")


def trained_checkpoint(*, researcher, name: str, examples: int = 4, state=RunState.COMPLETED) -> Checkpoint:
    dataset = train_snapshot(user=researcher, n=examples, name=f"{name}-train")
    base, _ = ModelSpec.objects.get_or_create(name="base-7b", defaults={"backend": "imported"})
    run = TrainingRun.objects.create(name=name, dataset=dataset, base_model=base, hyperparameters={"epochs": 15, "learning_rate": 1e-5},
                                     run_dir=f"/tmp/{name}", script="#!/bin/sh", dataset_hash=dataset.content_hash,
                                     base_config_hash="0" * 64, state=state)
    model = ModelSpec.objects.create(name=f"{name}-epoch-7", backend="imported")
    return Checkpoint.objects.create(run=run, epoch=7, path=f"/tmp/{name}/epoch-7", model=model)


def checkpoint_study(*, researcher, annotators, name: str, prompts: int = 3) -> Study:
    """The checkpoint's responses against an imported baseline, judged by everyone."""
    checkpoint = trained_checkpoint(researcher=researcher, name=f"{name}-run")
    prompts_snapshot = prompt_snapshot(user=researcher, n=prompts, name=f"{name}-prompts")
    run = GenerationRun.objects.create(model=checkpoint.model, dataset=prompts_snapshot, decoding={"top_p": 0.9, "temperature": 0.7},
                                       seed=3, total=prompts, status=RunStatus.COMPLETED)
    Response.objects.bulk_create(Response(run=run, row=row, text=f"Checkpoint answer {row.position}.")
                                 for row in prompts_snapshot.rows.all())
    baseline = completed_run(dataset=prompts_snapshot, model_name=f"{name}-davinci")
    study = Study.objects.create(name=name, dataset=prompts_snapshot, target_run=run, created_by=researcher, seed=1, agreement_subset=0)
    study.baseline_runs.set([baseline])
    study.annotators.set(annotators)
    judging.open_study(study=study)
    for annotator in annotators:
        while (assignment := judging.current_assignment(study=study, annotator=annotator)) is not None:
            judging.record_judgment(study=study, item_public_id=assignment.item.public_id, annotator=annotator, side="a")
    return study


def _queries(client, url: str) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured), response.content.decode()


def test_the_researchers_home_shows_every_stage_with_live_counts(client, researcher, make_user):
    client.force_login(researcher)
    _, empty = _queries(client, reverse("home"))
    assert all(f'id="stage-{key}"' in empty for key in STAGES) and "not started" in empty
    study = checkpoint_study(researcher=researcher, annotators=[make_user("annotator")], name="glance")
    trained_checkpoint(researcher=researcher, name="still-training", state=RunState.RUNNING)
    _, page = _queries(client, reverse("home"))
    training = page[page.index('id="stage-training"'):page.index('id="stage-checkpoints"')]
    assert 'class="stage stage-active" id="stage-training"' in page
    assert ">2<" in training and "1 running or queued" in training
    results = page[page.index('id="stage-results"'):]
    assert reverse("evaluation:study_results", args=[study.pk]) in results and ">3<" in results  # three verdicts
    live = client.get(reverse("orchestration:pipeline_live")).content.decode()
    assert live.strip().startswith('<ol class="pipeline"') and 'hx-trigger="every 10s"' in live


def test_annotators_see_no_pipeline_and_cannot_open_it_or_a_lineage(client, researcher, make_user):
    annotator = make_user("annotator")
    study = checkpoint_study(researcher=researcher, annotators=[annotator], name="hidden")
    judgment = Judgment.objects.filter(item__study=study).first()
    client.force_login(annotator)
    home = client.get(reverse("home")).content.decode()
    assert "pipeline" not in home and "hidden-run" not in home
    assert client.get(reverse("orchestration:pipeline_live")).status_code == 403
    assert client.get(reverse("orchestration:verdict_lineage", args=["judgment", judgment.pk])).status_code == 403


def test_a_judgment_traces_back_to_the_checkpoint_training_run_snapshot_and_examples(client, researcher, make_user):
    study = checkpoint_study(researcher=researcher, annotators=[make_user("annotator", username="tracer")], name="traced")
    judgment = Judgment.objects.select_related("item").filter(item__study=study).first()
    client.force_login(researcher)
    detail = client.get(reverse("evaluation:study_detail", args=[study.pk])).content.decode()
    url = reverse("orchestration:verdict_lineage", args=["judgment", judgment.pk])
    assert url in detail  # the study page lists its latest verdicts with their lineage
    page = client.get(url).content.decode()
    target = page[page.index('id="lineage-target"'):page.index('id="lineage-baseline"')]
    assert "traced-run-epoch-7" in target and "epoch 7" in target and "traced-run" in target and "traced-run-train" in target
    assert "How long should tea number 0 steep?" in target and reverse("annotation:example_detail", args=[
        study.target_run.model.checkpoint.run.dataset.rows.order_by("position").first().example_id]) in target
    shown = "A" if judgment.item.target_is_a else "B"
    assert f"Target response (shown as {shown})" in target
    baseline = page[page.index('id="lineage-baseline"'):]
    assert "traced-davinci" in baseline and "not a checkpoint trained here" in baseline
    assert "tracer" in page and reverse("datasets:dataset_detail", args=[study.dataset_id]) in page
    assert client.get(reverse("orchestration:verdict_lineage", args=["rating", judgment.pk])).status_code == 404


def test_home_and_lineage_queries_do_not_grow_with_the_data(client, researcher, make_user):
    client.force_login(researcher)
    small = checkpoint_study(researcher=researcher, annotators=[make_user("annotator")], name="small", prompts=2)
    home_small, _ = _queries(client, reverse("home"))
    lineage_small, _ = _queries(client, reverse("orchestration:verdict_lineage",
                                                args=["judgment", Judgment.objects.filter(item__study=small).first().pk]))
    large = checkpoint_study(researcher=researcher, annotators=[make_user("annotator") for _ in range(3)], name="large", prompts=9)
    trained_checkpoint(researcher=researcher, name="another", examples=30)
    home_large, _ = _queries(client, reverse("home"))
    lineage_large, _ = _queries(client, reverse("orchestration:verdict_lineage",
                                                args=["judgment", Judgment.objects.filter(item__study=large).first().pk]))
    assert home_small == home_large <= 16
    assert lineage_small == lineage_large <= 8
