"""The team's pages: people (authors, annotators, pools, invitations) and the jobs and queues page."""

from django.urls import path

from lima_site.orchestration import views_jobs, views_people

app_name = "team"

urlpatterns = [
    path("people/", views_people.people_list, name="people"),
    path("people/pools/to-study/", views_people.pool_to_study, name="pool_to_study"),
    path("people/<int:pk>/", views_people.person_detail, name="person_detail"),
    path("people/<int:pk>/active/", views_people.person_active, name="person_active"),
    path("people/<int:pk>/invite/", views_people.person_invite, name="person_invite"),
    path("people/<int:pk>/studies/<int:study_pk>/remove/", views_people.person_study_remove, name="person_study_remove"),
    path("accounts/invite/<uidb64>/<token>/", views_people.InviteAcceptView.as_view(), name="invite_accept"),
    path("jobs/", views_jobs.jobs_page, name="jobs"),
]
