"""Training runs through services, pages and the API: validation, the local launcher, checkpoints as models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from annotation.datasets.models import DatasetRow
from generation.local_model import config_hash
from generation.models import ModelSpec
from tests.builders import tiny_model_spec
from tests.training_support import dev_snapshot, train_snapshot
from tests.workers import wait_for
from training import slurm
from training.models import Checkpoint, RunState, TrainingRun
from training.services import checkpoints, runs

pytestmark = pytest.mark.django_db

QUICK = {"epochs": 2, "batch_size": 4, "micro_batch_size": 2, "learning_rate": 1e-3, "final_learning_rate": 1e-4,
         "weights_epochs": "all"}


@pytest.fixture(autouse=True)
def run_dirs(settings, tmp_path):
    settings.LIMA_TRAINING_DIR = tmp_path / "training"


def finished(run: TrainingRun, timeout: float = 180) -> TrainingRun:
    wait_for(lambda: not runs.refresh_run(run=run).is_active, timeout=timeout, what=f"run {run.pk} to finish")
    run.refresh_from_db()
    return run


def test_a_run_records_what_reproduces_it_and_writes_its_directory(researcher, tiny_model):
    dataset = train_snapshot(user=researcher)
    run = runs.create_run(dataset=dataset, base_model=tiny_model_spec(), user=researcher, hyperparameters=QUICK)
    assert run.state == RunState.DRAFT and not run.job_id
    assert run.dataset_hash == dataset.content_hash
    assert run.base_config_hash == config_hash(ModelSpec.objects.get(name="tiny-llama").location)
    assert run.code_version and run.hyperparameters["residual_dropout_top"] == 0.3 and run.hyperparameters["epochs"] == 2
    run_dir = Path(run.run_dir)
    assert (run_dir / "job.sbatch").read_text() == run.script
    config = json.loads((run_dir / "run.json").read_text())
    assert config["provenance"]["dataset_hash"] == dataset.content_hash and config["hyperparameters"] == run.hyperparameters
    assert len((run_dir / "data.jsonl").read_text().splitlines()) == 6


def test_an_altered_snapshot_is_refused_and_nothing_is_created(researcher, tiny_model):
    dataset = train_snapshot(user=researcher)
    DatasetRow.objects.filter(dataset=dataset, position=0).update(conversations=["Edited after freezing?", "Yes."])
    with pytest.raises(ValidationError) as error:
        runs.create_run(dataset=dataset, base_model=tiny_model_spec(), user=researcher)
    assert "not a frozen snapshot" in error.value.message_dict["dataset"][0]
    assert not TrainingRun.objects.exists()


def test_a_dev_snapshot_is_not_training_data(researcher, tiny_model):
    with pytest.raises(ValidationError, match="training needs a train snapshot"):
        runs.create_run(dataset=dev_snapshot(user=researcher), base_model=tiny_model_spec(), user=researcher)


def test_a_base_model_that_does_not_load_is_refused(researcher, tiny_model, tmp_path, settings):
    dataset = train_snapshot(user=researcher)
    outside = tiny_model_spec(name="outside", location="/etc")
    with pytest.raises(ValidationError, match="outside: model directories must lie under"):
        runs.create_run(dataset=dataset, base_model=outside, user=researcher)
    settings.LIMA_MODEL_ROOTS = [tmp_path]
    missing = tiny_model_spec(name="nowhere", location=str(tmp_path / "no-such-model"))
    with pytest.raises(ValidationError, match="nowhere does not load"):
        runs.create_run(dataset=dataset, base_model=missing, user=researcher)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    with pytest.raises(ValidationError, match="does not load"):
        runs.create_run(dataset=dataset, base_model=tiny_model_spec(name="broken", location=str(broken)), user=researcher)
    assert not TrainingRun.objects.exists()


def test_impossible_resources_are_refused_before_anything_is_written(researcher, tiny_model, settings):
    with pytest.raises(ValidationError) as error:
        runs.create_run(dataset=train_snapshot(user=researcher), base_model=tiny_model_spec(), user=researcher,
                        launcher="local", resources=slurm.Resources(nodes=2, time_limit="soon"))
    assert set(error.value.message_dict) == {"nodes", "time_limit"}
    assert not Path(settings.LIMA_TRAINING_DIR).exists()


def test_a_local_run_trains_registers_each_epoch_as_a_model_and_keeps_the_pick(researcher, tiny_model):
    run = runs.create_run(dataset=train_snapshot(user=researcher), base_model=tiny_model_spec(), user=researcher,
                          hyperparameters=QUICK, launcher="local", name="local-tea")
    run = runs.submit_run(run=run)
    assert run.state == RunState.PENDING and run.job_id.isdigit()
    assert runs.submit_run(run=run).job_id == run.job_id  # a second submit does nothing
    run = finished(run)
    assert (run.state, run.exit_code, run.error) == (RunState.COMPLETED, 0, "")
    assert "sft: 100%" in run.log_tail
    assert [(c.epoch, c.model.name, c.model.backend) for c in run.checkpoints.select_related("model")] == [
        (1, "local-tea-epoch-1", "transformers"), (2, "local-tea-epoch-2", "transformers")]
    assert checkpoints.register_checkpoints(run=run) == []  # polling again registers nothing twice
    progress = runs.run_progress(run)
    assert progress["step"] == progress["total_steps"] == 4 and len(progress["points"]) == 4
    run = checkpoints.pick_result(run=run, checkpoint=run.checkpoints.get(epoch=2))
    assert run.result.epoch == 2


def test_a_local_job_that_dies_shows_its_log_tail_and_exit_code(researcher, tiny_model):
    run = runs.create_run(dataset=train_snapshot(user=researcher), base_model=tiny_model_spec(), user=researcher,
                          hyperparameters=QUICK, launcher="local")
    (Path(run.run_dir) / "data.jsonl").write_text('{"conversations": ["a prompt without a response"]}\n')
    run = finished(runs.submit_run(run=run))
    assert run.state == RunState.FAILED and run.exit_code == 1
    assert "failed (exit code 1)" in run.error
    assert "a training conversation needs a response" in run.log_tail


def test_cancelling_a_local_run_stops_its_process(researcher, tiny_model):
    run = runs.create_run(dataset=train_snapshot(user=researcher), base_model=tiny_model_spec(), user=researcher,
                          hyperparameters={**QUICK, "epochs": 500}, launcher="local")
    run = runs.submit_run(run=run)
    wait_for(lambda: (Path(run.run_dir) / "metrics.jsonl").exists(), timeout=120, what="training to start")
    run = runs.cancel_run(run=run)
    assert run.state == RunState.CANCELLED
    wait_for(lambda: not Path(f"/proc/{run.job_id}").exists() or "Z" in Path(f"/proc/{run.job_id}/stat").read_text().split(")")[-1][:3],
             timeout=30, what="the training process to end")


def test_dev_responses_must_come_from_a_dev_snapshot_and_existing_epochs(researcher, tiny_model):
    run = runs.create_run(dataset=train_snapshot(user=researcher), base_model=tiny_model_spec(), user=researcher,
                          hyperparameters=QUICK)
    with pytest.raises(ValidationError, match="compared on dev prompts"):
        checkpoints.generate_dev_responses(run=run, dataset=run.dataset, epochs=None, user=researcher)
    with pytest.raises(ValidationError, match="available: none yet"):
        checkpoints.generate_dev_responses(run=run, dataset=dev_snapshot(user=researcher), epochs=None, user=researcher)


def test_the_form_is_prefilled_with_limas_recipe_and_the_7b_preset(client, researcher, tiny_model):
    client.force_login(researcher)
    page = client.get(reverse("training:run_create")).content.decode()
    for name, value in (("epochs", "15"), ("batch_size", "32"), ("learning_rate", "1e-05"), ("final_learning_rate", "1e-06"),
                        ("adam_beta2", "0.95"), ("weight_decay", "0.1"), ("max_length", "2048"), ("residual_dropout_top", "0.3")):
        assert f'name="{name}" value="{value}"' in page, name
    seven_b = client.get(reverse("training:run_create") + "?preset=lima-7b").content.decode()
    assert 'name="batch_size" value="64"' in seven_b and 'name="residual_dropout_top" value="0.2"' in seven_b


def test_a_researcher_prepares_a_run_sees_the_script_then_submits(client, researcher, tiny_model):
    dataset, model = train_snapshot(user=researcher), tiny_model_spec()
    client.force_login(researcher)
    form = {"dataset": dataset.pk, "base_model": model.pk, "name": "ui-run", **QUICK, "adam_beta1": 0.9, "adam_beta2": 0.95,
            "weight_decay": 0.1, "max_length": 2048, "residual_dropout_top": 0.3, "seed": 0, "launcher": "local",
            "nodes": 1, "gpus_per_node": 0, "cpus_per_task": 1, "partition": "", "account": "", "qos": "", "time_limit": ""}
    response = client.post(reverse("training:run_create"), form)
    run = TrainingRun.objects.get(name="ui-run")
    assert response.status_code == 302 and run.state == RunState.DRAFT
    detail = client.get(reverse("training:run_detail", args=[run.pk])).content.decode()
    assert "#SBATCH --job-name=lima-sft-" in detail and "-m training.sft --config" in detail and 'id="submit-run"' in detail
    client.post(reverse("training:run_action", args=[run.pk, "submit"]))
    run = finished(TrainingRun.objects.get(pk=run.pk))
    assert run.state == RunState.COMPLETED
    partial = client.get(reverse("training:run_detail", args=[run.pk]) + "?part=progress").content.decode()
    assert 'class="loss-line"' in partial and "Completed" in partial
    bad = client.post(reverse("training:run_create"), {**form, "name": "bad", "nodes": 3})
    assert bad.status_code == 422 and b"a local run uses this host only" in bad.content


def test_only_researchers_may_train(client, author, annotator, researcher):
    for user, expected in ((author, 403), (annotator, 403), (researcher, 200)):
        client.force_login(user)
        assert client.get(reverse("training:run_list")).status_code == expected
        assert client.get("/api/training-runs/").status_code == expected
    client.force_login(researcher)
    assert ">Training</a>" in client.get(reverse("home")).content.decode()


def test_the_api_creates_submits_and_reports_a_run(client, researcher, tiny_model):
    dataset, model = train_snapshot(user=researcher), tiny_model_spec()
    client.force_login(researcher)
    response = client.post("/api/training-runs/", {"dataset": dataset.pk, "base_model": model.pk, "launcher": "local",
                                                   "hyperparameters": QUICK, "submit": True}, content_type="application/json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["state"] == "pending" and body["hyperparameters"]["adam_beta2"] == 0.95 and body["script"].startswith("#!/bin/bash")
    run = finished(TrainingRun.objects.get(pk=body["id"]))
    detail = client.get(f"/api/training-runs/{run.pk}/").json()
    assert detail["state"] == "completed" and [c["epoch"] for c in detail["checkpoints"]] == [1, 2]
    assert detail["progress"]["step"] == 4
    picked = client.post(f"/api/training-runs/{run.pk}/pick/", {"checkpoint": Checkpoint.objects.get(run=run, epoch=1).pk},
                         content_type="application/json").json()
    assert picked["result"] == Checkpoint.objects.get(run=run, epoch=1).pk
    refused = client.post("/api/training-runs/", {"dataset": dataset.pk, "base_model": model.pk,
                                                  "hyperparameters": {"epochs": 0}}, content_type="application/json")
    assert refused.status_code == 400 and "epochs" in refused.json()["hyperparameters"][0]


def test_the_run_list_costs_a_fixed_number_of_queries(client, researcher, tiny_model, django_assert_max_num_queries):
    dataset, model = train_snapshot(user=researcher), tiny_model_spec()
    for index in range(5):
        runs.create_run(dataset=dataset, base_model=model, user=researcher, name=f"listed-{index}")
    client.force_login(researcher)
    with django_assert_max_num_queries(8):
        page = client.get(reverse("training:run_list")).content.decode()
    assert page.count("listed-") == 5


def test_the_run_page_says_how_to_judge_checkpoints_today(client, researcher, tiny_model):
    dataset, model = train_snapshot(user=researcher), tiny_model_spec()
    client.force_login(researcher)
    form = {"dataset": dataset.pk, "base_model": model.pk, "name": "page-run", **QUICK, "adam_beta1": 0.9, "adam_beta2": 0.95,
            "weight_decay": 0.1, "max_length": 2048, "residual_dropout_top": 0.3, "seed": 0, "launcher": "local",
            "nodes": 1, "gpus_per_node": 0, "cpus_per_task": 1, "partition": "", "account": "", "qos": "", "time_limit": ""}
    assert client.post(reverse("training:run_create"), form).status_code == 302
    detail = client.get(reverse("training:run_detail", args=[TrainingRun.objects.get(name="page-run").pk])).content.decode()
    assert "comes with the judging feature" not in detail
    assert f'create a pairwise study over their dev runs on the <a href="{reverse("evaluation:study_list")}">Studies</a> page' in detail
