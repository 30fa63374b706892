"""Training runs: create (validate, write the run directory, render the script), submit, poll, cancel, resubmit.

Everything a run needs is written into its own directory before submission (run.json for the
trainer, data.jsonl with the snapshot's exact rows, job.sbatch), so the job reads files only
and never the database; the records a reproduction needs are copied onto the TrainingRun.
"""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from annotation.datasets import lima_format
from annotation.datasets.models import Dataset
from generation import registration
from generation.models import Backend, ModelSpec
from training import progress, slurm
from training.launchers import LaunchError, LocalLauncher, SlurmLauncher
from training.models import ACTIVE_STATES, RESUMABLE_STATES, Launcher, RunState, TrainingRun
from training.recipe import Hyperparameters
from training.services import memory_plans

logger = logging.getLogger(__name__)


def launcher_named(name: str):
    if name == Launcher.LOCAL:
        return LocalLauncher()
    return SlurmLauncher(bin_dir=settings.LIMA_SLURM_BIN_DIR, conf=settings.LIMA_SLURM_CONF, timeout=settings.LIMA_SLURM_TIMEOUT)


def launcher_for(run: TrainingRun):
    return launcher_named(run.launcher)


_REACHABLE: dict[tuple, tuple[float, bool]] = {}


def default_launcher() -> str:
    """LIMA_TRAINING_LAUNCHER when set; else Slurm when its controller answers from this host, else a local process
    (`make run` on a machine without Slurm). The probe is remembered for a minute per Slurm configuration."""
    if settings.LIMA_TRAINING_LAUNCHER:
        return settings.LIMA_TRAINING_LAUNCHER
    key = (settings.LIMA_SLURM_BIN_DIR, settings.LIMA_SLURM_CONF)
    probed_at, reachable = _REACHABLE.get(key, (0.0, False))
    if time.monotonic() - probed_at > 60:
        reachable = launcher_named(Launcher.SLURM).reachable()
        _REACHABLE[key] = (time.monotonic(), reachable)
    return Launcher.SLURM if reachable else Launcher.LOCAL


def default_checkpoint_backend(base_model: ModelSpec) -> str:
    """Checkpoints generate as their base does: vLLM on the GPU queue when the base is a vLLM model and GPU workers
    are configured, else transformers on the CPU queue."""
    return Backend.VLLM if base_model.backend == Backend.VLLM and settings.LIMA_GPU_WORKERS else Backend.TRANSFORMERS


def checkpoint_backend_problem(backend: str) -> str | None:
    if backend not in (Backend.TRANSFORMERS, Backend.VLLM):
        return "transformers or vllm"
    if backend == Backend.VLLM and not settings.LIMA_GPU_WORKERS:
        return "no GPU workers consume the gpu queue here (LIMA_GPU_WORKERS): use transformers"
    return None


def _launcher_problems(launcher: str, nodes: int) -> dict[str, str]:
    if launcher not in Launcher.values:
        return {"launcher": f"one of {', '.join(Launcher.values)}"}
    if launcher == Launcher.LOCAL and nodes > 1:
        return {"nodes": "a local run uses this host only (one node)"}
    return {}


def snapshot_lines(dataset: Dataset) -> list[str]:
    return [lima_format.dumps_jsonl_row(conversations=row.conversations, source=row.source)
            for row in dataset.rows.order_by("position")]


def check_snapshot(dataset: Dataset) -> list[str]:
    """A training snapshot must be a frozen train split whose rows still hash to the hash taken at freezing."""
    if dataset.split != "train":
        raise ValidationError({"dataset": f"{dataset.name} is a {dataset.split} snapshot; training needs a train snapshot"})
    lines = snapshot_lines(dataset)
    if not lines:
        raise ValidationError({"dataset": f"{dataset.name} has no rows"})
    digest = hashlib.sha256("".join(lines).encode()).hexdigest()
    if digest != dataset.content_hash:
        raise ValidationError({"dataset": f"{dataset.name} is not a frozen snapshot: its rows no longer match the hash "
                                          f"taken when it was frozen ({dataset.content_hash[:12]}…); freeze a new one"})
    if not any(len(json.loads(line)["conversations"]) >= 2 for line in lines):
        raise ValidationError({"dataset": f"{dataset.name} has prompts only; training needs responses"})
    return lines


def check_base_model(model: ModelSpec) -> str:
    """The base must be a local transformers checkpoint whose config and tokenizer load; returns its config hash."""
    from transformers import AutoConfig, AutoTokenizer

    if model.backend not in (Backend.TRANSFORMERS, Backend.VLLM):
        raise ValidationError({"base_model": f"{model.name} is a {model.get_backend_display()} model; "
                                             "fine-tuning needs a checkpoint directory"})
    problem = registration.model_directory_problem(model.location)
    if problem:
        raise ValidationError({"base_model": f"{model.name}: {problem}"})
    location = Path(model.location)
    try:
        config = AutoConfig.from_pretrained(location)
        AutoTokenizer.from_pretrained(location)
    except (OSError, ValueError, KeyError) as exc:
        raise ValidationError({"base_model": f"{model.name} does not load from {location}: {exc}"}) from exc
    if not any(name.endswith("ForCausalLM") for name in (config.architectures or [])):
        raise ValidationError({"base_model": f"{model.name} is not a causal language model ({config.architectures})"})
    return hashlib.sha256((location / "config.json").read_bytes()).hexdigest()


def code_version() -> str:
    """The git commit of the code the job runs (with "-dirty" for uncommitted changes), when it is a checkout."""
    workdir = settings.LIMA_SLURM_WORKDIR
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=workdir, capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return "unknown (not a git checkout)"
        dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "training", "tokenization/chat.py"], cwd=workdir,
                               capture_output=True, timeout=10).returncode != 0
    except (OSError, subprocess.TimeoutExpired):
        return "unknown (git unavailable)"
    return head.stdout.strip() + ("-dirty" if dirty else "")


def _unique_name(requested: str, dataset: Dataset, base_model: ModelSpec) -> str:
    name = slugify(requested) or slugify(f"sft-{base_model.name}-{dataset.name}")[:60]
    if TrainingRun.objects.filter(name=name).exists():
        raise ValidationError({"name": f"a training run named {name!r} exists already"})
    return name


def create_run(*, dataset: Dataset, base_model: ModelSpec, user, hyperparameters: dict | None = None,
               launcher: str | None = None, resources: slurm.Resources | None = None, name: str = "",
               checkpoint_backend: str | None = None) -> TrainingRun:
    """A draft run with its directory, trainer config and rendered script; nothing is submitted yet.

    No launcher: the one that works on this host (default_launcher). No checkpoint backend: the base model's
    (default_checkpoint_backend)."""
    try:
        recipe = Hyperparameters.from_dict(hyperparameters or {})
    except (TypeError, ValueError) as exc:
        raise ValidationError({"hyperparameters": str(exc)}) from exc
    resources = resources or slurm.Resources()
    launcher = launcher or default_launcher()
    checkpoint_backend = checkpoint_backend or default_checkpoint_backend(base_model)
    problems = resources.problems()
    problems.update(_launcher_problems(launcher, resources.nodes))
    backend_problem = checkpoint_backend_problem(checkpoint_backend)
    if backend_problem:
        problems["checkpoint_backend"] = backend_problem
    if problems:
        raise ValidationError(problems)
    lines = check_snapshot(dataset)
    config_hash = check_base_model(base_model)
    too_small = memory_plans.refusal(location=base_model.location, hyperparameters=recipe, resources=resources)
    if too_small:
        raise ValidationError({"nodes": too_small})
    name = _unique_name(name, dataset, base_model)
    with transaction.atomic():
        run = TrainingRun.objects.create(
            name=name, dataset=dataset, base_model=base_model, hyperparameters=recipe.as_dict(), launcher=launcher,
            checkpoint_backend=checkpoint_backend,
            nodes=resources.nodes, gpus_per_node=resources.gpus_per_node, cpus_per_task=resources.cpus_per_task,
            partition=resources.partition, account=resources.account, qos=resources.qos, time_limit=resources.time_limit,
            run_dir="", script="", dataset_hash=dataset.content_hash, base_config_hash=config_hash,
            code_version=code_version(), created_by=user,
        )
        run_dir = Path(settings.LIMA_TRAINING_DIR) / f"run-{run.pk}-{run.name}"
        run.run_dir = str(run_dir)
        run.script = slurm.render_sbatch_script(
            job_name=run.job_name, resources=resources, workdir=settings.LIMA_SLURM_WORKDIR,
            python=settings.LIMA_SLURM_PYTHON or sys.executable, config_path=str(run_dir / "run.json"),
            log_path=str(run_dir / "train.log"),
        )
        run.save(update_fields=["run_dir", "script"])
        _write_run_directory(run, lines)
    return run


def _write_run_directory(run: TrainingRun, lines: list[str]) -> None:
    run_dir = Path(run.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "data.jsonl").write_text("".join(lines), encoding="utf-8")
    config = {
        "base_model": run.base_model.location, "data": str(run_dir / "data.jsonl"),
        "output_dir": str(run_dir / "checkpoints"), "metrics": str(run_dir / "metrics.jsonl"),
        "hyperparameters": run.hyperparameters, "strategy": "auto", "precision": "auto",
        "provenance": {"run": run.name, "dataset": run.dataset.name, "dataset_hash": run.dataset_hash,
                       "base_model": run.base_model.name, "base_config_hash": run.base_config_hash,
                       "code_version": run.code_version},
    }
    (run_dir / "run.json").write_text(json.dumps(config, indent=2))
    (run_dir / "job.sbatch").write_text(run.script)


def submission_grace() -> timedelta:
    """How long a submission may take before a SUBMITTING run with no job is taken as never submitted:
    `sbatch --test-only` and `sbatch`, each bounded by LIMA_SLURM_TIMEOUT, plus a margin."""
    return timedelta(seconds=2 * settings.LIMA_SLURM_TIMEOUT + 30)


def _launch(run: TrainingRun) -> str:
    return launcher_for(run).submit(Path(run.run_dir) / "job.sbatch", Path(run.run_dir))


def submit_run(*, run: TrainingRun, launcher: str | None = None) -> TrainingRun:
    """Submit a draft, or a run whose submission was refused (optionally on another launcher), once.

    Three steps, so the database never misses a job: DRAFT -> SUBMITTING is committed first; sbatch runs
    outside any transaction or lock; the job id is recorded after. A crash between the last two leaves a
    SUBMITTING run that the next poll reconciles by job name (reconcile_submission). A refusal
    (resources, missing sbatch, controller down) marks the run "not submitted" with the scheduler's
    words; a second submit of a submitted run does nothing.
    """
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().get(pk=run.pk)
        if run.state not in (RunState.DRAFT, RunState.REJECTED):
            return run
        launcher = launcher or run.launcher
        problems = _launcher_problems(launcher, run.nodes)
        if problems:
            raise ValidationError(problems)
        run.launcher, run.state, run.error, run.submitted_at = launcher, RunState.SUBMITTING, "", timezone.now()
        run.save(update_fields=["launcher", "state", "error", "submitted_at"])
    try:
        job_id = _launch(run)
    except LaunchError as exc:
        TrainingRun.objects.filter(pk=run.pk, state=RunState.SUBMITTING, job_id="").update(
            state=RunState.REJECTED, error=str(exc), submitted_at=None)
    else:
        _record_job(run, job_id)
    run.refresh_from_db()
    return run


def _record_job(run: TrainingRun, job_id: str) -> None:
    # Only while still SUBMITTING with no job: a poll that reconciled it first has recorded the same job.
    TrainingRun.objects.filter(pk=run.pk, state=RunState.SUBMITTING, job_id="").update(
        job_id=job_id, state=RunState.PENDING, error="")


def _known_jobs(run: TrainingRun) -> set[str]:
    return {str(attempt.get("job_id")) for attempt in run.earlier_attempts if attempt.get("job_id")}


def reconcile_submission(*, run: TrainingRun) -> TrainingRun:
    """A SUBMITTING run without a job id: its submitter crashed (or is still inside sbatch). Look for the job by
    its name; found: record it, as the submitter would have. Not found once the submission had time to end:
    nothing was queued, and the run may be submitted again."""
    if run.state != RunState.SUBMITTING or run.job_id:
        return run
    try:
        job_id = launcher_for(run).find(run.job_name, Path(run.run_dir) / "job.sbatch", _known_jobs(run))
    except LaunchError as exc:
        TrainingRun.objects.filter(pk=run.pk, state=RunState.SUBMITTING).update(error=f"polling failed: {exc}", polled_at=timezone.now())
        run.refresh_from_db()
        return run
    if job_id:
        logger.warning("training run %s: job %s found by name %s; its submitter never recorded it", run.pk, job_id, run.job_name)
        _record_job(run, job_id)
    elif run.submitted_at and timezone.now() - run.submitted_at > submission_grace():
        TrainingRun.objects.filter(pk=run.pk, state=RunState.SUBMITTING, job_id="").update(
            state=RunState.REJECTED, submitted_at=None,
            error=f"the submission was interrupted before the scheduler accepted it: no job named {run.job_name} "
                  "exists, so nothing is queued. Submit again.")
    run.refresh_from_db()
    return run


def refresh_run(*, run: TrainingRun) -> TrainingRun:
    """Ask the scheduler where the job is; update state, exit code, log tail and checkpoints."""
    from training.services.checkpoints import register_checkpoints

    if not run.job_id or run.state not in ACTIVE_STATES:
        return run
    run_dir = Path(run.run_dir)
    try:
        status = launcher_for(run).status(run.job_id, run_dir)
    except LaunchError as exc:
        logger.warning("cannot poll training run %s: %s", run.pk, exc)
        TrainingRun.objects.filter(pk=run.pk).update(error=f"polling failed: {exc}", polled_at=timezone.now())
        run.refresh_from_db()
        return run
    register_checkpoints(run=run)
    updates = {"log_tail": progress.log_tail(run_dir / "train.log"), "polled_at": timezone.now()}
    if status is None:
        updates["error"] = f"the scheduler no longer knows job {run.job_id}"
    else:
        updates.update(scheduler_state=status.scheduler_state[:40], state=status.state)
        if status.exit_code is not None:
            updates["exit_code"] = status.exit_code
        if status.state in slurm.FINISHED:
            if status.state == slurm.CANCELLED:
                # cancel_run records its request before scancel, so a re-read after the status sees it.
                run.refresh_from_db(fields=["cancel_requested_at"])
            updates["finished_at"] = timezone.now()
            updates["error"] = _finish_message(run, status)
    # Only while this job is still the run's active one: a slower poller that read an older job (or
    # the same end twice) changes nothing once the run has ended or been resubmitted as a new job.
    TrainingRun.objects.filter(pk=run.pk, job_id=run.job_id, state__in=ACTIVE_STATES).update(**updates)
    run.refresh_from_db()
    return run


def _finish_message(run: TrainingRun, status) -> str:
    """Why the job ended, in words a researcher acts on; the scheduler's own words stay in scheduler_state."""
    if status.state == slurm.COMPLETED:
        return ""
    if status.state == slurm.CANCELLED:
        if run.cancel_requested_at:
            return "cancelled from lima-studio"
        message = "the job was cancelled outside lima-studio (scancel by its owner or an administrator)"
        return f"{message}: {status.reason}" if status.reason else message
    words = {slurm.TIMED_OUT: "the job hit its time limit", slurm.NODE_FAILED: "a node failed under the job",
             slurm.OUT_OF_MEMORY: "the job ran out of memory"}
    if status.state == slurm.FAILED and status.signal:
        # Slurm 22.05 gives Reason=JobLaunchFailure to a batch script killed by a signal, although it
        # launched and ran: the signal is the reason, so Slurm's word is left out of the message.
        message = f"the job was killed by {slurm.describe_signal(status.signal)} (exit code {status.exit_code}"
        return message + (f"; Slurm's ExitCode {status.scheduler_exit})" if status.scheduler_exit else ")")
    message = words.get(status.state, "the job failed")
    if status.exit_code is not None:
        message += f" (exit code {status.exit_code})"
    if status.reason:
        message += f": {status.reason}"
    return message


def poll_active_runs() -> list[int]:
    """Beat's job: reconcile interrupted submissions, then refresh every queued or running run; returns the ids
    that changed state."""
    changed = []
    for run in TrainingRun.objects.filter(state=RunState.SUBMITTING, job_id=""):
        if reconcile_submission(run=run).state != RunState.SUBMITTING:
            changed.append(run.pk)
    for run in TrainingRun.objects.filter(state__in=ACTIVE_STATES).exclude(job_id=""):
        before = run.state
        if refresh_run(run=run).state != before:
            changed.append(run.pk)
    return changed


def cancel_run(*, run: TrainingRun) -> TrainingRun:
    """scancel (or SIGTERM for a local run); a draft is simply marked cancelled. The next poll records the end.

    The request is recorded first, so the end reads "cancelled from lima-studio"; a cancel the run
    never asked for (an administrator's scancel) is told apart by its absence.
    """
    if run.state == RunState.DRAFT:
        TrainingRun.objects.filter(pk=run.pk, state=RunState.DRAFT).update(
            state=RunState.CANCELLED, finished_at=timezone.now(), cancel_requested_at=timezone.now())
    elif run.state in ACTIVE_STATES:
        TrainingRun.objects.filter(pk=run.pk, job_id=run.job_id).update(cancel_requested_at=timezone.now())
        try:
            launcher_for(run).cancel(run.job_id, Path(run.run_dir))
        except LaunchError as exc:
            TrainingRun.objects.filter(pk=run.pk).update(error=str(exc), cancel_requested_at=None)
        run.refresh_from_db()
        return refresh_run(run=run)
    run.refresh_from_db()
    return run


def resubmit_run(*, run: TrainingRun) -> TrainingRun:
    """Submit a run that ended early (failed, killed, cancelled, timed out) again as a new job.

    The same job script runs in the same directory, so the trainer resumes after the last complete
    checkpoint and the log goes on in train.log; checkpoints already registered stay, one row per
    epoch. The ended job is kept in `earlier_attempts`. As for a first submit, the move to SUBMITTING is
    committed under the row lock before sbatch runs (a double click or two researchers at once start one
    job, not two) and the job id is recorded after. A refusal raises ValidationError and puts the run back
    as it was.
    """
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().get(pk=run.pk)
        if run.state not in RESUMABLE_STATES:
            return run
        ended = {
            "job_id": run.job_id, "state": run.state, "scheduler_state": run.scheduler_state, "exit_code": run.exit_code,
            "error": run.error, "code_version": run.code_version,
            "submitted_at": run.submitted_at.isoformat() if run.submitted_at else None,
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        }
        before = {field: getattr(run, field) for field in RESUBMIT_FIELDS}
        run.earlier_attempts = [*run.earlier_attempts, ended]
        run.job_id, run.state, run.scheduler_state, run.exit_code, run.error = "", RunState.SUBMITTING, "", None, ""
        run.submitted_at, run.finished_at, run.cancel_requested_at = timezone.now(), None, None
        # The resumed job runs the code checked out now; each earlier attempt keeps the version it ran.
        run.code_version = code_version()
        run.save(update_fields=list(RESUBMIT_FIELDS))
    try:
        job_id = _launch(run)
    except LaunchError as exc:
        TrainingRun.objects.filter(pk=run.pk, state=RunState.SUBMITTING, job_id="").update(**before)
        raise ValidationError({"job": f"not resubmitted: {exc}"}) from exc
    _record_job(run, job_id)
    run.refresh_from_db()
    return run


RESUBMIT_FIELDS = ("earlier_attempts", "job_id", "state", "scheduler_state", "exit_code", "error", "submitted_at",
                   "finished_at", "cancel_requested_at", "code_version")


def run_progress(run: TrainingRun) -> dict:
    records = progress.read_metrics(Path(run.run_dir) / "metrics.jsonl") if run.run_dir else []
    return {**progress.summary(records), "points": progress.loss_points(records)}
