"""Live multi-turn evaluation (LIMA section 4.3): an evaluator talks to a model shown only as "Model X" and rates
every assistant turn Fail / Pass / Excellent.

A study names the models and the evaluators, and how many conversations of how many turns each model should get;
which model a new conversation talks to is drawn by the service (fewest conversations first, ties broken by a
cryptographic draw) and never shown. Evaluators address studies and conversations by random tokens only.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from annotation.evaluation.models.judging import Rating


class ConversationStudy(models.Model):
    class State(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=200, help_text="For researchers; evaluators never see it (it often names the models).")
    public_title = models.CharField(max_length=200, blank=True, help_text="What evaluators see. Never name a model.")
    model_pool = models.ManyToManyField("generation.ModelSpec", related_name="+", help_text="The models evaluators talk to, blind.")
    evaluators = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="conversation_studies")
    conversations_per_model = models.PositiveIntegerField(default=10, help_text="LIMA: 10 live conversations per model.")
    turns_per_conversation = models.PositiveIntegerField(default=5, help_text="Assistant turns each conversation aims for.")
    guidelines = models.TextField(blank=True)
    seed = models.BigIntegerField(default=0, help_text="Seed of the bootstrap intervals.")
    state = models.CharField(max_length=8, choices=State.choices, default=State.OPEN)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "conversation studies"

    def __str__(self) -> str:
        return self.name

    @property
    def evaluator_title(self) -> str:
        return self.public_title or f"Conversations {str(self.public_id)[:8]}"


class Conversation(models.Model):
    study = models.ForeignKey(ConversationStudy, on_delete=models.CASCADE, related_name="conversations")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    model = models.ForeignKey("generation.ModelSpec", on_delete=models.PROTECT, related_name="+")
    evaluator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="conversations")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["study", "created_at", "id"]


class ConversationTurn(models.Model):
    """One utterance; an assistant turn is written while it streams (state `streaming`) and then `done` or `failed`."""

    class State(models.TextChoices):
        STREAMING = "streaming", "Being written"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="turns")
    position = models.PositiveIntegerField(help_text="0 = the evaluator's first message; even = evaluator, odd = assistant.")
    role = models.CharField(max_length=10, choices=[("user", "User"), ("assistant", "Assistant")])
    text = models.TextField(blank=True, help_text="What the evaluator sees: an assistant turn scrubbed of self-identification.")
    raw_text = models.TextField(blank=True, help_text="An assistant turn as the model wrote it (researchers only).")
    state = models.CharField(max_length=10, choices=State.choices, default=State.DONE)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["conversation", "position"]
        constraints = [models.UniqueConstraint(fields=["conversation", "position"], name="conversation_turn_position_unique")]

    @property
    def assistant_number(self) -> int:
        """1 for the first assistant turn (the paper counts failures "within 3 interactions")."""
        return (self.position + 1) // 2


class TurnRating(models.Model):
    """Fail / Pass / Excellent for one assistant turn; one per turn (a double submit updates, never duplicates)."""

    turn = models.OneToOneField(ConversationTurn, on_delete=models.CASCADE, related_name="rating")
    evaluator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    grade = models.CharField(max_length=10, choices=Rating.Grade.choices)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
