from django.apps import AppConfig


class DatasetsConfig(AppConfig):
    name = "annotation.datasets"
    label = "datasets"
    verbose_name = "Dataset snapshots"
