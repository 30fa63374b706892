"""Curation: the keyboard-first candidate queue (accept / edit / reject), import jobs, attribution export."""

from __future__ import annotations

import difflib
import json

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST

from annotation import paper, selectors
from annotation.models import Example, ImportJob
from annotation.services import curation as services
from annotation.services.examples import EditConflict
from lima_site.forms import copy_errors_to_form
from lima_site.roles import role_required
from lima_site.uploads import DumpUploadHandler


def _filters(data) -> dict[str, str]:
    return {"source": data.get("source", ""), "community": data.get("community", "")}


def _diff(raw: str, cleaned: str) -> list[tuple[str, str]]:
    """(kind, line) of a line diff from the dump's raw text to the cleaned text the example holds."""
    lines = []
    for line in list(difflib.unified_diff(raw.splitlines(), cleaned.splitlines(), lineterm="", n=1))[2:]:
        kind = {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "same")
        lines.append((kind, line[1:] if kind != "hunk" else "…"))
    return lines


def _panel_context(*, example: Example | None, filters: dict[str, str]) -> dict:
    context: dict = {"example": example, "filters": filters, "remaining": selectors.candidate_queue(**filters).count(),
                     "dashboard": selectors.quota_dashboard()}
    if example is None:
        return context
    turns = list(example.turns.all())
    provenance = example.provenance or {}
    prompt, response = (turns[0].text if turns else ""), (turns[1].text if len(turns) > 1 else "")
    context.update({
        "turns": turns,
        "provenance": provenance,
        "prompt_diff": _diff(provenance.get("raw_prompt", ""), prompt) if provenance.get("raw_prompt", prompt) != prompt else [],
        "response_diff": _diff(provenance.get("raw_response", ""), response) if "raw_response" in provenance else [],
        "can_start_dialogue": bool(provenance.get("comments")) and not example.is_multi_turn,
    })
    return context


UNDO_KEY = "lima_curation_undo"


def _undo_offer(request) -> dict | None:
    """The curator's last decision, offered for undo while the example is as the decision left it."""
    offer = request.session.get(UNDO_KEY)
    if not offer or not Example.objects.filter(pk=offer["pk"], version=offer["version"]).exists():
        return None
    return offer


def _render_panel(request, *, example: Example | None, filters: dict[str, str], status: int = 200):
    context = {**_panel_context(example=example, filters=filters), "undo": _undo_offer(request)}
    if request.htmx:
        return render(request, "annotation/curation/partials/candidate.html", {**context, "oob": True}, status=status)
    sources, communities = selectors.candidate_facets()
    source_labels = dict(paper.SOURCES)
    context.update({"sources": [(key, source_labels.get(key, key), n) for key, n in sources], "communities": communities})
    return render(request, "annotation/curation/review.html", context, status=status)


@role_required("curate_candidates")
def candidate_review(request):
    filters = _filters(request.GET)
    queue = selectors.candidate_queue(**filters).prefetch_related("turns")
    pk = request.GET.get("pk", "")
    example = (queue.filter(pk=pk).first() if pk.isdigit() else None) or queue.first()
    return _render_panel(request, example=example, filters=filters)


@require_POST
@role_required("curate_candidates")
def candidate_decide(request, pk: int):
    filters = _filters(request.POST)
    example = get_object_or_404(Example, pk=pk)
    decision = request.POST.get("decision", "")
    try:
        version = int(request.POST.get("version", ""))
        if decision == "accept":
            decided = services.accept_candidate(example_id=example.pk, user=request.user, expected_version=version)
            messages.success(request, f"Accepted “{example.label}”.")
        elif decision == "reject":
            decided = services.reject_candidate(example_id=example.pk, user=request.user, expected_version=version,
                                                comment=request.POST.get("comment", ""))
            messages.success(request, f"Rejected “{example.label}”.")
        else:
            raise ValidationError("choose accept or reject")
        request.session[UNDO_KEY] = {"pk": decided.pk, "version": decided.version, "label": decided.label[:120],
                                     "decision": "accepted" if decision == "accept" else "rejected"}
    except ValueError:
        messages.error(request, "The form lacked the example's version; reload the page.")
    except EditConflict:
        messages.error(request, f"“{example.label}” changed since it was shown; here is the current version.")
        current = selectors.candidate_queue(**filters).prefetch_related("turns").filter(pk=pk).first()
        return _render_panel(request, example=current, filters=filters, status=409)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    if not request.htmx:
        return redirect(f"{reverse('annotation:candidate_review')}?source={filters['source']}&community={filters['community']}")
    following = selectors.candidate_queue(**filters).prefetch_related("turns").first()
    return _render_panel(request, example=following, filters=filters)


@require_POST
@role_required("curate_candidates")
def candidate_undo(request, pk: int):
    """Undo the last accept or reject: the candidate comes back and is shown again."""
    filters = _filters(request.POST)
    example = get_object_or_404(Example, pk=pk)
    try:
        services.undo_decision(example_id=example.pk, user=request.user, expected_version=int(request.POST.get("version", "")))
    except ValueError:
        messages.error(request, "The form lacked the example's version; reload the page.")
    except EditConflict:
        messages.error(request, f"“{example.label}” changed since the decision, so it cannot simply be undone; open it from its page.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        request.session.pop(UNDO_KEY, None)
        messages.success(request, f"Undone: “{example.label}” is a candidate again.")
        if not request.htmx:
            return redirect(f"{reverse('annotation:candidate_review')}?pk={example.pk}&source={filters['source']}&community={filters['community']}")
        current = selectors.candidate_queue(**filters).prefetch_related("turns").filter(pk=pk).first()
        return _render_panel(request, example=current, filters=filters)
    if not request.htmx:
        return redirect(f"{reverse('annotation:candidate_review')}?source={filters['source']}&community={filters['community']}")
    following = selectors.candidate_queue(**filters).prefetch_related("turns").first()
    return _render_panel(request, example=following, filters=filters, status=409)


@require_POST
@role_required("curate_candidates")
def candidate_dialogue(request, pk: int):
    example = get_object_or_404(Example, pk=pk)
    try:
        dialogue = services.start_dialogue(example_id=example.pk, user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(f"{reverse('annotation:candidate_review')}?pk={example.pk}")
    messages.success(request, "A multi-turn candidate was built from the comment chain; edit it into the assistant style.")
    return redirect("annotation:example_edit", pk=dialogue.pk)


# --- import jobs --------------------------------------------------------------------------------


class ImportJobForm(forms.Form):
    kind = forms.ChoiceField(choices=ImportJob.Kind.choices)
    path = forms.CharField(max_length=1000, help_text="File or folder below the dumps folder.")
    seed = forms.IntegerField(required=False, min_value=0)
    parameters = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}),
                                 help_text='Other parameters as JSON, e.g. {"temperature": 3, "stem_target": 200}.')

    def clean_parameters(self) -> dict:
        text = self.cleaned_data["parameters"].strip()
        try:
            value = json.loads(text) if text else {}
        except json.JSONDecodeError as exc:
            raise ValidationError(f"not JSON: {exc.msg}") from exc
        if not isinstance(value, dict):
            raise ValidationError("give a JSON object")
        return value


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class DumpUploadForm(forms.Form):
    kind = forms.ChoiceField(choices=ImportJob.Kind.choices, label="Importer")
    files = forms.FileField(required=False, widget=MultipleFileInput(), label="Files",
                            help_text="Stack Exchange: the site's Posts.xml, and Comments.xml and Users.xml if you have them.")
    site = forms.CharField(max_length=200, required=False,
                           help_text="Stack Exchange only: the site the files come from, e.g. physics.stackexchange.com.")
    parameters = ImportJobForm.base_fields["parameters"]
    clean_parameters = ImportJobForm.clean_parameters


def _imports_page(request, form: ImportJobForm, status: int = 200, upload_form: DumpUploadForm | None = None):
    jobs = ImportJob.objects.select_related("created_by")[:20]
    return render(request, "annotation/curation/imports.html",
                  {"form": form, "upload_form": upload_form or DumpUploadForm(), "jobs": jobs, "dumps_dir": services.dumps_dir(),
                   "upload_limit": settings.LIMA_MAX_DUMP_UPLOAD_BYTES, "upload_names": services.UPLOAD_NAMES}, status=status)


@role_required("curate_candidates")
def import_list(request):
    return _imports_page(request, ImportJobForm())


@role_required("curate_candidates")
@csrf_exempt
def import_upload(request):
    """A dump uploaded from the browser: streamed to disk by DumpUploadHandler (its own, larger cap), stored under
    the dumps folder, and imported by a job. The handler must be set before the body is read, hence CSRF is
    checked inside (Django's documented pattern for per-view upload handlers)."""
    request.upload_handlers = [DumpUploadHandler(request)]
    return _import_upload(request)


@csrf_protect
@require_POST
def _import_upload(request):
    form = DumpUploadForm(request.POST)
    if not form.is_valid():
        return _imports_page(request, ImportJobForm(), status=422, upload_form=form)
    try:
        job = services.upload_import_job(kind=form.cleaned_data["kind"], files=request.FILES.getlist("files"),
                                         site=form.cleaned_data["site"], parameters=form.cleaned_data["parameters"],
                                         user=request.user, limit=settings.LIMA_MAX_DUMP_UPLOAD_BYTES)
    except ValidationError as exc:
        copy_errors_to_form(form, exc)
        return _imports_page(request, ImportJobForm(), status=422, upload_form=form)
    from annotation.tasks import run_import_job

    transaction.on_commit(lambda: run_import_job.delay(job.pk))
    return redirect("annotation:import_job", pk=job.pk)


@require_POST
@role_required("curate_candidates")
def import_start(request):
    form = ImportJobForm(request.POST)
    if not form.is_valid():
        return _imports_page(request, form, status=422)
    parameters = dict(form.cleaned_data["parameters"])
    if form.cleaned_data["seed"] is not None:
        parameters["seed"] = form.cleaned_data["seed"]
    try:
        job = services.create_import_job(kind=form.cleaned_data["kind"], path=form.cleaned_data["path"],
                                         parameters=parameters, user=request.user)
    except ValidationError as exc:
        copy_errors_to_form(form, exc)
        return _imports_page(request, form, status=422)
    from annotation.tasks import run_import_job

    transaction.on_commit(lambda: run_import_job.delay(job.pk))
    return redirect("annotation:import_job", pk=job.pk)


@role_required("curate_candidates")
def import_job(request, pk: int):
    job = get_object_or_404(ImportJob.objects.select_related("created_by"), pk=pk)
    template = "annotation/curation/partials/import_progress.html" if request.htmx else "annotation/curation/import_job.html"
    return render(request, template, {"job": job})


