"""Live multi-turn evaluation: evaluators talk to "Model X" (blind), researchers set studies up and read the report.

The evaluator's pages address studies and conversations by random tokens and turns by their place in the
conversation; nothing on them names a model, a run or a database id, and the assistant's text is scrubbed of
self-identification as it is written. The reply streams in by HTMX polling of the turn's partial.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from annotation.evaluation import charts
from annotation.evaluation.forms_conversations import ConversationStudyForm, MessageForm, TurnRatingForm
from annotation.evaluation.models import Conversation, ConversationStudy, ConversationTurn
from annotation.evaluation.services import conversations as services
from annotation.evaluation.views.judging import RATING_GUIDE
from lima_site.forms import copy_errors_to_form
from lima_site.roles import role_required


# Evaluators -------------------------------------------------------------------------------------------------------

@role_required("judge")
def converse_home(request):
    studies = (ConversationStudy.objects.filter(evaluators=request.user, state=ConversationStudy.State.OPEN)
               .order_by("-created_at"))
    mine = (Conversation.objects.filter(evaluator=request.user).select_related("study").order_by("-created_at"))
    return render(request, "evaluation/converse_home.html", {"studies": studies, "conversations": mine})


@require_POST
@role_required("judge")
def converse_start(request, study_id):
    study = get_object_or_404(ConversationStudy, public_id=study_id)
    try:
        conversation = services.start_conversation(study=study, evaluator=request.user)
    except services.StudyFull as exc:
        messages.info(request, str(exc))
        return redirect("conversations:converse_home")
    return redirect("conversations:conversation", conversation_id=conversation.public_id)


def _mine(request, conversation_id) -> Conversation:
    conversation = get_object_or_404(Conversation.objects.select_related("study"), public_id=conversation_id)
    services._own(conversation, request.user)
    return conversation


def _conversation_context(conversation: Conversation, *, form: MessageForm | None = None) -> dict:
    turns = list(conversation.turns.select_related("rating"))
    last = turns[-1] if turns else None
    waiting = last is not None and last.role == "assistant" and (last.state == ConversationTurn.State.STREAMING or (
        last.state == ConversationTurn.State.DONE and not hasattr(last, "rating")))
    answers = sum(1 for t in turns if t.role == "assistant")
    can_send = (not conversation.finished_at and not waiting and answers < conversation.study.turns_per_conversation
                and conversation.study.state == ConversationStudy.State.OPEN)
    return {"conversation": conversation, "study": conversation.study, "turns": turns, "can_send": can_send,
            "answers": answers, "rating_guide": RATING_GUIDE,
            "form": form or MessageForm(initial={"position": len(turns)})}


@role_required("judge")
def conversation(request, conversation_id):
    return render(request, "evaluation/conversation.html", _conversation_context(_mine(request, conversation_id)))


@require_POST
@role_required("judge")
def conversation_send(request, conversation_id):
    conversation = _mine(request, conversation_id)
    form = MessageForm(request.POST)
    status = 200
    if form.is_valid():
        try:
            services.send_message(conversation=conversation, evaluator=request.user, text=form.cleaned_data["text"],
                                  position=form.cleaned_data["position"])
        except ValidationError as exc:
            copy_errors_to_form(form, exc)
            status = 422
        else:
            form = None
    else:
        status = 422
    context = _conversation_context(conversation, form=form)
    if request.htmx:
        return render(request, "evaluation/partials/conversation_body.html", context, status=status)
    if status == 200:
        return redirect("conversations:conversation", conversation_id=conversation.public_id)
    return render(request, "evaluation/conversation.html", context, status=status)


@role_required("judge")
def conversation_turn(request, conversation_id, position: int):
    """The polled partial of one assistant turn: the text so far while it streams, then the rating form."""
    conversation = _mine(request, conversation_id)
    turn = get_object_or_404(conversation.turns.select_related("rating"), position=position, role="assistant")
    if not request.htmx:
        return redirect("conversations:conversation", conversation_id=conversation.public_id)
    return render(request, "evaluation/partials/conversation_turn.html",
                  {"conversation": conversation, "turn": turn, "rating_guide": RATING_GUIDE})


@require_POST
@role_required("judge")
def conversation_rate(request, conversation_id, position: int):
    conversation = _mine(request, conversation_id)
    form = TurnRatingForm(request.POST)
    status = 200
    if form.is_valid():
        try:
            services.rate_turn(conversation=conversation, evaluator=request.user, position=position,
                               grade=form.cleaned_data["grade"], note=form.cleaned_data["note"])
        except ValidationError as exc:
            messages.error(request, "; ".join(exc.messages))
            status = 422
    else:
        messages.error(request, "choose Fail, Pass or Excellent")
        status = 422
    if request.htmx:
        return render(request, "evaluation/partials/conversation_body.html", _conversation_context(conversation), status=status)
    return redirect("conversations:conversation", conversation_id=conversation.public_id)


@require_POST
@role_required("judge")
def conversation_finish(request, conversation_id):
    conversation = _mine(request, conversation_id)
    try:
        services.finish_conversation(conversation=conversation, evaluator=request.user)
    except ValidationError as exc:
        messages.error(request, "; ".join(exc.messages))
        return redirect("conversations:conversation", conversation_id=conversation.public_id)
    messages.info(request, "Conversation finished. Thank you!")
    return redirect("conversations:converse_home")


# Researchers ------------------------------------------------------------------------------------------------------

@role_required("manage_studies")
def study_list(request):
    if request.method == "POST":
        form = ConversationStudyForm(request.POST)
        if form.is_valid():
            try:
                study = services.create_study(user=request.user, **form.cleaned_data)
            except ValidationError as exc:
                copy_errors_to_form(form, exc)
            else:
                return redirect("conversations:study_detail", pk=study.pk)
        status = 422
    else:
        form, status = ConversationStudyForm(), 200
    studies = ConversationStudy.objects.prefetch_related("model_pool").order_by("-created_at")
    return render(request, "evaluation/conversation_studies.html", {"studies": studies, "form": form}, status=status)


@role_required("manage_studies")
def study_detail(request, pk: int):
    study = get_object_or_404(ConversationStudy, pk=pk)
    reports = services.study_report(study)
    chart = charts.conversation_ratings_chart([(r.model.name, r.distribution) for r in reports])
    conversations = (study.conversations.select_related("model", "evaluator").prefetch_related("turns__rating").order_by("pk"))
    rows = [(c, services.is_good(c)) for c in conversations]
    return render(request, "evaluation/conversation_study.html", {
        "study": study, "reports": reports, "chart": mark_safe(chart.decode()),  # drawn here from numbers and model names
        "rows": rows, "grades": services.GRADE_NAMES})


@role_required("manage_studies")
def study_chart(request, pk: int):
    study = get_object_or_404(ConversationStudy, pk=pk)
    reports = services.study_report(study)
    return HttpResponse(charts.conversation_ratings_chart([(r.model.name, r.distribution) for r in reports]),
                        content_type="image/svg+xml")


@role_required("manage_studies")
def study_export(request, pk: int):
    """The good conversations (finished, every answer Pass or Excellent) as GAIR/lima multi-turn training rows."""
    study = get_object_or_404(ConversationStudy, pk=pk)
    lines = [services.gair_lima_line(c) for c in services.good_conversations(study)]
    response = StreamingHttpResponse(iter(lines), content_type="application/jsonl; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="conversations-{study.pk}.jsonl"'
    return response


@require_POST
@role_required("manage_studies")
def study_state(request, pk: int):
    study = get_object_or_404(ConversationStudy, pk=pk)
    ConversationStudy.objects.filter(pk=study.pk).update(
        state=ConversationStudy.State.CLOSED if study.state == ConversationStudy.State.OPEN else ConversationStudy.State.OPEN)
    return redirect(reverse("conversations:study_detail", args=[study.pk]))
