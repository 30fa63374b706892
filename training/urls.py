from django.urls import path, re_path

from training import views

app_name = "training"

urlpatterns = [
    path("training/", views.run_list, name="run_list"),
    path("training/new/", views.run_create, name="run_create"),
    path("training/<int:pk>/", views.run_detail, name="run_detail"),
    re_path(r"^training/(?P<pk>[0-9]+)/(?P<action>submit|cancel|refresh|resubmit)/$", views.run_action, name="run_action"),
    path("training/<int:pk>/dev-responses/", views.dev_responses, name="dev_responses"),
    path("training/<int:pk>/pick/", views.pick, name="pick"),
]
