"""Datasets: import GAIR/lima files, freeze approved examples into snapshots, export them."""

from __future__ import annotations

import time

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from annotation.datasets import formats, lima_format, selectors
from annotation.datasets import services
from annotation.datasets.attribution import attribution_csv_lines
from annotation.datasets.csv_cells import raw_requested
from annotation.datasets.forms import FreezeForm, ImportForm, source_policy
from annotation.datasets.models import Dataset
from lima_site.forms import copy_errors_to_form
from lima_site.roles import role_required


def _list(request, *, import_form=None, freeze_form=None, import_errors=None, status=200):
    return render(request, "datasets/dataset_list.html", {
        "datasets": Dataset.objects.select_related("created_by"),
        "import_form": import_form or ImportForm(),
        "freeze_form": freeze_form or FreezeForm(),
        "import_errors": import_errors,
    }, status=status)


@role_required("manage_datasets")
def dataset_list(request):
    return _list(request)


@require_POST
@role_required("manage_datasets")
def dataset_import(request):
    form = ImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return _list(request, import_form=form, status=422)
    upload = form.cleaned_data["file"]
    started = time.perf_counter()
    try:
        parsed = services.parse_upload(upload, filename=upload.name, default_split=form.cleaned_data["default_split"],
                                       sources=source_policy(form.cleaned_data))
        result = services.import_examples(
            rows=parsed.rows, user=request.user, status=form.cleaned_data["status"],
            provenance={"file": upload.name, "format": parsed.description},
        )
    except lima_format.FormatError as error:
        return _list(request, import_form=form, import_errors=error, status=422)
    report = (f"Read {upload.name} as {parsed.description}. {result.summary()} "
              f"in {time.perf_counter() - started:.1f} s.")
    if result.created:
        messages.success(request, report)
    else:
        messages.warning(request, f"Nothing new: every row is already stored. {report}")
    return redirect("annotation:dashboard")


@require_POST
@role_required("manage_datasets")
def dataset_freeze(request):
    form = FreezeForm(request.POST)
    if not form.is_valid():
        return _list(request, freeze_form=form, status=422)
    try:
        dataset = services.freeze_dataset(user=request.user, **form.cleaned_data)
    except ValidationError as exc:
        copy_errors_to_form(form, exc)
        return _list(request, freeze_form=form, status=422)
    messages.success(request, f"Froze {dataset.row_count} examples as {dataset.name} (sha256 {dataset.content_hash[:12]}…).")
    return redirect("datasets:dataset_detail", pk=dataset.pk)


@role_required("manage_datasets")
def dataset_detail(request, pk: int):
    dataset = get_object_or_404(Dataset.objects.select_related("created_by"), pk=pk)
    rows = dataset.rows.order_by("position")[:20]
    return render(request, "datasets/dataset_detail.html", {"dataset": dataset, "rows": rows})


@role_required("manage_datasets")
def dataset_export(request, pk: int, fmt: str):
    """GAIR/lima JSONL and CSV as before; the other formats of formats.EXPORTS (JSON array, messages, ShareGPT,
    Alpaca, Parquet), each a file `datasets.load_dataset` reads as it is."""
    dataset = get_object_or_404(Dataset, pk=pk)
    filename = f"{dataset.name}.{fmt}"
    if fmt == "csv":
        lines = selectors.dataset_csv_lines(dataset, raw=raw_requested(request.GET))
        response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    elif fmt == "jsonl":
        response = StreamingHttpResponse(selectors.dataset_jsonl_lines(dataset), content_type="application/jsonl; charset=utf-8")
    elif fmt == "parquet":
        response = HttpResponse(selectors.dataset_parquet(dataset), content_type=formats.EXPORTS[fmt][2])
    else:
        shape, container, content_type = formats.EXPORTS[fmt]
        response = StreamingHttpResponse(selectors.dataset_chunks(dataset, shape=shape, container=container),
                                         content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@role_required("manage_datasets")
def dataset_attribution(request, pk: int):
    """Credits for the mined rows of a snapshot (CC BY-SA asks for them), beside the unchanged GAIR/lima export."""
    dataset = get_object_or_404(Dataset, pk=pk)
    rows = dataset.rows.order_by("position").values_list("position", "source", "attribution")
    lines = attribution_csv_lines(rows.iterator(chunk_size=500), raw=raw_requested(request.GET))
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{dataset.name}.attribution.csv"'
    return response
