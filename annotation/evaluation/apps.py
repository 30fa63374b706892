from django.apps import AppConfig


class EvaluationConfig(AppConfig):
    name = "annotation.evaluation"
    label = "evaluation"
    verbose_name = "Studies and judgments"
