"""Imports of community dumps started from the browser: what ran, on what, how far it got, and its report."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ImportJob(models.Model):
    """One importer run as a Celery task; the task updates the progress fields, the page polls them."""

    class Kind(models.TextChoices):
        STACKEXCHANGE = "stackexchange", "Stack Exchange"
        WIKIHOW = "wikihow", "wikiHow"
        REDDIT = "reddit", "Reddit (Pushshift)"
        NATURAL_INSTRUCTIONS = "natural_instructions", "Super-NaturalInstructions"

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=24, choices=Kind.choices)
    path = models.CharField(max_length=1000, help_text="Dump file or folder, relative to LIMA_DUMPS_DIR.")
    parameters = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED, db_index=True)
    bytes_done = models.BigIntegerField(default=0)
    bytes_total = models.BigIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    existing_count = models.PositiveIntegerField(default=0)
    report = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # Moved at the start and at every progress report; a running job whose heartbeat is older than
    # LIMA_IMPORT_STALE_SECONDS lost its worker (annotation.services.curation.fail_stale_import_jobs).
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} import of {self.path} ({self.state})"

    @property
    def percent(self) -> int:
        if self.state == self.State.SUCCEEDED:
            return 100
        return min(100, round(100 * self.bytes_done / self.bytes_total)) if self.bytes_total else 0

    @property
    def finished(self) -> bool:
        return self.state in (self.State.SUCCEEDED, self.State.FAILED)
