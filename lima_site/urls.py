from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from lima_site import views

handler403 = views.permission_denied

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Every account, staff or not, changes its own password here (Django's views; login required).
    path("accounts/password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    # The user's API token and the API reference (Swagger UI, served locally: api:docs).
    path("accounts/api/", views.api_access, name="api_access"),
    path("admin/", admin.site.urls),
    path("api/", include(("lima_site.api_urls", "api"))),
    path("", include("annotation.urls")),
    path("", include("annotation.datasets.urls")),
    path("", include("annotation.evaluation.urls")),
    path("", include("annotation.evaluation.urls_conversations")),
    path("", include("generation.urls")),
    path("", include("training.urls")),
    path("", include("lima_site.orchestration.urls_experiments")),
    path("", include("lima_site.orchestration.urls_team")),
    path("", include("lima_site.orchestration.urls_pipeline")),
    path("", include("lima_site.orchestration.urls_checkpoint_studies")),
]
