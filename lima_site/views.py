"""Site-wide pages: the home page sends each role to its work; the 403 page says what is missing."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from lima_site import accounts
from lima_site.orchestration.pipeline import pipeline_overview
from lima_site.orchestration.views_pipeline import PIPELINE_CAPABILITY
from lima_site.roles import NAVIGATION, can, roles_granting


@login_required
def home(request):
    """Each role's work; for researchers, the whole pipeline with live counts first (it names models: never annotators)."""
    entries = [entry for entry in NAVIGATION if can(request.user, entry.capability)]
    stages = pipeline_overview() if can(request.user, PIPELINE_CAPABILITY) else None
    return render(request, "home.html", {"entries": entries, "stages": stages})


def permission_denied(request, exception=None):
    """urls.handler403: the site's page (navigation included) naming the capability and the roles that grant it,
    or the service's own reason ("this item is not assigned to you") when the refusal is about one object."""
    capability = getattr(exception, "capability", None)
    context = {
        "capability": capability,
        "granting_roles": roles_granting(capability) if capability else [],
        "reason": "" if capability else str(exception or ""),
    }
    return render(request, "403.html", context, status=403)


@login_required
def api_access(request):
    """The user's API token (create, rotate, revoke) beside the API reference and a client example."""
    if request.method == "POST":
        action = request.POST.get("action")
        if action in ("create", "rotate"):
            accounts.issue_token(request.user, rotate=action == "rotate")
            messages.success(request, "A new token was made; the old one no longer works." if action == "rotate" else "Token created.")
        elif action == "revoke":
            accounts.revoke_token(request.user)
            messages.success(request, "Token revoked: scripts using it are refused from now on.")
        else:
            messages.error(request, "Unknown action.")
        return redirect("api_access")
    return render(request, "api_access.html", {"token": accounts.current_token(request.user)})
