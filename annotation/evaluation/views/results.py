"""Researchers' data out and in: streamed study exports, the statistics report as JSON / Markdown, and
external judgment sets (upload, results page, charts) analysed with the same statistics."""

from __future__ import annotations

import json

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.text import slugify

from annotation.evaluation import exports, selectors, stats
from annotation.datasets.csv_cells import raw_requested
from annotation.datasets.lima_format import FormatError
from annotation.evaluation.models import ExternalJudgmentSet, Study
from annotation.evaluation.services.external_judgments import import_external_judgments
from lima_site.forms import copy_errors_to_form, validate_upload_size
from lima_site.roles import role_required

CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8",
                 "json": "application/json", "md": "text/markdown; charset=utf-8"}


class ExternalJudgmentForm(forms.Form):
    """Kept beside its only view: annotation/forms.py holds the authoring and study forms."""

    name = forms.CharField(max_length=200, help_text="e.g. “LIMA paper, Figure 1 crowd judgments”.")
    file = forms.FileField(validators=[validate_upload_size], help_text="CSV with a header row or JSONL: prompt_id, model_a, model_b, verdict, annotator, annotator_group "
                                     "(optional length_a, length_b).")
    target = forms.CharField(max_length=200, required=False,
                             help_text="The model under study; leave empty when it is the one model present in every row.")
    seed = forms.IntegerField(required=False, initial=0, help_text="Seed of the bootstrap confidence intervals.")
    tournament = forms.BooleanField(required=False, label="Tournament (no single target)",
                                    help_text="Any models against each other, as in Chatbot Arena: rated by Bradley–Terry.")


def wants_identities(request) -> bool:
    return request.GET.get("identities") in ("1", "true", "yes")


def streamed_export(study: Study, kind: str, fmt: str, *, identities: bool, raw: bool = False) -> StreamingHttpResponse:
    """The export as a streamed download (shared by the page links and the API)."""
    chunks = exports.study_export_chunks(study, kind, fmt, identities=identities, raw=raw)  # type: ignore[arg-type]
    response = StreamingHttpResponse(chunks, content_type=CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="{slugify(study.name) or "study"}-{study.pk}-{kind}.{fmt}"'
    return response


def report_download(report: stats.StatisticsReport, fmt: str, *, title: str, target: str, filename: str) -> HttpResponse:
    if fmt == "json":
        content = json.dumps(stats.report_as_dict(report), indent=2, ensure_ascii=False)
    else:
        content = exports.report_markdown(report, title=title, target=target)
    response = HttpResponse(content, content_type=CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    return response


@role_required("manage_studies")
def study_export(request, pk: int, kind: str, fmt: str):
    study = get_object_or_404(Study, pk=pk)
    return streamed_export(study, kind, fmt, identities=wants_identities(request), raw=raw_requested(request.GET))


@role_required("manage_studies")
def study_report(request, pk: int, fmt: str):
    study = get_object_or_404(Study.objects.select_related("target_run__model"), pk=pk)
    return report_download(selectors.study_report(study), fmt, title=f"Results of {study.name}",
                           target=study.target_run.model.name, filename=f"{slugify(study.name) or 'study'}-{study.pk}-report")


def _external_list(request, *, form=None, import_errors=None, status=200):
    return render(request, "evaluation/external_list.html", {
        "sets": ExternalJudgmentSet.objects.select_related("created_by"), "form": form or ExternalJudgmentForm(),
        "import_errors": import_errors,
    }, status=status)


@role_required("manage_studies")
def external_list(request):
    """External judgment sets, and the upload form (a file with any bad row is rejected whole)."""
    if request.method != "POST":
        return _external_list(request)
    form = ExternalJudgmentForm(request.POST, request.FILES)
    if not form.is_valid():
        return _external_list(request, form=form, status=422)
    upload = form.cleaned_data["file"]
    try:
        judgment_set = import_external_judgments(
            name=form.cleaned_data["name"], stream=upload, filename=upload.name, user=request.user,
            target=form.cleaned_data["target"], seed=form.cleaned_data["seed"] or 0, tournament=form.cleaned_data["tournament"],
        )
    except FormatError as error:
        return _external_list(request, form=form, import_errors=error, status=422)
    except ValidationError as exc:
        copy_errors_to_form(form, exc)
        return _external_list(request, form=form, status=422)
    if judgment_set.is_tournament:
        messages.success(request, f"Imported a tournament of {judgment_set.judgment_count} judgments between "
                                  f"{len(judgment_set.baselines)} models.")
    else:
        messages.success(request, f"Imported {judgment_set.judgment_count} judgments of {judgment_set.target} against "
                                  f"{len(judgment_set.baselines)} baseline(s).")
    return redirect("evaluation:external_results", pk=judgment_set.pk)


@role_required("manage_studies")
def external_results(request, pk: int):
    judgment_set = get_object_or_404(ExternalJudgmentSet, pk=pk)
    report = selectors.external_report(judgment_set)
    return render(request, "evaluation/external_results.html", {
        "judgment_set": judgment_set, "report": report, **selectors.results_page_charts(report, target_name=judgment_set.target),
        "boards": selectors.tournament_boards(selectors.external_tournament(judgment_set)),
    })


@role_required("manage_studies")
def external_chart(request, pk: int, name: str, fmt: str):
    judgment_set = get_object_or_404(ExternalJudgmentSet, pk=pk)
    report = selectors.external_report(judgment_set)
    response = HttpResponse(selectors.report_chart(report, name, fmt, target_name=judgment_set.target),
                            content_type="image/svg+xml" if fmt == "svg" else "image/png")
    response["Content-Disposition"] = f'attachment; filename="{slugify(judgment_set.name) or "external"}-{name}.{fmt}"'
    return response


@role_required("manage_studies")
def external_report(request, pk: int, fmt: str):
    judgment_set = get_object_or_404(ExternalJudgmentSet, pk=pk)
    return report_download(selectors.external_report(judgment_set), fmt, title=judgment_set.name,
                           target=judgment_set.target, filename=f"{slugify(judgment_set.name) or 'external'}-{pk}-report")
