"""Ablation experiments (LIMA section 5): dataset variants, each frozen, fine-tuned, sampled on dev and graded.

An experiment fixes everything but the data: one base model, one recipe, one launcher, one dev snapshot, N samples
per prompt, one LLM judge and its prompt (stored here, as graded). Each variant records the objects behind its
point (snapshot, training run, kept checkpoint, generation runs), so the chart links to what produced it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Experiment(models.Model):
    class State(models.TextChoices):
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    name = models.SlugField(max_length=80, unique=True)
    description = models.TextField(blank=True)
    base_model = models.ForeignKey("generation.ModelSpec", on_delete=models.PROTECT, related_name="+")
    hyperparameters = models.JSONField(help_text="One recipe for every variant (LIMA's 7B preset by default).")
    launcher = models.CharField(max_length=8, help_text="slurm or local, as a training run's.")
    resources = models.JSONField(default=dict, blank=True, help_text="Slurm resources every variant's run gets.")
    dev_dataset = models.ForeignKey("datasets.Dataset", on_delete=models.PROTECT, related_name="+")
    samples_per_prompt = models.PositiveIntegerField(default=5, help_text="LIMA: 5 samples per dev prompt.")
    decoding = models.JSONField(default=dict, blank=True, help_text="Overrides of the checkpoints' decoding (LIMA's by default).")
    judge_model = models.ForeignKey("generation.ModelSpec", on_delete=models.PROTECT, related_name="+")
    judge_template = models.TextField(help_text="The grading prompt exactly as sent (with {prompt} and {response}).")
    seed = models.BigIntegerField(default=0, help_text="Seed of the bootstrap intervals.")
    state = models.CharField(max_length=10, choices=State.choices, default=State.RUNNING, db_index=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name


class Variant(models.Model):
    class Stage(models.TextChoices):
        FREEZING = "freezing", "Freezing the snapshot"
        TRAINING = "training", "Training"
        GENERATING = "generating", "Generating on dev"
        GRADING = "grading", "Grading with the LLM judge"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="variants")
    position = models.PositiveIntegerField()
    label = models.CharField(max_length=200)
    sources = models.JSONField(help_text="The example sources the variant draws from.")
    quality_filter = models.BooleanField(help_text="On: approved examples only (curated); off: every mined example, "
                                                   "reviewed or not (candidates, submitted, rejected).")
    size = models.PositiveIntegerField(null=True, blank=True, help_text="Rows sampled (blank: all that match).")
    seed = models.IntegerField(default=0, help_text="Seed of the row sample.")
    stage = models.CharField(max_length=10, choices=Stage.choices, default=Stage.FREEZING)
    error = models.TextField(blank=True)
    snapshot = models.ForeignKey("datasets.Dataset", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    training_run = models.ForeignKey("training.TrainingRun", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    checkpoint = models.ForeignKey("training.Checkpoint", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    generation_runs = models.ManyToManyField("generation.GenerationRun", blank=True, related_name="+")

    class Meta:
        ordering = ["experiment", "position"]
        constraints = [models.UniqueConstraint(fields=["experiment", "position"], name="variant_position_unique")]

    def __str__(self) -> str:
        return self.label


class HelpfulnessGrade(models.Model):
    """The judge's 1-6 score for one dev response of one variant; unique per (variant, response), so a re-run
    chunk never grades twice. A failed or unparseable answer is kept with its error and has no score."""

    variant = models.ForeignKey(Variant, on_delete=models.CASCADE, related_name="grades")
    response = models.ForeignKey("generation.Response", on_delete=models.CASCADE, related_name="+")
    score = models.PositiveSmallIntegerField(null=True, blank=True)
    raw = models.TextField(blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["variant", "response"], name="helpfulness_grade_unique"),
            models.CheckConstraint(condition=Q(score__isnull=True) | Q(score__gte=1, score__lte=6), name="helpfulness_score_1_to_6"),
        ]
