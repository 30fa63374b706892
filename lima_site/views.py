"""Site-wide pages: the home page sends each role to its work."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from lima_site.roles import NAVIGATION, can


@login_required
def home(request):
    entries = [entry for entry in NAVIGATION if can(request.user, entry.capability)]
    return render(request, "home.html", {"entries": entries})
