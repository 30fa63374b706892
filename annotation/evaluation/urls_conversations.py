"""Live multi-turn evaluation: /converse/ for evaluators (random tokens only), /conversation-studies/ for researchers."""

from django.urls import path

from annotation.evaluation.views import conversations as views

app_name = "conversations"

urlpatterns = [
    path("converse/", views.converse_home, name="converse_home"),
    path("converse/<uuid:study_id>/start/", views.converse_start, name="converse_start"),
    path("converse/c/<uuid:conversation_id>/", views.conversation, name="conversation"),
    path("converse/c/<uuid:conversation_id>/send/", views.conversation_send, name="conversation_send"),
    path("converse/c/<uuid:conversation_id>/turns/<int:position>/", views.conversation_turn, name="conversation_turn"),
    path("converse/c/<uuid:conversation_id>/turns/<int:position>/rate/", views.conversation_rate, name="conversation_rate"),
    path("converse/c/<uuid:conversation_id>/finish/", views.conversation_finish, name="conversation_finish"),
    path("conversation-studies/", views.study_list, name="study_list"),
    path("conversation-studies/<int:pk>/", views.study_detail, name="study_detail"),
    path("conversation-studies/<int:pk>/chart.svg", views.study_chart, name="study_chart"),
    path("conversation-studies/<int:pk>/export.jsonl", views.study_export, name="study_export"),
    path("conversation-studies/<int:pk>/state/", views.study_state, name="study_state"),
]
