"""Deleting a draft study: GET asks for confirmation (or says why it cannot go), POST deletes."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from annotation.evaluation.models import Study
from annotation.evaluation.services.deletion import delete_draft_study, study_deletion_refusal
from lima_site.roles import role_required


@role_required("manage_studies")
def study_delete(request, pk: int):
    study = get_object_or_404(Study, pk=pk)
    refusal = study_deletion_refusal(study)
    if request.method == "POST" and refusal is None:
        try:
            delete_draft_study(study_id=study.pk)
        except ValidationError as exc:
            refusal = " ".join(exc.messages)
        else:
            messages.success(request, f"Draft study “{study.name}” deleted.")
            return redirect("evaluation:study_list")
    return render(request, "confirm_delete.html", {
        "kind": "draft study", "label": study.name, "refusal": refusal,
        "consequence": "The study's settings are removed; its prompt snapshot and generation runs stay.",
        "cancel_url": reverse("evaluation:study_detail", args=[study.pk]),
    }, status=409 if refusal and request.method == "POST" else 200)
