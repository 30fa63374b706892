"""Training runs: thin views over training services (full page normally, the progress partial for HTMX)."""

from __future__ import annotations

from pathlib import Path

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from lima_site.forms import copy_errors_to_form
from lima_site.roles import role_required
from training import charts, progress
from training.forms import DevResponsesForm, SubmitForm, TrainingRunForm
from training.models import Checkpoint, TrainingRun
from training.services import checkpoints as checkpoint_services
from training.services import memory_plans
from training.services import runs


@role_required("train")
def run_list(request):
    page = Paginator(
        TrainingRun.objects.select_related("dataset", "base_model", "result").annotate(checkpoint_count=Count("checkpoints"))
        .order_by("-created_at", "-id"),
        50,
    ).get_page(request.GET.get("page"))
    return render(request, "training/run_list.html", {"page": page})


@role_required("train")
def run_create(request):
    if request.method != "POST":
        form = TrainingRunForm(initial={"preset": request.GET.get("preset", "lima-65b"),
                                        "launcher": request.GET.get("launcher") or runs.default_launcher()})
        return render(request, "training/run_form.html", {"form": form})
    form = TrainingRunForm(request.POST)
    if form.is_valid():
        try:
            run = runs.create_run(
                name=form.cleaned_data["name"], dataset=form.cleaned_data["dataset"],
                base_model=form.cleaned_data["base_model"], user=request.user, hyperparameters=form.hyperparameters(),
                launcher=form.cleaned_data["launcher"], resources=form.resources(),
                checkpoint_backend=form.cleaned_data["checkpoint_backend"] or None,
            )
        except ValidationError as exc:
            copy_errors_to_form(form, exc)
        else:
            messages.info(request, "Check the job script below, then submit.")
            return redirect("training:run_detail", pk=run.pk)
    return render(request, "training/run_form.html", {"form": form}, status=422)


def _progress_context(run: TrainingRun) -> dict:
    state = runs.run_progress(run)
    log = progress.log_tail(Path(run.run_dir) / "train.log") if run.run_dir else ""
    return {"run": run, "progress": state, "log_tail": log or run.log_tail,
            "loss_svg": mark_safe(charts.loss_curve_svg(state["points"]))}  # numbers only, formatted by charts


@role_required("train")
def run_detail(request, pk: int):
    run = get_object_or_404(TrainingRun.objects.select_related("dataset", "base_model", "result"), pk=pk)
    context = _progress_context(run)
    if request.GET.get("part") == "progress":
        response = render(request, "training/partials/run_progress.html", context)
        if request.htmx and not run.is_active:
            response["HX-Refresh"] = "true"  # the finished page shows the checkpoints (no inline script: CSP)
        return response
    context.update(
        checkpoints=run.checkpoints.select_related("model", "dev_run").order_by("epoch"),
        dev_form=DevResponsesForm(),
        submit_form=SubmitForm(initial={"launcher": _suggested_launcher(run)}),
        memory_plan=memory_plans.plan_for_run(run),
    )
    return render(request, "training/run_detail.html", context)


def _suggested_launcher(run: TrainingRun) -> str:
    """A refused run is offered the launcher that works here when its own did not."""
    if run.state == "rejected":
        working = runs.default_launcher()
        return run.launcher if working == "local" and run.nodes > 1 else working
    return run.launcher


@require_POST
@role_required("train")
def run_action(request, pk: int, action: str):
    run = get_object_or_404(TrainingRun, pk=pk)
    if action == "submit":
        form = SubmitForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Not submitted: " + "; ".join(m for errors in form.errors.values() for m in errors))
            return redirect("training:run_detail", pk=run.pk)
        try:
            run = runs.submit_run(run=run, launcher=form.cleaned_data["launcher"] or None)
        except ValidationError as exc:
            messages.error(request, "Not submitted: " + "; ".join(exc.messages))
        else:
            if run.state == "rejected":
                messages.error(request, f"Not submitted: {run.error}")
            elif run.job_id:
                messages.success(request, f"Submitted ({run.get_launcher_display()}) as job {run.job_id}.")
    elif action == "cancel":
        runs.cancel_run(run=run)
    elif action == "resubmit":
        ended_job = run.job_id
        try:
            run = runs.resubmit_run(run=run)
        except ValidationError as exc:
            messages.error(request, "; ".join(exc.messages))
        else:
            if run.job_id != ended_job:
                messages.success(request, f"Resubmitted as job {run.job_id}; training resumes after the last checkpoint.")
            else:
                messages.info(request, f"Not resubmitted: the run is {run.get_state_display().lower()} (job {run.job_id}).")
    else:
        runs.refresh_run(run=run)
    return redirect("training:run_detail", pk=run.pk)


@require_POST
@role_required("train")
def dev_responses(request, pk: int):
    run = get_object_or_404(TrainingRun, pk=pk)
    form = DevResponsesForm(request.POST)
    if form.is_valid():
        try:
            started = checkpoint_services.generate_dev_responses(
                run=run, dataset=form.cleaned_data["dataset"], epochs=form.cleaned_data["epochs"], user=request.user
            )
        except ValidationError as exc:
            messages.error(request, "; ".join(exc.messages))
        else:
            messages.success(request, f"Generating dev responses for {len(started)} checkpoints.")
    else:
        messages.error(request, "; ".join(message for errors in form.errors.values() for message in errors))
    return redirect("training:run_detail", pk=run.pk)


@require_POST
@role_required("train")
def pick(request, pk: int):
    run = get_object_or_404(TrainingRun, pk=pk)
    checkpoint = get_object_or_404(Checkpoint, pk=request.POST.get("checkpoint") or 0, run=run)
    checkpoint_services.pick_result(run=run, checkpoint=checkpoint)
    messages.success(request, f"Epoch {checkpoint.epoch} is this run's result.")
    return redirect("training:run_detail", pk=run.pk)
