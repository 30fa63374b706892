"""A training job that ends early: the words a researcher reads, and resuming it (local launcher, no Slurm).

The same faults on a real Slurm cluster (a trainer SIGKILLed on the node, an administrator's
scancel, a killed run resubmitted) are in test_training_slurm.py.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
from django.urls import reverse

from tests.builders import tiny_model_spec
from tests.training_support import train_snapshot
from tests.workers import wait_for
from training import slurm
from training.launchers import JobStatus
from training.models import RunState, TrainingRun
from training.services import runs

QUICK = {"epochs": 2, "batch_size": 4, "micro_batch_size": 2, "learning_rate": 1e-3, "final_learning_rate": 1e-4,
         "weights_epochs": "all"}


@pytest.mark.parametrize("exit_code, slurm_exit, number", [
    (137, "0:9", 9),     # Slurm: the batch script's process was killed by SIGKILL
    (143, "0:15", 15),   # scancel's SIGTERM
    (137, "137:0", 9),   # srun or bash reporting a killed child as 128 + 9
    (137, "", 9),        # the local launcher's wrapper shell
    (1, "1:0", None), (0, "0:0", None), (None, "", None),
])
def test_the_signal_that_ended_a_job_is_read_from_slurm_or_the_shell(exit_code, slurm_exit, number):
    assert slurm.signal_of(exit_code, slurm_exit) == number


def test_a_sigkill_is_named_with_its_likeliest_cause():
    assert slurm.describe_signal(9) == "signal 9 (SIGKILL) — possibly out of memory, as the kernel's OOM killer sends SIGKILL"
    assert slurm.describe_signal(15) == "signal 15 (SIGTERM)"
    assert slurm.describe_signal(200) == "signal 200"


def test_slurm_reports_for_a_killed_job_become_one_clear_message():
    run = TrainingRun(cancel_requested_at=None)
    killed = JobStatus.ended(scheduler_state="FAILED", state=slurm.FAILED, scheduler_exit="0:9", reason="JobLaunchFailure")
    assert (killed.exit_code, killed.signal) == (137, 9)
    # Slurm 22.05's Reason=JobLaunchFailure for a job that launched and ran is left out: the signal says why.
    assert runs._finish_message(run, killed) == (
        "the job was killed by signal 9 (SIGKILL) — possibly out of memory, as the kernel's OOM killer sends SIGKILL "
        "(exit code 137; Slurm's ExitCode 0:9)")
    failed = JobStatus.ended(scheduler_state="FAILED", state=slurm.FAILED, scheduler_exit="1:0", reason="NonZeroExitCode")
    assert runs._finish_message(run, failed) == "the job failed (exit code 1): NonZeroExitCode"
    cancelled = JobStatus.ended(scheduler_state="CANCELLED", state=slurm.CANCELLED, scheduler_exit="0:15")
    assert runs._finish_message(run, cancelled) == (
        "the job was cancelled outside lima-studio (scancel by its owner or an administrator)")
    run.cancel_requested_at = "2026-01-01T00:00:00Z"
    assert runs._finish_message(run, cancelled) == "cancelled from lima-studio"


def local_trainer_pids(run: TrainingRun) -> list[int]:
    config = str(Path(run.run_dir) / "run.json").encode()
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and b"training.sft" in (cmdline := (entry / "cmdline").read_bytes()) and config in cmdline:
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@pytest.mark.django_db
def test_a_local_trainer_killed_by_sigkill_fails_clearly_and_resumes_when_resubmitted(client, researcher, tiny_model,
                                                                                       settings, tmp_path):
    settings.LIMA_TRAINING_DIR = tmp_path / "training"
    epochs = 40
    run = runs.create_run(dataset=train_snapshot(user=researcher), base_model=tiny_model_spec(), user=researcher,
                          hyperparameters={**QUICK, "epochs": epochs}, launcher="local", name="local-killed")
    run = runs.submit_run(run=run)
    wait_for(lambda: runs.refresh_run(run=run).checkpoints.count() >= 2, timeout=180, what="two checkpoints")
    trainers = local_trainer_pids(run)
    assert trainers
    for pid in trainers:
        os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not runs.refresh_run(run=run).is_active, timeout=60, what="the killed job to end")
    run.refresh_from_db()
    assert (run.state, run.exit_code) == (RunState.FAILED, 137)
    assert run.error.startswith("the job was killed by signal 9 (SIGKILL) — possibly out of memory")
    kept = list(run.checkpoints.values_list("pk", "epoch"))
    assert kept[-1][1] < epochs, "the job finished before it was killed"

    client.force_login(researcher)
    page = client.get(reverse("training:run_detail", args=[run.pk])).content.decode()
    assert 'id="run-error"' in page and "killed by signal 9 (SIGKILL)" in page and 'id="log-tail"' in page
    response = client.post(reverse("api:training-run-resubmit", args=[run.pk]), content_type="application/json")
    assert response.status_code == 200 and response.json()["state"] == RunState.PENDING
    assert [a["exit_code"] for a in response.json()["earlier_attempts"]] == [137]
    again = client.post(reverse("api:training-run-resubmit", args=[run.pk]), content_type="application/json")
    assert again.json()["job_id"] == response.json()["job_id"] and len(again.json()["earlier_attempts"]) == 1

    run.refresh_from_db()
    wait_for(lambda: not runs.refresh_run(run=run).is_active, timeout=180, what="the resumed job to end")
    run.refresh_from_db()
    assert (run.state, run.exit_code, run.error) == (RunState.COMPLETED, 0, ""), run.log_tail
    assert list(run.checkpoints.values_list("epoch", flat=True)) == list(range(1, epochs + 1))
    assert list(run.checkpoints.filter(epoch__lte=kept[-1][1]).values_list("pk", "epoch")) == kept
    records = [json.loads(line) for line in (Path(run.run_dir) / "metrics.jsonl").read_text().splitlines()]
    assert [r["resumed_from"] is not None for r in records if r["event"] == "start"] == [False, True]


@pytest.mark.django_db
def test_only_a_run_that_ended_early_is_resubmitted(researcher, tiny_model, settings, tmp_path):
    settings.LIMA_TRAINING_DIR = tmp_path / "training"
    run = runs.create_run(dataset=train_snapshot(user=researcher), base_model=tiny_model_spec(), user=researcher,
                          hyperparameters=QUICK, launcher="local")
    assert runs.resubmit_run(run=run).state == RunState.DRAFT and not run.earlier_attempts
    TrainingRun.objects.filter(pk=run.pk).update(state=RunState.COMPLETED, job_id="1")
    assert runs.resubmit_run(run=run).state == RunState.COMPLETED
