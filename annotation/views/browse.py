"""Every example for researchers: full-text search, filters, pages, and bulk approve / reject with a comment."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from annotation import paper, selectors
from annotation.models import Status
from annotation.services import examples as services
from annotation.services.examples import BulkReviewRefused
from lima_site.roles import AUTHOR, role_required

PAGE_SIZE = 50


def _page(request, filters: selectors.ExampleFilters, *, refusals=None, comment: str = "", status: int = 200):
    page = Paginator(selectors.search_examples(request.user, filters), PAGE_SIZE).get_page(request.GET.get("page"))
    authors = get_user_model().objects.filter(groups__name=AUTHOR).order_by("username").values_list("username", flat=True)
    return render(request, "annotation/example_browse.html", {
        "page": page, "filters": filters, "splits": paper.SPLITS, "sources": paper.SOURCES, "statuses": Status.choices,
        "authors": list(authors), "refusals": refusals or [], "comment": comment,
    }, status=status)


@role_required("browse_examples")
def example_browse(request):
    return _page(request, selectors.ExampleFilters.from_query(request.GET))


@require_POST
@role_required("browse_examples")
def example_bulk_review(request):
    """Decide the ticked examples (each posted as `pick=<id>:<version>`) all at once, or none of them."""
    filters = selectors.ExampleFilters.from_query(request.POST)
    decision = request.POST.get("decision", "")
    comment = request.POST.get("comment", "")[:5000]
    versions: dict[int, int] = {}
    for value in request.POST.getlist("pick"):
        example_id, _, version = value.partition(":")
        if not (example_id.isdigit() and version.isdigit()):
            messages.error(request, f"Unreadable choice {value[:40]!r}: reload the page.")
            return _page(request, filters, comment=comment, status=422)
        versions[int(example_id)] = int(version)
    if decision not in ("approve", "reject"):
        messages.error(request, "Choose approve or reject.")
        return _page(request, filters, comment=comment, status=422)
    try:
        decided = services.bulk_review(reviewer=request.user, versions=versions, approve=decision == "approve", comment=comment)
    except BulkReviewRefused as refused:
        messages.error(request, f"Nothing was decided: {len(refused.refusals)} of the {len(versions)} chosen examples cannot be "
                                f"{'approved' if decision == 'approve' else 'rejected'} (listed below). Untick them and send again.")
        return _page(request, filters, refusals=refused.refusals, comment=comment, status=422)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return _page(request, filters, comment=comment, status=422)
    messages.success(request, f"{len(decided)} example{'s' if len(decided) != 1 else ''} "
                              f"{'approved' if decision == 'approve' else 'sent back to their authors'}.")
    query = QueryDict(mutable=True)
    query.update(filters.as_query())
    query = query.urlencode()
    return redirect(reverse("annotation:example_browse") + (f"?{query}" if query else ""))
