from django.urls import path

from lima_site.orchestration import views_checkpoint_studies as views

app_name = "checkpoint_studies"

urlpatterns = [
    path("training/<int:pk>/checkpoints/<int:checkpoint_pk>/study/", views.checkpoint_study, name="open"),
]
