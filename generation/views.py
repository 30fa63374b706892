"""Model registry and generation runs: thin views over generation services."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from annotation.datasets.lima_format import FormatError
from annotation.datasets.models import DatasetRow
from generation.forms import ImportResponsesForm, ModelSpecForm, RunForm
from generation.models import GenerationRun, ModelSpec, Response
from generation.services import deletion, imported, runs
from lima_site.forms import copy_errors_to_form
from lima_site.roles import role_required


@role_required("generate")
def model_list(request):
    form = ModelSpecForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        model = form.save(commit=False)
        model.created_by = request.user
        model.save()
        messages.success(request, f"Registered {model.name}.")
        return redirect("generation:model_list")
    models = ModelSpec.objects.annotate(run_count=Count("runs"))
    return render(request, "generation/model_list.html", {"models": models, "form": form},
                  status=422 if form.errors else 200)


def _run_list(request, *, form=None, import_form=None, import_errors=None, status=200):
    run_page = Paginator(
        GenerationRun.objects.select_related("model", "dataset").annotate(
            done=Count("responses"), errors=Count("responses", filter=~Q(responses__error=""))
        ).order_by("-created_at", "-id"),  # explicit: Meta.ordering does not apply to an aggregating query
        50,
    ).get_page(request.GET.get("page"))
    return render(request, "generation/run_list.html", {
        "page": run_page, "form": form or RunForm(), "import_form": import_form or ImportResponsesForm(),
        "import_errors": import_errors,
    }, status=status)


@role_required("generate")
def run_list(request):
    return _run_list(request)


@require_POST
@role_required("generate")
def run_create(request):
    form = RunForm(request.POST)
    if not form.is_valid():
        return _run_list(request, form=form, status=422)
    try:
        run = runs.create_run(
            model=form.cleaned_data["model"], dataset=form.cleaned_data["dataset"], user=request.user,
            decoding=form.decoding_overrides(), seed=form.cleaned_data["seed"], chunk_size=form.cleaned_data["chunk_size"],
        )
    except ValidationError as exc:
        copy_errors_to_form(form, exc)
        return _run_list(request, form=form, status=422)
    runs.start_run(run=run)
    return redirect("generation:run_detail", pk=run.pk)


@require_POST
@role_required("generate")
def run_import(request):
    form = ImportResponsesForm(request.POST, request.FILES)
    if not form.is_valid():
        return _run_list(request, import_form=form, status=422)
    try:
        result = imported.import_responses(model=form.cleaned_data["model"], dataset=form.cleaned_data["dataset"],
                                           stream=form.cleaned_data["file"], user=request.user)
    except FormatError as error:
        return _run_list(request, import_form=form, import_errors=error, status=422)
    summary = f"Imported {result.matched} responses"
    if result.unmatched:
        summary += f"; {len(result.unmatched)} rows matched no prompt ({'; '.join(result.unmatched[:5])})"
    if result.missing:
        summary += f"; {result.missing} prompts of the snapshot have no response"
    messages.success(request, summary + ".")
    return redirect("generation:run_detail", pk=result.run.pk)


@role_required("generate")
def run_detail(request, pk: int):
    run = get_object_or_404(GenerationRun.objects.select_related("model", "dataset", "created_by"), pk=pk)
    context = {"run": run, "progress": runs.progress(run)}
    if request.htmx and request.GET.get("part") == "progress":
        response = render(request, "generation/partials/run_progress.html", context)
        if not run.is_active:
            response["HX-Refresh"] = "true"  # the finished page lists the responses (no inline script: CSP)
        return response
    responses = Paginator(
        Response.objects.filter(run=run).select_related("row").order_by("row__position"), 25
    ).get_page(request.GET.get("page"))
    failed = run.responses.exclude(error="").select_related("row").order_by("row__position")[:20]
    return render(request, "generation/run_detail.html", {**context, "responses": responses, "failed": failed})


@require_POST
@role_required("generate")
def run_action(request, pk: int, action: str):
    run = get_object_or_404(GenerationRun, pk=pk)
    if action == "cancel":
        runs.cancel_run(run=run)
        messages.success(request, "Run cancelled; stored responses are kept.")
    elif action == "retry":
        try:
            tasks = runs.retry_failures(run=run)
        except runs.RunConflict as exc:
            messages.error(request, f"Nothing retried: {exc}.")
        else:
            run.refresh_from_db(fields=["status"])
            if tasks:
                messages.success(request, f"Retrying failed and missing responses ({tasks} task{'s' if tasks != 1 else ''}).")
            elif run.is_active:
                messages.info(request, "The run is already generating; nothing was sent again.")
            else:
                messages.success(request, "Nothing had failed or was missing: the run is complete.")
    elif action == "resume":
        tasks = runs.resume_run(run=run)
        messages.success(request, f"Re-queued the missing responses ({tasks} task{'s' if tasks != 1 else ''}).")
    else:
        messages.error(request, f"Unknown action {action!r}.")
    return redirect("generation:run_detail", pk=pk)


@role_required("generate")
def run_compare(request):
    """Prompts and the responses of several runs over the same snapshot, side by side."""
    run_ids = [int(value) for value in request.GET.getlist("runs") if value.isdigit()][:6]
    selected = list(GenerationRun.objects.filter(pk__in=run_ids).select_related("model", "dataset"))
    datasets = {run.dataset_id for run in selected}
    error = "Pick runs over the same prompt snapshot." if len(datasets) > 1 else ""
    page = None
    rows = []
    if selected and not error:
        page = Paginator(DatasetRow.objects.filter(dataset_id=selected[0].dataset_id).order_by("position"), 20).get_page(
            request.GET.get("page")
        )
        by_key = {(r.run_id, r.row_id): r for r in Response.objects.filter(run__in=selected, row__in=list(page))}
        rows = [(row, [by_key.get((run.pk, row.pk)) for run in selected]) for row in page]
    choices = GenerationRun.objects.select_related("model", "dataset").order_by("-created_at")[:100]
    return render(request, "generation/run_compare.html", {
        "selected": selected, "rows": rows, "page": page, "error": error, "choices": choices, "run_ids": run_ids,
    })


@role_required("generate")
def model_delete(request, pk: int):
    """GET asks for confirmation, or names what uses the model; POST deletes a model nothing uses."""
    model = get_object_or_404(ModelSpec, pk=pk)
    refusal = deletion.model_deletion_refusal(model)
    if request.method == "POST" and refusal is None:
        try:
            deletion.delete_unused_model(model_id=model.pk)
        except ValidationError as exc:
            refusal = " ".join(exc.messages)
        else:
            messages.success(request, f"Model {model.name} deleted.")
            return redirect("generation:model_list")
    return render(request, "confirm_delete.html", {
        "kind": "model", "label": model.name, "refusal": refusal,
        "consequence": "The registration is removed (the files or endpoint it points at are not touched).",
        "cancel_url": reverse("generation:model_list"),
    }, status=409 if refusal and request.method == "POST" else 200)
