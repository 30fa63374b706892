"""The jobs page: what every Celery queue is doing and waiting for, and the app's long jobs with the stuck ones first."""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import render

from lima_site.orchestration import jobs
from lima_site.roles import role_required


@role_required("view_jobs")
def jobs_page(request):
    context = {"celery": jobs.celery_view(), "jobs": jobs.app_jobs(), "stuck_minutes": settings.LIMA_JOB_STUCK_MINUTES}
    template = "orchestration/partials/jobs_live.html" if request.htmx else "orchestration/jobs.html"
    return render(request, template, context)
