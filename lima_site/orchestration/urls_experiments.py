"""Ablation experiments (researchers): /experiments/."""

from django.urls import path

from lima_site.orchestration import views_experiments as views

app_name = "experiments"

urlpatterns = [
    path("experiments/", views.experiment_list, name="experiment_list"),
    path("experiments/new/", views.experiment_create, name="experiment_create"),
    path("experiments/<int:pk>/", views.experiment_detail, name="experiment_detail"),
    path("experiments/<int:pk>/chart.svg", views.experiment_chart, name="experiment_chart"),
    path("experiments/<int:pk>/cancel/", views.experiment_cancel, name="experiment_cancel"),
    path("experiments/<int:pk>/variants/<int:position>/", views.variant_detail, name="variant_detail"),
]
