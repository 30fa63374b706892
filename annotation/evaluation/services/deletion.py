"""Deleting a study that never opened: a draft has no items, assignments or judgments worth keeping."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from annotation.evaluation.models import Judgment, Rating, Study


def study_deletion_refusal(study: Study) -> str | None:
    """Why the study cannot be deleted, or None: only drafts go, and never one holding a verdict."""
    if study.state != Study.State.DRAFT:
        return (f"it is {study.get_state_display().lower()}; only a draft study can be deleted (an opened study's "
                "judgments are results: close it instead).")
    if Judgment.objects.filter(item__study=study).exists() or Rating.objects.filter(item__study=study).exists():
        return "it holds judgments."
    return None


def delete_draft_study(*, study_id: int) -> None:
    with transaction.atomic():
        study = Study.objects.select_for_update().get(pk=study_id)
        if (refusal := study_deletion_refusal(study)) is not None:
            raise ValidationError(refusal)
        study.delete()
