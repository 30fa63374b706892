"""URLs of the pipeline overview and the lineage pages (namespace `orchestration`)."""

from django.urls import path, re_path

from lima_site.orchestration import views_pipeline

app_name = "orchestration"

urlpatterns = [
    path("pipeline/live/", views_pipeline.pipeline_live, name="pipeline_live"),
    re_path(r"^lineage/(?P<kind>judgment|rating)/(?P<pk>[0-9]+)/$", views_pipeline.verdict_lineage, name="verdict_lineage"),
]
