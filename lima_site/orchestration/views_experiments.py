"""Ablation experiments for researchers: define, watch (HTMX-polled progress), read the chart, open any point."""

from __future__ import annotations

from dataclasses import asdict

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from lima_site.forms import copy_errors_to_form
from lima_site.orchestration import experiment_charts, experiments
from lima_site.orchestration.forms_experiments import ExperimentForm
from lima_site.orchestration.models import Experiment
from lima_site.roles import role_required


@role_required("train")
def experiment_list(request):
    page = Paginator(Experiment.objects.select_related("base_model", "dev_dataset", "judge_model"), 50).get_page(request.GET.get("page"))
    return render(request, "orchestration/experiment_list.html", {"page": page})


@role_required("train")
def experiment_create(request):
    if request.method != "POST":
        return render(request, "orchestration/experiment_form.html", {"form": ExperimentForm()})
    form = ExperimentForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            experiment = experiments.create_experiment(
                name=data["name"], description=data["description"], base_model=data["base_model"],
                dev_dataset=data["dev_dataset"], judge_model=data["judge_model"], user=request.user,
                variants=form.variants(), hyperparameters=form.hyperparameters(), launcher=data["launcher"],
                resources=asdict(form.resources()), samples_per_prompt=data["samples_per_prompt"],
                decoding={"max_new_tokens": data["max_new_tokens"]}, judge_template=data["judge_template"],
            )
        except ValidationError as exc:
            copy_errors_to_form(form, exc)
        else:
            messages.info(request, f"Experiment started with {experiment.variants.count()} variants.")
            return redirect("experiments:experiment_detail", pk=experiment.pk)
    return render(request, "orchestration/experiment_form.html", {"form": form}, status=422)


def _chart_points(experiment: Experiment, points) -> list[experiment_charts.ChartPoint]:
    return [experiment_charts.ChartPoint(
        label=p.variant.label, mean=p.score.mean if p.score else None, low=p.score.low if p.score else None,
        high=p.score.high if p.score else None,
        url=reverse("experiments:variant_detail", args=[experiment.pk, p.variant.position])) for p in points]


@role_required("train")
def experiment_detail(request, pk: int):
    experiment = get_object_or_404(Experiment.objects.select_related("base_model", "dev_dataset", "judge_model"), pk=pk)
    points = experiments.variant_points(experiment)
    context = {"experiment": experiment, "points": points, "progress": experiments.experiment_progress(experiment),
               "chart": mark_safe(experiment_charts.helpfulness_chart(  # drawn here from numbers and our own labels
                   _chart_points(experiment, points), title=f"Mean helpfulness per variant (95% intervals)").decode())}
    template = "orchestration/partials/experiment_live.html" if request.htmx else "orchestration/experiment_detail.html"
    return render(request, template, context)


@role_required("train")
def experiment_chart(request, pk: int):
    experiment = get_object_or_404(Experiment, pk=pk)
    svg = experiment_charts.helpfulness_chart(_chart_points(experiment, experiments.variant_points(experiment)),
                                              title=f"{experiment.name}: mean helpfulness (95% intervals)")
    return HttpResponse(svg, content_type="image/svg+xml")


@require_POST
@role_required("train")
def experiment_cancel(request, pk: int):
    experiment = experiments.cancel_experiment(experiment=get_object_or_404(Experiment, pk=pk))
    messages.info(request, f"Experiment {experiment.name}: {experiment.get_state_display().lower()}.")
    return redirect("experiments:experiment_detail", pk=experiment.pk)


@role_required("train")
def variant_detail(request, pk: int, position: int):
    experiment = get_object_or_404(Experiment, pk=pk)
    variant = get_object_or_404(experiment.variants.select_related("snapshot", "training_run", "checkpoint__model"), position=position)
    point = next(p for p in experiments.variant_points(experiment) if p.variant.pk == variant.pk)
    return render(request, "orchestration/variant_detail.html", {
        "experiment": experiment, "variant": variant, "point": point,
        "generation_runs": experiments.generation_runs_of(variant), "responses": experiments.variant_responses(variant)})
