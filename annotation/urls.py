from django.urls import path, re_path

from annotation.views import authoring, curation, dashboard, datasets, judging, review, studies

app_name = "annotation"

urlpatterns = [
    path("examples/", authoring.example_list, name="example_list"),
    path("examples/new/", authoring.example_create, name="example_create"),
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
    path("datasets/", datasets.dataset_list, name="dataset_list"),
    path("datasets/import/", datasets.dataset_import, name="dataset_import"),
    path("datasets/freeze/", datasets.dataset_freeze, name="dataset_freeze"),
    path("datasets/<int:pk>/", datasets.dataset_detail, name="dataset_detail"),
    re_path(r"^datasets/(?P<pk>[0-9]+)/export\.(?P<fmt>jsonl|csv)$", datasets.dataset_export, name="dataset_export"),
    path("datasets/<int:pk>/attribution.csv", curation.dataset_attribution, name="dataset_attribution"),
    path("curation/", curation.candidate_review, name="candidate_review"),
    path("curation/<int:pk>/decide/", curation.candidate_decide, name="candidate_decide"),
    path("curation/<int:pk>/dialogue/", curation.candidate_dialogue, name="candidate_dialogue"),
    path("curation/imports/", curation.import_list, name="import_list"),
    path("curation/imports/start/", curation.import_start, name="import_start"),
    path("curation/imports/<int:pk>/", curation.import_job, name="import_job"),
    path("judge/", judging.judge_home, name="judge_home"),
    path("judge/<uuid:study_id>/", judging.judge, name="judge"),
    path("judge/<uuid:study_id>/submit/", judging.judge_submit, name="judge_submit"),
    path("judge/<uuid:study_id>/undo/", judging.judge_undo, name="judge_undo"),
    path("studies/", studies.study_list, name="study_list"),
    path("studies/<int:pk>/", studies.study_detail, name="study_detail"),
    re_path(r"^studies/(?P<pk>[0-9]+)/(?P<action>open|close)/$", studies.study_state, name="study_state"),
    path("studies/<int:pk>/llm-judge/", studies.study_llm_judge, name="study_llm_judge"),
    path("studies/<int:pk>/scrubbed/", studies.study_scrubbed, name="study_scrubbed"),
    path("studies/<int:pk>/results/", studies.study_results, name="study_results"),
    re_path(r"^studies/(?P<pk>[0-9]+)/charts/(?P<name>outcomes|agreement|ratings)\.(?P<fmt>svg|png)$", studies.study_chart, name="study_chart"),
]
