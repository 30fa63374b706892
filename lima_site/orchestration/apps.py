from django.apps import AppConfig


class OrchestrationConfig(AppConfig):
    name = "lima_site.orchestration"
    label = "orchestration"
    verbose_name = "Orchestration across training and evaluation"
