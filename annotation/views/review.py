"""Review: the queue of submitted examples and approve / reject with a comment."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from annotation import paper, selectors
from annotation.forms import ReviewForm
from annotation.services import examples as services
from annotation.services.examples import ApprovalNeedsAnotherReviewer, EditConflict
from lima_site.roles import role_required


@role_required("review_examples")
def review_queue(request):
    split = request.GET.get("split", "")
    source = request.GET.get("source", "")
    queue = selectors.review_queue(request.user, split=split, source=source)
    page = Paginator(queue, 50).get_page(request.GET.get("page"))
    return render(request, "annotation/review_queue.html", {
        "page": page, "split": split, "source": source, "splits": paper.SPLITS, "sources": paper.SOURCES,
    })


@require_POST
@role_required("review_examples")
def review_decide(request, pk: int):
    example = get_object_or_404(selectors.visible_examples(request.user), pk=pk)
    form = ReviewForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The review form was incomplete: " + form.errors.as_text())
        return redirect("annotation:example_detail", pk=pk)
    approve = form.cleaned_data["decision"] == "approve"
    try:
        services.review_example(
            example_id=example.pk, reviewer=request.user, expected_version=form.cleaned_data["version"],
            approve=approve, comment=form.cleaned_data["comment"],
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("annotation:example_detail", pk=pk)
    except EditConflict:
        messages.error(request, "The example changed while you were reviewing it; review the current version.")
        return redirect("annotation:example_detail", pk=pk)
    except ApprovalNeedsAnotherReviewer as exc:
        messages.error(request, str(exc).capitalize() + ".")
        return redirect("annotation:example_detail", pk=pk)
    messages.success(request, f"“{example.label}” {'approved' if approve else 'sent back to its author'}.")
    if request.POST.get("then") == "next":
        following = selectors.next_in_review_queue(request.user, after=example)
        if following is not None:
            return redirect("annotation:example_detail", pk=following.pk)
        messages.info(request, "The review queue is empty.")
    return redirect("annotation:review_queue")
