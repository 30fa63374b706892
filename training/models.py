"""Fine-tuning runs (a frozen snapshot + a base model + LIMA's recipe, as a Slurm or local job) and their checkpoints."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from training import slurm


class Launcher(models.TextChoices):
    SLURM = "slurm", "Slurm (sbatch)"
    LOCAL = "local", "Local subprocess"


class RunState(models.TextChoices):
    DRAFT = "draft", "Draft (not submitted)"
    # Committed before sbatch runs: a crash before the job id is recorded is reconciled by job name on the next poll.
    SUBMITTING = "submitting", "Submitting"
    REJECTED = "rejected", "Not submitted"
    PENDING = slurm.PENDING, "Queued"
    RUNNING = slurm.RUNNING, "Running"
    COMPLETED = slurm.COMPLETED, "Completed"
    FAILED = slurm.FAILED, "Failed"
    CANCELLED = slurm.CANCELLED, "Cancelled"
    TIMED_OUT = slurm.TIMED_OUT, "Hit its time limit"
    NODE_FAILED = slurm.NODE_FAILED, "A node failed"
    OUT_OF_MEMORY = slurm.OUT_OF_MEMORY, "Out of memory"


ACTIVE_STATES = (RunState.PENDING, RunState.RUNNING)
RESUMABLE_STATES = tuple(state for state in RunState.values if state in slurm.RESUMABLE)


class TrainingRun(models.Model):
    """One fine-tuning job and everything needed to reproduce it.

    The dataset hash, the base model's config hash, the hyper-parameters, the code version and
    the exact script are copied onto the run when it is created, so later edits elsewhere never
    change what this run records.
    """

    name = models.SlugField(max_length=80, unique=True)
    dataset = models.ForeignKey("datasets.Dataset", on_delete=models.PROTECT, related_name="training_runs")
    base_model = models.ForeignKey("generation.ModelSpec", on_delete=models.PROTECT, related_name="training_runs")
    hyperparameters = models.JSONField()
    launcher = models.CharField(max_length=8, choices=Launcher.choices, default=Launcher.SLURM)
    checkpoint_backend = models.CharField(
        max_length=16, choices=[("transformers", "transformers (CPU queue)"), ("vllm", "vLLM (GPU queue)")], default="transformers",
        help_text="The backend, and so the queue, each checkpoint is registered with for its dev-set responses.")
    nodes = models.PositiveIntegerField(default=1)
    gpus_per_node = models.PositiveIntegerField(default=0)
    cpus_per_task = models.PositiveIntegerField(default=1)
    partition = models.CharField(max_length=100, blank=True)
    account = models.CharField(max_length=100, blank=True)
    qos = models.CharField(max_length=100, blank=True)
    time_limit = models.CharField(max_length=20, blank=True, help_text="Slurm time, e.g. 2-00:00:00; empty: the partition's default.")

    run_dir = models.CharField(max_length=500)
    script = models.TextField(help_text="The sbatch script exactly as submitted.")
    dataset_hash = models.CharField(max_length=64)
    base_config_hash = models.CharField(max_length=64)
    code_version = models.CharField(max_length=80, blank=True)

    state = models.CharField(max_length=16, choices=RunState.choices, default=RunState.DRAFT, db_index=True)
    scheduler_state = models.CharField(max_length=40, blank=True, help_text="Slurm's own word (or the local process's).")
    job_id = models.CharField(max_length=40, blank=True, help_text="Slurm job id, or the local process id.")
    exit_code = models.IntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    log_tail = models.TextField(blank=True)
    result = models.ForeignKey("training.Checkpoint", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                               help_text="The checkpoint kept, picked on dev-set responses (LIMA compares epochs 5-10).")

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    polled_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True,
                                               help_text="When lima-studio asked for the cancel; a cancel without it came from outside.")
    earlier_attempts = models.JSONField(default=list, blank=True,
                                        help_text="The jobs this run ended as before it was resubmitted, oldest first.")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def is_finished(self) -> bool:
        return self.state in slurm.FINISHED

    @property
    def job_name(self) -> str:
        """The scheduler's name for this run's jobs: how a submission whose job id was never recorded is found again."""
        return f"lima-sft-{self.pk}"

    @property
    def can_resubmit(self) -> bool:
        return self.state in RESUMABLE_STATES

    @property
    def epochs(self) -> int:
        return int(self.hyperparameters.get("epochs", 0))

    def resources(self) -> slurm.Resources:
        return slurm.Resources(nodes=self.nodes, gpus_per_node=self.gpus_per_node, cpus_per_task=self.cpus_per_task,
                               partition=self.partition, account=self.account, qos=self.qos, time_limit=self.time_limit)


class Checkpoint(models.Model):
    """The weights at the end of one epoch, registered as a ModelSpec so it can be generated from and judged."""

    run = models.ForeignKey(TrainingRun, on_delete=models.CASCADE, related_name="checkpoints")
    epoch = models.PositiveIntegerField()
    step = models.PositiveIntegerField(default=0)
    path = models.CharField(max_length=500)
    model = models.OneToOneField("generation.ModelSpec", on_delete=models.PROTECT, related_name="checkpoint")
    dev_run = models.ForeignKey("generation.GenerationRun", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+", help_text="Dev-set responses used to pick the best epoch.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["run", "epoch"]
        constraints = [models.UniqueConstraint(fields=["run", "epoch"], name="checkpoint_unique_per_run_epoch")]

    def __str__(self) -> str:
        return f"{self.run.name} epoch {self.epoch}"
