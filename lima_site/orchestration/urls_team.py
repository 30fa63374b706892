"""The team's pages: people (authors, annotators, pools) and the jobs and queues page."""

from django.urls import path

from lima_site.orchestration import views_jobs

app_name = "team"

urlpatterns = [
    path("jobs/", views_jobs.jobs_page, name="jobs"),
]
