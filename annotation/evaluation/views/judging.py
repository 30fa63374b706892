"""The annotator's judging pages: blind, keyboard-first, one HTMX swap per verdict.

Nothing here may name a model, a run or a response id: items and studies are addressed by
random tokens, and the templates get only the prompt and the scrubbed texts.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from annotation.evaluation.models import Study
from annotation.evaluation.selectors import annotator_progress, annotator_studies, study_for_judging
from annotation.evaluation.services import judging as services
from annotation.evaluation.services.judging import StudyClosed
from lima_site.roles import role_required

RATING_GUIDE = {
    "fail": "The response does not meet the requirements of the prompt.",
    "pass": "The response meets the requirements of the prompt.",
    "excellent": "The model provides an excellent response to the prompt.",
}


@role_required("judge")
def judge_home(request):
    studies = [(study, annotator_progress(study=study, annotator=request.user)) for study in annotator_studies(request.user)]
    return render(request, "evaluation/judge_home.html", {"studies": studies})


def _study(request, study_id) -> Study:
    """Membership in the study's pool is checked by the services (403 for outsiders), read with the study itself."""
    study = study_for_judging(public_id=study_id, annotator=request.user)
    if study is None:
        raise Http404("no such study")
    return study


def _render_next(request, study: Study, *, notice: str = "", status: int = 200, assignment=None):
    try:
        assignment = assignment or services.current_assignment(study=study, annotator=request.user)
    except StudyClosed as exc:
        return render(request, "evaluation/partials/judge_closed.html" if request.htmx else "evaluation/judge.html",
                      {"study": study, "closed": str(exc)}, status=409 if request.htmx else 200)
    context = {
        "study": study,
        "item": assignment.item if assignment else None,
        "progress": annotator_progress(study=study, annotator=request.user),
        "notice": notice,
        "notice_is_error": status >= 400,
        "rating_guide": RATING_GUIDE,
    }
    template = "evaluation/partials/judge_item.html" if request.htmx else "evaluation/judge.html"
    return render(request, template, context, status=status)


@role_required("judge")
def judge(request, study_id):
    return _render_next(request, _study(request, study_id))


@require_POST
@role_required("judge")
def judge_submit(request, study_id):
    study = _study(request, study_id)
    item_id = request.POST.get("item", "")
    reason = request.POST.get("reason", "")
    try:
        recorded, following = services.record_and_claim_next(study=study, item_public_id=item_id, annotator=request.user,
                                                             choice=request.POST.get("choice", ""), reason=reason)
    except ValidationError as exc:
        return _render_next(request, study, notice=" ".join(exc.messages), status=422)
    except PermissionDenied as exc:
        return _render_next(request, study, notice=str(exc), status=409)
    except StudyClosed:
        return _render_next(request, study)
    request.lima_action_saved = True  # lima_site.database_unavailable words its 503 accordingly
    notice = "Saved." if recorded.created else "You had already judged that item; your first verdict is kept."
    if not request.htmx:
        messages.info(request, notice)
        return redirect("evaluation:judge", study_id=study.public_id)
    return _render_next(request, study, notice=notice, assignment=following)


@require_POST
@role_required("judge")
def judge_undo(request, study_id):
    study = _study(request, study_id)
    try:
        undone = services.undo_last(study=study, annotator=request.user)
    except StudyClosed:
        return _render_next(request, study)
    window = int(services.UNDO_WINDOW.total_seconds())
    notice = "Your last verdict was taken back; judge the item again." if undone else f"Nothing to undo (verdicts can be taken back for {window} seconds)."
    if not request.htmx:
        messages.info(request, notice)
        return redirect("evaluation:judge", study_id=study.public_id)
    return _render_next(request, study, notice=notice)
