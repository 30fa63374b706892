"""Blind judging (annotators), studies and results (researchers), external judgment sets."""

from django.urls import path, re_path

from annotation.evaluation.views import deletion, judging, results, studies

app_name = "evaluation"

urlpatterns = [
    path("judge/", judging.judge_home, name="judge_home"),
    path("judge/<uuid:study_id>/", judging.judge, name="judge"),
    path("judge/<uuid:study_id>/submit/", judging.judge_submit, name="judge_submit"),
    path("judge/<uuid:study_id>/undo/", judging.judge_undo, name="judge_undo"),
    path("studies/", studies.study_list, name="study_list"),
    path("studies/<int:pk>/", studies.study_detail, name="study_detail"),
    path("studies/<int:pk>/delete/", deletion.study_delete, name="study_delete"),
    re_path(r"^studies/(?P<pk>[0-9]+)/(?P<action>open|close)/$", studies.study_state, name="study_state"),
    path("studies/<int:pk>/llm-judge/", studies.study_llm_judge, name="study_llm_judge"),
    path("studies/<int:pk>/annotators/<int:user_pk>/exclusion/", studies.study_exclusion, name="study_exclusion"),
    re_path(r"^studies/(?P<pk>[0-9]+)/held/(?P<item_pk>[0-9]+)/(?P<action>release|drop)/$", studies.study_held_item,
            name="study_held_item"),
    path("studies/<int:pk>/scrubbed/", studies.study_scrubbed, name="study_scrubbed"),
    path("studies/<int:pk>/results/", studies.study_results, name="study_results"),
    re_path(r"^studies/(?P<pk>[0-9]+)/charts/(?P<name>outcomes|agreement|ratings)\.(?P<fmt>svg|png)$", studies.study_chart, name="study_chart"),
    re_path(r"^studies/(?P<pk>[0-9]+)/export/(?P<kind>judgments|items|responses|ratings)\.(?P<fmt>csv|jsonl)$", results.study_export,
            name="study_export"),
    re_path(r"^studies/(?P<pk>[0-9]+)/report\.(?P<fmt>json|md)$", results.study_report, name="study_report"),
    path("external-judgments/", results.external_list, name="external_list"),
    path("external-judgments/<int:pk>/", results.external_results, name="external_results"),
    re_path(r"^external-judgments/(?P<pk>[0-9]+)/charts/(?P<name>outcomes|agreement)\.(?P<fmt>svg|png)$", results.external_chart,
            name="external_chart"),
    re_path(r"^external-judgments/(?P<pk>[0-9]+)/report\.(?P<fmt>json|md)$", results.external_report, name="external_report"),
]
