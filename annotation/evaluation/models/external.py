"""Pairwise judgments collected outside the tool, imported so the same statistics and charts run on them.

An external set is not a `Study`: a study is built from a frozen prompt snapshot and generation
runs, and its judgments belong to user accounts. An external file has none of these, only the
names it was given (prompt ids, model names, annotator pseudonyms), so it is stored as what it is:
the file's rows in model terms, next to a record of where they came from.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ExternalJudgmentSet(models.Model):
    name = models.CharField(max_length=200)
    target = models.TextField(blank=True, help_text="The model under study (LIMA in the paper); empty for a tournament.")
    baselines = models.JSONField(default=list, help_text="The baselines, in the order they first appear in the file.")
    filename = models.CharField(max_length=255)
    file_format = models.CharField(max_length=5, choices=[("csv", "CSV"), ("jsonl", "JSONL")])
    sha256 = models.CharField(max_length=64, help_text="Of the uploaded file, to tell re-imports apart.")
    judgment_count = models.PositiveIntegerField()
    seed = models.IntegerField(default=0, help_text="Seed of the bootstrap confidence intervals.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_tournament(self) -> bool:
        """Many models against each other with no single target: rated by Bradley-Terry, not Figure 1."""
        return not self.target


class ExternalJudgment(models.Model):
    """One row of the file, already in model terms (see `annotation.evaluation.judgment_import`)."""

    judgment_set = models.ForeignKey(ExternalJudgmentSet, on_delete=models.CASCADE, related_name="judgments")
    # Text, not bounded strings: the format puts no limit on ids and names.
    item = models.TextField(help_text="prompt id :: baseline, one comparison.")
    prompt = models.TextField()
    baseline = models.TextField()
    model = models.TextField(blank=True, help_text="Tournaments: the row's other model (verdicts read 'target' as this one). "
                                                   "Empty in a target set: the set's target.")
    annotator = models.TextField()
    group = models.TextField()
    verdict = models.CharField(max_length=8, choices=[("target", "Target better"), ("tie", "Tie"), ("baseline", "Baseline better")])
    target_len = models.PositiveIntegerField(null=True, blank=True)
    baseline_len = models.PositiveIntegerField(null=True, blank=True)
    target_on_left = models.BooleanField(null=True)

    class Meta:
        ordering = ["judgment_set", "id"]
        constraints = [
            models.UniqueConstraint(fields=["judgment_set", "item", "annotator"], name="external_judgment_unique_per_annotator"),
        ]
