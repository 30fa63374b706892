"""The researcher's pipeline overview (home page and its live partial) and the lineage page of a verdict."""

from __future__ import annotations

from django.shortcuts import render

from lima_site.orchestration.lineage import EXAMPLES_SHOWN, lineage
from lima_site.orchestration.pipeline import pipeline_overview
from lima_site.roles import role_required

# Who sees the pipeline: it names models, runs and studies, so only those who manage studies (never annotators).
PIPELINE_CAPABILITY = "manage_studies"


@role_required(PIPELINE_CAPABILITY)
def pipeline_live(request):
    """The pipeline boxes alone, polled by the home page (HTMX) so states change without a reload."""
    return render(request, "orchestration/partials/pipeline.html", {"stages": pipeline_overview()})


@role_required(PIPELINE_CAPABILITY)
def verdict_lineage(request, kind: str, pk: int):
    return render(request, "orchestration/lineage.html", {"lineage": lineage(kind=kind, pk=pk), "examples_shown": EXAMPLES_SHOWN})
