"""Researchers' study pages: set up, open and close studies, launch the LLM judge, watch annotators."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.text import slugify
from django.views.decorators.http import require_POST

from annotation.evaluation.forms import LLMJudgeForm, StudyForm
from annotation.evaluation.judge_prompt import SAFETY_TEMPLATE
from annotation.evaluation import charts, selectors
from annotation.evaluation.models import Study
from annotation.evaluation.selectors import annotator_workloads, study_overview
from annotation.evaluation.services import judging, llm_judge
from lima_site.roles import role_required


@role_required("manage_studies")
def study_list(request):
    form = StudyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        study = form.save(commit=False)
        study.created_by = request.user
        study.save()
        form.save_m2m()
        messages.success(request, f"Study “{study.name}” created as a draft; open it to build its items.")
        return redirect("evaluation:study_detail", pk=study.pk)
    studies = Study.objects.select_related("dataset", "target_run__model")
    return render(request, "evaluation/study_list.html", {"studies": studies, "form": form}, status=422 if form.errors else 200)


@role_required("manage_studies")
def study_detail(request, pk: int):
    study = get_object_or_404(Study.objects.select_related("dataset", "target_run__model"), pk=pk)
    judge_runs = [(run, llm_judge.judge_progress(run)) for run in study.judge_runs.select_related("model")]
    baselines = list(study.baseline_runs.select_related("model"))
    context = {
        "study": study, "overview": study_overview(study), "annotators": annotator_workloads(study),
        "judge_runs": judge_runs, "baselines": baselines,
        "judge_form": LLMJudgeForm(initial={"template": SAFETY_TEMPLATE} if study.kind == Study.Kind.SAFETY else None),
        "blindness_warning": study.blindness_warning(baseline_count=len(baselines)), "pool": study.annotators.order_by("username"),
        "recent_verdicts": selectors.recent_verdicts(study),
    }
    if request.htmx and request.GET.get("part") == "live":
        return render(request, "evaluation/partials/study_live.html", context)
    return render(request, "evaluation/study_detail.html", context)


@require_POST
@role_required("manage_studies")
def study_state(request, pk: int, action: str):
    study = get_object_or_404(Study, pk=pk)
    try:
        if action == "open":
            judging.open_study(study=study)
            messages.success(request, f"Study open with {study.items.count()} items.")
        else:
            judging.close_study(study=study)
            messages.success(request, "Study closed: it takes no more judgments.")
    except ValidationError as exc:
        messages.error(request, "Cannot open the study: " + " ".join(exc.messages))
    return redirect("evaluation:study_detail", pk=pk)


@require_POST
@role_required("manage_studies")
def study_llm_judge(request, pk: int):
    study = get_object_or_404(Study, pk=pk)
    form = LLMJudgeForm(request.POST)
    if form.is_valid():
        try:
            run = llm_judge.start_llm_judge(study=study, model=form.cleaned_data["model"], template=form.cleaned_data["template"],
                                            user=request.user)
            messages.success(request, f"LLM judge {run.model} started on {run.total} items (each asked in both orders).")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
    else:
        messages.error(request, "The judge form is incomplete: " + form.errors.as_text())
    return redirect("evaluation:study_detail", pk=pk)


@role_required("manage_studies")
def study_scrubbed(request, pk: int):
    """What the self-identification scrubber changed, item by item, for researchers to review."""
    study = get_object_or_404(Study, pk=pk)
    items = study.items.exclude(scrubbed=[]).select_related("row").order_by("order_key")[:500]
    held = study.items.filter(held=True).select_related("row").order_by("order_key")[:200]
    return render(request, "evaluation/study_scrubbed.html", {"study": study, "items": items, "held": held})


EXCLUSION_REASONS = {
    "too-fast": "too fast: median time per item under the study's threshold",
    "failed-checks": "failed attention checks",
    "other": "judged unreliable by a researcher",
}


@require_POST
@role_required("manage_studies")
def study_exclusion(request, pk: int, user_pk: int):
    """Leave an annotator out of the statistics for one of the listed reasons, or (reason "include") put them back."""
    study = get_object_or_404(Study, pk=pk)
    choice = request.POST.get("reason", "")
    if choice != "include" and choice not in EXCLUSION_REASONS:
        messages.error(request, "Choose why the annotator is left out.")
        return redirect("evaluation:study_detail", pk=study.pk)
    try:
        judging.set_exclusion(study=study, annotator_id=user_pk, reason=EXCLUSION_REASONS.get(choice, ""), by=request.user)
        messages.success(request, "Annotator put back into the statistics." if choice == "include"
                         else "Annotator left out of the statistics; the results page says so.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("evaluation:study_detail", pk=study.pk)


@require_POST
@role_required("manage_studies")
def study_held_item(request, pk: int, item_pk: int, action: str):
    """Show a held item as it is ("release") or leave it out of the study ("drop")."""
    study = get_object_or_404(Study, pk=pk)
    try:
        judging.decide_held_item(study=study, item_id=item_pk, release=action == "release")
        messages.success(request, "Item released: annotators will see it as it is." if action == "release" else "Item dropped.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("evaluation:study_scrubbed", pk=study.pk)




@role_required("manage_studies")
def study_results(request, pk: int):
    """Figure 1 for this study (humans and the LLM judge), agreement between groups, ratings, annotators."""
    study = get_object_or_404(Study.objects.select_related("target_run__model"), pk=pk)
    report = selectors.study_report(study)  # once: each report runs the bootstrap
    context = {"study": study, "report": report, "judge_classes": selectors.JUDGE_CLASSES}
    if study.kind == Study.Kind.SAFETY:
        # Figure 1's notes ("No human judgments") are about pairs; a safety study keeps only the exclusions.
        report.notes[:] = [note for note in report.notes if note.startswith("Left out")]
        safety = selectors.study_safety(study)
        context.update(safety=safety, safety_svg={key: charts.safety_chart(models).decode() for key, models in safety.items()
                                                  if any(m.n_ratings for m in models)})
    else:
        context.update(selectors.results_page_charts(report, target_name=study.target_run.model.name,
                                                     absolute=study.kind == Study.Kind.ABSOLUTE))
    if study.compares_pairs:
        context["boards"] = selectors.tournament_boards(selectors.study_tournament(study))
    return render(request, "evaluation/study_results.html", context)


@role_required("manage_studies")
def study_chart(request, pk: int, name: str, fmt: str):
    study = get_object_or_404(Study.objects.select_related("target_run__model"), pk=pk)
    content = selectors.report_chart(selectors.study_report(study), name, fmt, target_name=study.target_run.model.name)
    response = HttpResponse(content, content_type="image/svg+xml" if fmt == "svg" else "image/png")
    response["Content-Disposition"] = f'attachment; filename="{slugify(study.name)}-{name}.{fmt}"'
    return response
