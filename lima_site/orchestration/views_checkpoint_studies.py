"""The one-click study from a training run's checkpoint table (thin: the service decides)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from lima_site.orchestration.checkpoint_studies import open_checkpoint_study
from lima_site.roles import role_required
from training.models import Checkpoint


@require_POST
@role_required("manage_studies")
def checkpoint_study(request, pk: int, checkpoint_pk: int):
    checkpoint = get_object_or_404(Checkpoint, pk=checkpoint_pk, run_id=pk)
    try:
        study, note = open_checkpoint_study(checkpoint=checkpoint, user=request.user)
    except ValidationError as exc:
        messages.error(request, "No study opened: " + "; ".join(exc.messages))
        return redirect("training:run_detail", pk=pk)
    if note:
        messages.warning(request, f"Study created but not open: {note}")
    else:
        messages.success(request, f"Blind study open with {study.items.count()} items: epoch {checkpoint.epoch} against the others.")
    return redirect("evaluation:study_detail", pk=study.pk)
