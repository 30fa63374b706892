from csp.decorators import csp_update
from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter, SimpleRouter

from annotation.evaluation.api import (
    ExternalJudgmentSetViewSet,
    JudgingView,
    StudyExportView,
    StudyStatisticsView,
    StudyViewSet,
)
from annotation.datasets.api import DatasetImportView
from generation.api import GenerationRunViewSet, ModelSpecViewSet
from training.api import TrainingRunViewSet

router = DefaultRouter()
router.register("models", ModelSpecViewSet, basename="model")
router.register("generation-runs", GenerationRunViewSet, basename="generation-run")
router.register("studies", StudyViewSet, basename="study")
router.register("training-runs", TrainingRunViewSet, basename="training-run")
results_router = SimpleRouter()
results_router.register("external-judgments", ExternalJudgmentSetViewSet, basename="external-judgment-set")

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # Swagger UI from drf-spectacular-sidecar's local copy (no CDN); the split view serves its init script as a
    # separate file, so the strict Content-Security-Policy (no inline script) holds on this page too.
    # Swagger UI's stylesheet draws its icons as data: SVG images: allowed on this page only.
    path("docs/", csp_update({"img-src": ["data:"]})(
        SpectacularSwaggerSplitView.as_view(url_name="api:schema", template_name="api/docs.html")), name="docs"),
    path("judging/<uuid:study_id>/", JudgingView.as_view(), name="judging"),
    *router.urls,
    # Study statistics and streamed exports, external judgment sets (annotation/evaluation/api.py).
    path("studies/<int:pk>/statistics/", StudyStatisticsView.as_view(), name="study-statistics"),
    re_path(r"^studies/(?P<pk>[0-9]+)/exports/(?P<kind>judgments|items|responses|ratings)\.(?P<fmt>csv|jsonl)$",
            StudyExportView.as_view(), name="study-export"),
    *results_router.urls,
    path("datasets/import/", DatasetImportView.as_view(), name="dataset-import"),
]
