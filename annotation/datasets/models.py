"""Frozen, content-hashed snapshots of approved examples: what training runs and studies point at."""

from django.conf import settings
from django.db import models

from annotation import paper


class Dataset(models.Model):
    name = models.SlugField(max_length=100, unique=True)
    split = models.CharField(max_length=8, choices=paper.SPLITS)
    description = models.TextField(blank=True)
    content_hash = models.CharField(max_length=64, db_index=True, help_text="SHA-256 of the GAIR/lima JSONL export.")
    row_count = models.PositiveIntegerField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name


class DatasetRow(models.Model):
    """One frozen row; it keeps its text even if the live example is edited or deleted later."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="rows")
    position = models.PositiveIntegerField()
    example = models.ForeignKey("annotation.Example", null=True, on_delete=models.SET_NULL, related_name="+")
    source = models.CharField(max_length=32)
    conversations = models.JSONField()
    is_refusal = models.BooleanField(default=False)
    is_sensitive = models.BooleanField(default=False, help_text="Copied from the example: safety studies rate responses to these.")
    # Licence attribution of mined rows (site, URL, author, licence), exported beside the GAIR/lima file.
    attribution = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["dataset", "position"]
        constraints = [models.UniqueConstraint(fields=["dataset", "position"], name="dataset_row_position_unique")]
