from django.urls import path, re_path

from generation import views

app_name = "generation"

urlpatterns = [
    path("models/", views.model_list, name="model_list"),
    path("models/<int:pk>/delete/", views.model_delete, name="model_delete"),
    path("runs/", views.run_list, name="run_list"),
    path("runs/new/", views.run_create, name="run_create"),
    path("runs/import/", views.run_import, name="run_import"),
    path("runs/compare/", views.run_compare, name="run_compare"),
    path("runs/<int:pk>/", views.run_detail, name="run_detail"),
    re_path(r"^runs/(?P<pk>[0-9]+)/(?P<action>cancel|retry|resume)/$", views.run_action, name="run_action"),
]
