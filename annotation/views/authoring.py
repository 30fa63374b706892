"""Authoring: an author's example list and the HTMX editor (autosave, turns, preview, conflicts, history)."""

from __future__ import annotations

import difflib
import uuid

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from annotation import paper, selectors
from annotation.feedback import editor_feedback
from annotation.forms import ExampleForm, NewExampleForm
from annotation.models import Example, Role
from annotation.services import examples as services
from annotation.services.examples import EditConflict, ExampleDraft, TurnInput
from lima_site.roles import role_required

PAGE_SIZE = 50


@role_required("author_examples")
def example_list(request):
    page = Paginator(selectors.examples_by_author(request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    new_form = NewExampleForm(splits=selectors.writable_splits(request.user))
    return render(request, "annotation/example_list.html", {"page": page, "new_form": new_form})


@role_required("author_examples")
def example_create(request):
    """GET (a bookmarked or typed link) goes to the list, where split and source are chosen, and creates nothing; POST opens a
    draft, reusing the author's untouched one of the same split and source."""
    form = NewExampleForm(request.POST or None, splits=selectors.writable_splits(request.user))
    if request.method != "POST":
        return redirect("annotation:example_list")
    if not form.is_valid():
        messages.error(request, "Choose a split and a source you may write for.")
        return redirect("annotation:example_list")
    example = services.create_example(
        user=request.user, split=form.cleaned_data["split"], source=form.cleaned_data["source"],
        author_group=selectors.author_group(request.user), reuse_untouched=True,
    )
    return redirect("annotation:example_edit", pk=example.pk)


def _editable(request, pk: int) -> Example:
    example = get_object_or_404(selectors.visible_examples(request.user), pk=pk)
    if not selectors.can_edit_example(request.user, example):
        raise PermissionDenied("this example is not editable by you in its current state")
    return example


def _draft_of(example: Example) -> ExampleDraft:
    return ExampleDraft(
        split=example.split, source=example.source, is_refusal=example.is_refusal, is_sensitive=example.is_sensitive, title=example.title,
        turns=[TurnInput(role=turn.role, text=turn.text) for turn in example.turns.all()],
    )


def _edit_session(request) -> str:
    """A token per editor page load, carried by every request of that tab."""
    token = request.POST.get("edit_session", "")
    return token if token.isalnum() and len(token) <= 40 else uuid.uuid4().hex


def _render_editor(request, example: Example, draft: ExampleDraft, *, errors=None, conflict=None, status=200,
                   full_page=False):
    context = {
        "example": example,
        "draft": draft,
        "version": conflict.expected_version if conflict else example.version,
        "splits": [(k, label) for k, label in paper.SPLITS if k in selectors.writable_splits(request.user) or k == draft.split],
        "sources": paper.SOURCES,
        "roles": Role.choices,
        "feedback": editor_feedback(turns=draft.turns, source=draft.source, is_refusal=draft.is_refusal),
        "errors": errors or {},
        "conflict": conflict,
        "edit_session": _edit_session(request),
    }
    template = "annotation/example_edit.html" if full_page else "annotation/partials/editor.html"
    return render(request, template, context, status=status)


@role_required("edit_examples")
def example_edit(request, pk: int):
    example = get_object_or_404(selectors.visible_examples(request.user), pk=pk)
    if not selectors.can_edit_example(request.user, example):
        return redirect("annotation:example_detail", pk=pk)
    return _render_editor(request, example, _draft_of(example), full_page=True)


def _bound_form(request, example: Example) -> ExampleForm:
    splits = tuple(set(selectors.writable_splits(request.user)) | {example.split})
    return ExampleForm(request.POST, splits=splits)


def _form_errors(form: ExampleForm) -> dict[str, str]:
    return {name: "; ".join(str(e) for e in errs) for name, errs in form.errors.items()}


@require_POST
@role_required("edit_examples")
def example_autosave(request, pk: int):
    """Save the draft as the author types; answers with the save status plus fresh preview and checks."""
    example = _editable(request, pk)
    form = _bound_form(request, example)
    if not form.is_valid():
        return render(request, "annotation/partials/save_status.html", {"errors": _form_errors(form)}, status=422)
    draft = form.draft()
    context = {"draft": draft, "feedback": editor_feedback(turns=draft.turns, source=draft.source, is_refusal=draft.is_refusal)}
    try:
        example = services.save_example(
            example_id=example.pk, user=request.user, expected_version=form.cleaned_data["version"], draft=draft,
            edit_session=_edit_session(request),
        )
    except EditConflict as conflict:
        return render(request, "annotation/partials/save_status.html", {**context, "conflict": conflict, "example": example}, status=409)
    return render(request, "annotation/partials/save_status.html", {**context, "example": example, "saved": True})


def apply_turn_operation(turns: list[TurnInput], operation: str, index: int) -> list[TurnInput]:
    turns = list(turns)
    if operation == "add":
        role = Role.ASSISTANT if turns and turns[-1].role == Role.USER else Role.USER
        turns.append(TurnInput(role=role, text=""))
    elif operation == "remove" and 0 <= index < len(turns):
        del turns[index]
    elif operation == "up" and 0 < index < len(turns):
        turns[index - 1], turns[index] = turns[index], turns[index - 1]
    elif operation == "down" and 0 <= index < len(turns) - 1:
        turns[index + 1], turns[index] = turns[index], turns[index + 1]
    elif operation != "save":
        raise ValidationError(f"cannot {operation} turn {index + 1}")
    return turns


@require_POST
@role_required("edit_examples")
def example_turns(request, pk: int, operation: str):
    """Add, remove or move a turn (or force-save after a conflict); answers with the whole editor."""
    example = _editable(request, pk)
    form = _bound_form(request, example)
    if not form.is_valid():
        return _render_editor(request, example, _draft_of(example), errors=_form_errors(form), status=422)
    draft = form.draft()
    try:
        index = int(request.POST.get("index", -1))
        draft.turns = apply_turn_operation(draft.turns, operation, index)
    except (ValueError, ValidationError) as exc:
        return _render_editor(request, example, draft, errors={"turns": str(exc)}, status=422)
    try:
        example = services.save_example(
            example_id=example.pk, user=request.user, expected_version=form.cleaned_data["version"], draft=draft,
            edit_session=_edit_session(request),
        )
    except EditConflict as conflict:
        return _render_editor(request, example, draft, conflict=conflict, status=409)
    return _render_editor(request, example, draft)


@require_POST
@role_required("edit_examples")
def example_submit(request, pk: int):
    example = _editable(request, pk)
    form = _bound_form(request, example)
    if not form.is_valid():
        return _render_editor(request, example, _draft_of(example), errors=_form_errors(form), status=422)
    draft = form.draft()
    try:
        example = services.submit_example(
            example_id=example.pk, user=request.user, expected_version=form.cleaned_data["version"], draft=draft,
            edit_session=_edit_session(request),
        )
    except ValidationError as exc:
        # message_dict holds a list per field: the editor shows each field's messages as one sentence, never a list.
        return _render_editor(request, example, draft, errors={name: " ".join(texts) for name, texts in
                                                                exc.message_dict.items()}, status=422)
    except EditConflict as conflict:
        return _render_editor(request, example, draft, conflict=conflict, status=409)
    messages.success(request, f"“{example.label}” was submitted for review.")
    target = reverse("annotation:example_list") if example.created_by_id == request.user.pk else reverse("annotation:review_queue")
    return HttpResponseClientRedirect(target) if request.htmx else redirect(target)


@role_required("author_examples")
def example_delete(request, pk: int):
    """GET asks for confirmation (or says why not); POST deletes the author's own draft."""
    example = get_object_or_404(Example, pk=pk, created_by=request.user)
    refusal = services.draft_deletion_refusal(example, request.user)
    if request.method == "POST" and refusal is None:
        services.delete_draft(example_id=example.pk, user=request.user)
        messages.success(request, f"Draft “{example.label}” deleted.")
        target = reverse("annotation:example_list")
        return HttpResponseClientRedirect(target) if request.htmx else redirect(target)
    return render(request, "confirm_delete.html", {
        "kind": "draft", "label": example.label, "refusal": refusal,
        "consequence": f"The draft and its {example.turns.count()} turn(s) and history are removed.",
        "cancel_url": reverse("annotation:example_edit", args=[example.pk]),
    }, status=409 if refusal and request.method == "POST" else 200)


@role_required("edit_examples")
def example_detail(request, pk: int):
    example = get_object_or_404(
        selectors.visible_examples(request.user).select_related("created_by", "reviewed_by", "text_edited_by"), pk=pk)
    draft = _draft_of(example)
    feedback = editor_feedback(turns=draft.turns, source=draft.source, is_refusal=draft.is_refusal)
    writers = selectors.turn_writers(example)
    return render(request, "annotation/example_detail.html", {
        "example": example,
        "feedback": feedback,
        "turns": [(turn, writers[index] if index < len(writers) else None) for index, turn in enumerate(feedback.turns)],
        "can_edit": selectors.can_edit_example(request.user, example),
        "can_review": selectors.can_review_example(request.user, example),
        "can_approve": selectors.can_approve_example(request.user, example),
        "next_example": selectors.next_in_review_queue(request.user, after=example),
    })


def _snapshot_text(snapshot: dict) -> list[str]:
    lines = [f"split: {snapshot['split']}", f"source: {snapshot['source']}", f"status: {snapshot['status']}",
             f"refusal: {snapshot['is_refusal']}", f"sensitive: {snapshot.get('is_sensitive', False)}", f"title: {snapshot['title']}"]
    for number, turn in enumerate(snapshot["turns"], start=1):
        lines.append(f"--- turn {number} ({turn['role']})")
        lines.extend(turn["text"].splitlines() or [""])
    return lines


@role_required("edit_examples")
def example_history(request, pk: int):
    example = get_object_or_404(selectors.visible_examples(request.user), pk=pk)
    revisions = list(example.revisions.select_related("user").order_by("version", "id"))
    entries = []
    previous: list[str] = []
    for revision in revisions:
        current = _snapshot_text(revision.snapshot)
        diff = list(difflib.unified_diff(previous, current, lineterm="", n=1))[2:]
        entries.append({"revision": revision, "diff": diff})
        previous = current
    entries.reverse()
    return render(request, "annotation/example_history.html", {"example": example, "entries": entries})

