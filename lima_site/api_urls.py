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
