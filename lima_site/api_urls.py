from django.urls import path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import DefaultRouter

from annotation.api import JudgingView, StudyViewSet
from generation.api import GenerationRunViewSet, ModelSpecViewSet
from training.api import TrainingRunViewSet

router = DefaultRouter()
router.register("models", ModelSpecViewSet, basename="model")
router.register("generation-runs", GenerationRunViewSet, basename="generation-run")
router.register("studies", StudyViewSet, basename="study")
router.register("training-runs", TrainingRunViewSet, basename="training-run")

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("judging/<uuid:study_id>/", JudgingView.as_view(), name="judging"),
    *router.urls,
]

# Study statistics and streamed exports, external judgment sets (annotation/api.py).
from django.urls import re_path  # noqa: E402
from rest_framework.routers import SimpleRouter  # noqa: E402

from annotation.api import ExternalJudgmentSetViewSet, StudyExportView, StudyStatisticsView  # noqa: E402

results_router = SimpleRouter()
results_router.register("external-judgments", ExternalJudgmentSetViewSet, basename="external-judgment-set")
urlpatterns += [
    path("studies/<int:pk>/statistics/", StudyStatisticsView.as_view(), name="study-statistics"),
    re_path(r"^studies/(?P<pk>[0-9]+)/exports/(?P<kind>judgments|items|responses|ratings)\.(?P<fmt>csv|jsonl)$",
            StudyExportView.as_view(), name="study-export"),
    *results_router.urls,
]
