"""The quota dashboard: progress against the paper's Table 1, refreshed live by HTMX polling."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from annotation import selectors
from annotation.forms import QuotaForm
from annotation.models import Quota
from annotation.services.contamination import contamination_report
from lima_site.roles import can, role_required


@role_required("view_quotas")
def dashboard(request):
    context = {"dashboard": selectors.quota_dashboard(), "can_edit": can(request.user, "edit_quotas")}
    if request.htmx:
        return render(request, "annotation/partials/quota_table.html", context)
    # The full page only: the 5-second poll refreshes the counts, not this report (cached per state of the examples).
    # Researchers only: it quotes test prompts, which group A authors must never see.
    if can(request.user, "manage_datasets"):
        context["contamination"] = contamination_report()
    return render(request, "annotation/dashboard.html", context)


@require_POST
@role_required("edit_quotas")
def quota_update(request, pk: int):
    quota = get_object_or_404(Quota, pk=pk)
    form = QuotaForm(request.POST, instance=quota)
    if form.is_valid():
        form.save()
        messages.success(request, f"Target for {quota.split}/{quota.source or quota.flag or 'all'} is now {quota.target}.")
    else:
        messages.error(request, "Target must be a whole number ≥ 0.")
    return redirect("annotation:dashboard")
