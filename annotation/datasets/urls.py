"""Dataset snapshots: import, freeze, export, attribution."""

from django.urls import path, re_path

from annotation.datasets import views

app_name = "datasets"

urlpatterns = [
    path("datasets/", views.dataset_list, name="dataset_list"),
    path("datasets/import/", views.dataset_import, name="dataset_import"),
    path("datasets/freeze/", views.dataset_freeze, name="dataset_freeze"),
    path("datasets/<int:pk>/", views.dataset_detail, name="dataset_detail"),
    re_path(r"^datasets/(?P<pk>[0-9]+)/export\.(?P<fmt>jsonl|csv|json|parquet|messages\.jsonl|sharegpt\.json|alpaca\.json)$", views.dataset_export, name="dataset_export"),
    path("datasets/<int:pk>/attribution.csv", views.dataset_attribution, name="dataset_attribution"),
]
