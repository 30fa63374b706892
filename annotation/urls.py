"""Authoring, review, quotas and curation."""

from django.urls import path

from annotation.views import authoring, browse, curation, dashboard, review

app_name = "annotation"

urlpatterns = [
    path("examples/", authoring.example_list, name="example_list"),
    path("examples/new/", authoring.example_create, name="example_create"),
    path("examples/all/", browse.example_browse, name="example_browse"),
    path("examples/all/review/", browse.example_bulk_review, name="example_bulk_review"),
    path("examples/<int:pk>/", authoring.example_detail, name="example_detail"),
    path("examples/<int:pk>/edit/", authoring.example_edit, name="example_edit"),
    path("examples/<int:pk>/autosave/", authoring.example_autosave, name="example_autosave"),
    path("examples/<int:pk>/turns/<str:operation>/", authoring.example_turns, name="example_turns"),
    path("examples/<int:pk>/submit/", authoring.example_submit, name="example_submit"),
    path("examples/<int:pk>/delete/", authoring.example_delete, name="example_delete"),
    path("examples/<int:pk>/history/", authoring.example_history, name="example_history"),
    path("review/", review.review_queue, name="review_queue"),
    path("review/<int:pk>/", review.review_decide, name="review_decide"),
    path("quotas/", dashboard.dashboard, name="dashboard"),
    path("quotas/<int:pk>/", dashboard.quota_update, name="quota_update"),
    path("curation/", curation.candidate_review, name="candidate_review"),
    path("curation/<int:pk>/decide/", curation.candidate_decide, name="candidate_decide"),
    path("curation/<int:pk>/undo/", curation.candidate_undo, name="candidate_undo"),
    path("curation/<int:pk>/dialogue/", curation.candidate_dialogue, name="candidate_dialogue"),
    path("curation/imports/", curation.import_list, name="import_list"),
    path("curation/imports/start/", curation.import_start, name="import_start"),
    path("curation/imports/upload/", curation.import_upload, name="import_upload"),
    path("curation/imports/<int:pk>/", curation.import_job, name="import_job"),
]
