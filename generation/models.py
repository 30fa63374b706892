"""Model registry, generation runs over frozen prompt snapshots, and their responses."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from tokenization.chat import CHAT_TEMPLATE
from generation import registration
from generation.decoding import LIMA_DECODING, Decoding
from lima_site import queues


class Backend(models.TextChoices):
    VLLM = "vllm", "vLLM (GPU workers)"
    TRANSFORMERS = "transformers", "transformers (CPU or GPU)"
    OPENAI = "openai", "OpenAI-compatible endpoint"
    IMPORTED = "imported", "Imported responses (JSONL)"


class ModelSpec(models.Model):
    name = models.SlugField(max_length=100, unique=True)
    backend = models.CharField(max_length=16, choices=Backend.choices)
    location = models.CharField(
        max_length=500, blank=True,
        help_text="Checkpoint directory (vllm, transformers) or base URL such as http://host:8000/v1 (openai).",
    )
    served_model_name = models.CharField(max_length=200, blank=True, help_text="The `model` field sent to an OpenAI-compatible endpoint.")
    api_key_env = models.CharField(
        max_length=100, blank=True, help_text="Name of the environment variable holding the API key (never the key itself)."
    )
    requests_per_minute = models.PositiveIntegerField(default=60, help_text="Rate limit for openai endpoints.")
    chat_template = models.TextField(default=CHAT_TEMPLATE, help_text="Jinja template; LIMA puts an EOT token after each utterance.")
    top_p = models.FloatField(default=LIMA_DECODING.top_p)
    temperature = models.FloatField(default=LIMA_DECODING.temperature)
    repetition_penalty = models.FloatField(default=LIMA_DECODING.repetition_penalty)
    max_new_tokens = models.PositiveIntegerField(default=LIMA_DECODING.max_new_tokens)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    @property
    def queue(self) -> str:
        """The Celery queue for this model's generation chunks: vLLM needs a GPU worker (lima_site/queues.py)."""
        return queues.for_model(self.backend)

    @property
    def judge_queue(self) -> str:
        """The queue for this model's LLM-judge chunks: apart from generation, so a judge never waits behind a long run."""
        return queues.for_model(self.backend, judging=True)

    def __str__(self) -> str:
        return self.name

    def clean(self):
        """Each backend needs its own kind of location; checked here so the form, the API and the checkpoint
        poller agree (generation/registration.py holds the rules, which the worker checks again)."""
        errors = {}
        if self.backend in (Backend.VLLM, Backend.TRANSFORMERS, Backend.OPENAI) and not self.location:
            errors["location"] = "a checkpoint directory or endpoint URL is needed for this backend"
        elif self.backend in (Backend.VLLM, Backend.TRANSFORMERS):
            problem = registration.checkpoint_problem(self.location)
            if problem:
                errors["location"] = problem
        if self.backend == Backend.OPENAI:
            problem = self.location and registration.endpoint_problem(self.location)
            if problem:
                errors["location"] = problem
            if not self.served_model_name:
                errors["served_model_name"] = "the model name the endpoint expects"
            problem = registration.api_key_env_problem(self.api_key_env)
            if problem:
                errors["api_key_env"] = problem
        try:
            Decoding.from_dict(self.default_decoding())
        except ValueError as exc:
            errors["top_p"] = str(exc)
        if errors:
            raise ValidationError(errors)

    def default_decoding(self) -> dict:
        return {"top_p": self.top_p, "temperature": self.temperature, "repetition_penalty": self.repetition_penalty,
                "max_new_tokens": self.max_new_tokens}


class RunStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    COMPLETED_WITH_ERRORS = "completed_with_errors", "Completed with errors"
    CANCELLED = "cancelled", "Cancelled"


class GenerationRun(models.Model):
    """One answer per prompt of a frozen snapshot, from one model with fixed decoding and seed."""

    model = models.ForeignKey(ModelSpec, on_delete=models.PROTECT, related_name="runs")
    dataset = models.ForeignKey("datasets.Dataset", on_delete=models.PROTECT, related_name="generation_runs")
    decoding = models.JSONField()
    seed = models.IntegerField(default=0)
    chunk_size = models.PositiveIntegerField(default=16)
    status = models.CharField(max_length=24, choices=RunStatus.choices, default=RunStatus.PENDING, db_index=True)
    total = models.PositiveIntegerField(default=0)
    environment = models.JSONField(default=dict, blank=True, help_text="Backend, model path and config hash, library versions.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"run {self.pk}: {self.model} on {self.dataset}"

    @property
    def is_active(self) -> bool:
        return self.status in (RunStatus.PENDING, RunStatus.RUNNING)


class Response(models.Model):
    """A model's answer to one snapshot row. Unique per (run, row): a retried chunk cannot duplicate it."""

    run = models.ForeignKey(GenerationRun, on_delete=models.CASCADE, related_name="responses")
    row = models.ForeignKey("datasets.DatasetRow", on_delete=models.PROTECT, related_name="responses")
    text = models.TextField(blank=True)
    error = models.TextField(blank=True, help_text="Why this response failed; empty when it succeeded.")
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    finish_reason = models.CharField(max_length=20, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["run", "row__position"]
        constraints = [models.UniqueConstraint(fields=["run", "row"], name="response_unique_per_run_row")]
        indexes = [models.Index(fields=["run"], name="response_errors_idx", condition=~Q(error=""))]

    @property
    def ok(self) -> bool:
        return not self.error


class GenerationChunk(models.Model):
    """One task's worth of a run's rows, generated by the single worker that holds its lease.

    A worker claims the chunk with one conditional UPDATE (free, or its lease ran out) and renews the
    lease while it generates, so a re-delivered or re-sent message for a chunk another worker holds
    generates nothing; beat re-sends only chunks whose lease ran out or that nobody claimed for long.
    """

    run = models.ForeignKey(GenerationRun, on_delete=models.CASCADE, related_name="chunks")
    row_ids = models.JSONField(help_text="The snapshot rows of this chunk, in order.")
    enqueued_at = models.DateTimeField(help_text="When its task was last sent.")
    claimed_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True, help_text="host:pid:token of the worker holding (or that held) it.")
    attempts = models.PositiveIntegerField(default=0, help_text="How many times a worker claimed it (started generating).")
    sends = models.PositiveIntegerField(default=1, help_text="How many times its task was sent.")
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "id"]
        indexes = [models.Index(fields=["run"], name="chunk_open_idx", condition=Q(done_at__isnull=True))]

    def __str__(self) -> str:
        return f"chunk {self.pk} of run {self.run_id} ({len(self.row_ids)} rows)"
