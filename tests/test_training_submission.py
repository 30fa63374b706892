"""A refused submission is switched to the launcher that works here and submitted again from the run's page."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tests.builders import tiny_model_spec
from tests.training_support import train_snapshot
from tests.workers import wait_for
from training import slurm
from training.models import RunState, TrainingRun
from training.services import runs

pytestmark = pytest.mark.django_db

ONE_EPOCH = {"epochs": 1, "batch_size": 4, "micro_batch_size": 2, "learning_rate": 1e-3, "final_learning_rate": 1e-4}


@pytest.fixture(autouse=True)
def no_slurm_here(settings, tmp_path):
    """A host like `make run`'s laptop: no Slurm client commands at all."""
    settings.LIMA_TRAINING_DIR = tmp_path / "training"
    settings.LIMA_SLURM_BIN_DIR = str(tmp_path / "no-slurm")
    settings.LIMA_TRAINING_LAUNCHER = ""
    runs._REACHABLE.clear()


def test_a_refused_submit_switches_to_the_local_launcher_and_trains_from_the_page(client, researcher, tiny_model):
    run = runs.create_run(dataset=train_snapshot(user=researcher), base_model=tiny_model_spec(), user=researcher,
                          hyperparameters=ONE_EPOCH, launcher="slurm")
    client.force_login(researcher)
    submit = reverse("training:run_action", args=[run.pk, "submit"])
    client.post(submit)
    run.refresh_from_db()
    assert run.state == RunState.REJECTED and "`sbatch` was not found" in run.error and not run.job_id
    page = client.get(reverse("training:run_detail", args=[run.pk])).content.decode()
    # The page offers to submit again, with the launcher that works on this host already chosen.
    assert "Submit again" in page and re.search(r'<option value="local" selected>', page)
    # Bad input changes nothing and says why.
    response = client.post(submit, {"launcher": "kubernetes"}, follow=True)
    assert "Not submitted" in response.content.decode() and TrainingRun.objects.get(pk=run.pk).state == RunState.REJECTED
    client.post(submit, {"launcher": "local"})
    run.refresh_from_db()
    assert run.launcher == "local" and run.state in (RunState.PENDING, RunState.RUNNING) and run.job_id.isdigit()
    # A second click while it runs starts nothing more.
    job = run.job_id
    client.post(submit, {"launcher": "local"})
    assert TrainingRun.objects.get(pk=run.pk).job_id == job
    wait_for(lambda: runs.refresh_run(run=run).is_finished, timeout=180, what="the local run to end")
    assert run.state == RunState.COMPLETED and run.checkpoints.count() == 1


def test_a_multi_node_run_cannot_be_switched_to_the_local_launcher(client, researcher, tiny_model):
    run = runs.create_run(dataset=train_snapshot(user=researcher), base_model=tiny_model_spec(), user=researcher,
                          launcher="slurm", resources=slurm.Resources(nodes=2))
    run = runs.submit_run(run=run)
    assert run.state == RunState.REJECTED
    client.force_login(researcher)
    # The page keeps Slurm for a run only Slurm can run.
    page = client.get(reverse("training:run_detail", args=[run.pk])).content.decode()
    assert re.search(r'<option value="slurm" selected>', page)
    response = client.post(reverse("training:run_action", args=[run.pk, "submit"]), {"launcher": "local"}, follow=True)
    assert "a local run uses this host only" in response.content.decode()
    run.refresh_from_db()
    assert (run.state, run.launcher, run.job_id) == (RunState.REJECTED, "slurm", "")


def test_without_slurm_a_new_run_defaults_to_the_local_launcher(client, researcher, tiny_model):
    run = runs.create_run(dataset=train_snapshot(user=researcher), base_model=tiny_model_spec(), user=researcher)
    assert run.launcher == "local"
    client.force_login(researcher)
    form = client.get(reverse("training:run_create")).content.decode()
    assert re.search(r'<option value="local" selected>', form)
