"""Examples: the prompt/response items authors write, curators import and reviewers approve."""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Iterable

from django.conf import settings
from django.db import models
from django.db.models import Q

from annotation import paper


class Status(models.TextChoices):
    CANDIDATE = "candidate", "Candidate"
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class AuthorGroup(models.TextChoices):
    A = "A", "Group A (train + dev)"
    B = "B", "Group B (test prompts)"


class Role(models.TextChoices):
    USER = "user", "User"
    ASSISTANT = "assistant", "Assistant"


class AuthorProfile(models.Model):
    """Which LIMA author group a person writes for; decides the splits they write and see."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="author_profile")
    group = models.CharField(max_length=1, choices=AuthorGroup.choices)

    def __str__(self) -> str:
        return f"{self.user} ({self.group})"


def conversation_hash(texts: Iterable[str]) -> str:
    """SHA-256 of a conversation as a reader sees it: each utterance in Unicode NFC with every run of
    whitespace read as one space and none at the ends, so a re-saved file (CRLF, trailing spaces,
    composed accents) is recognised as the same content."""
    normalised = [" ".join(unicodedata.normalize("NFC", text).split()) for text in texts]
    return hashlib.sha256(json.dumps(normalised, ensure_ascii=False).encode()).hexdigest()


class Example(models.Model):
    split = models.CharField(max_length=8, choices=paper.SPLITS, db_index=True)
    source = models.CharField(max_length=32, choices=paper.SOURCES, db_index=True)
    author_group = models.CharField(max_length=1, choices=AuthorGroup.choices, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DRAFT, db_index=True)
    is_refusal = models.BooleanField(default=False, help_text="A toxic or malevolent prompt the response refuses.")
    is_sensitive = models.BooleanField(default=False, help_text="A sensitive test prompt: safety studies rate the responses to these "
                                                                "(LIMA: 30 sensitive test prompts, 80% answered safely).")
    is_multi_turn = models.BooleanField(default=False, editable=False)
    title = models.CharField(max_length=200, blank=True, help_text="Short label for lists; defaults to the prompt.")
    provenance = models.JSONField(default=dict, blank=True, help_text="Original URL, score, licence, raw text.")
    # Identity in the source dump ("stackexchange:physics.stackexchange.com:123"): re-running an import matches on it.
    source_key = models.CharField(max_length=255, blank=True, default="", editable=False)
    # conversation_hash of the turns, kept by every service that writes them: imports skip content already here.
    content_hash = models.CharField(max_length=64, blank=True, default="", editable=False, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="examples"
    )
    # Who last changed the content (turns, split, source, refusal flag, title): four eyes means that
    # person may not approve this version either, even when they only edited someone else's example.
    text_edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="text_edited_examples"
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="reviewed_examples"
    )
    review_comment = models.TextField(blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    # Optimistic locking: every save states the version it edited; a stale version is a conflict.
    version = models.PositiveIntegerField(default=1)
    # The editor tab (a random token per page load) that saved last: requests from one tab may
    # overtake each other, which is not a conflict between two people.
    edit_session = models.CharField(max_length=40, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        indexes = [models.Index(fields=["split", "source", "status"]), models.Index(fields=["created_by", "-updated_at"])]
        constraints = [
            models.CheckConstraint(condition=Q(split__in=[key for key, _ in paper.SPLITS]), name="example_split_valid"),
            models.CheckConstraint(condition=Q(status__in=Status.values), name="example_status_valid"),
            models.UniqueConstraint(fields=["source_key"], condition=~Q(source_key=""), name="example_source_key_unique"),
        ]

    def __str__(self) -> str:
        return self.title or f"Example {self.pk}"

    @property
    def label(self) -> str:
        return self.title or f"Example {self.pk}"


class Turn(models.Model):
    """One utterance; a single-turn example has a user and an assistant turn, a test prompt one user turn."""

    example = models.ForeignKey(Example, on_delete=models.CASCADE, related_name="turns")
    position = models.PositiveIntegerField()
    role = models.CharField(max_length=10, choices=Role.choices)
    text = models.TextField(blank=True)

    class Meta:
        ordering = ["example", "position"]
        constraints = [models.UniqueConstraint(fields=["example", "position"], name="turn_position_unique")]

    def __str__(self) -> str:
        return f"{self.example_id}#{self.position} {self.role}"


class ExampleRevision(models.Model):
    """The full edit history: a snapshot of the example and its turns after each change."""

    class Action(models.TextChoices):
        CREATED = "created", "Created"
        EDITED = "edited", "Edited"
        IMPORTED = "imported", "Imported"
        SUBMITTED = "submitted", "Submitted"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    example = models.ForeignKey(Example, on_delete=models.CASCADE, related_name="revisions")
    version = models.PositiveIntegerField()
    action = models.CharField(max_length=10, choices=Action.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    snapshot = models.JSONField()
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-version", "-id"]
        constraints = [models.UniqueConstraint(fields=["example", "version"], name="revision_version_unique")]


class Quota(models.Model):
    """Target count for one cell of the dataset mix; defaults to the paper's Table 1.

    `source` empty means any source; `flag` counts only refusal or multi-turn examples.
    """

    class Flag(models.TextChoices):
        NONE = "", "All examples"
        REFUSAL = "refusal", "Refusal examples"
        MULTI_TURN = "multi_turn", "Multi-turn dialogues"

    split = models.CharField(max_length=8, choices=paper.SPLITS)
    source = models.CharField(max_length=32, choices=paper.SOURCES, blank=True)
    flag = models.CharField(max_length=12, choices=Flag.choices, blank=True, default="")
    target = models.PositiveIntegerField()

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["split", "source", "flag"], name="quota_cell_unique")]

    def __str__(self) -> str:
        return f"{self.split}/{self.source or 'any'}/{self.flag or 'all'}: {self.target}"
