"""Roles: one permission mechanism; every URL answers each role as the capability table says."""

import pytest
from django.urls import reverse

from lima_site.roles import CAPABILITIES, NAVIGATION, can
from tests.url_matrix import app_urls, sample_url, status_of

pytestmark = pytest.mark.django_db


def test_navigation_shows_each_role_only_what_it_may_use(client, author, annotator, researcher):
    expectations = {
        author: {"My examples", "Review", "Quotas"},
        annotator: {"Judging", "Conversations"},
        researcher: {"Review", "Quotas", "Datasets", "Models", "Generation", "Curation", "Training", "Studies",
                     "Experiments", "Multi-turn", "Examples", "People", "Jobs"},
    }
    for user, labels in expectations.items():
        client.force_login(user)
        page = client.get(reverse("home")).content.decode()
        shown = {entry.label for entry in NAVIGATION if f">{entry.label}</a>" in page}
        assert shown == labels, user.username


def _app_views():
    """Every HTML view of the annotation app (the HTML views declare their capability with role_required)."""
    return [(name, pattern) for name, pattern in app_urls() if name.startswith("annotation:")]


def test_every_app_view_declares_a_capability():
    views = _app_views()
    assert len(views) >= 15
    missing = [name for name, pattern in views if getattr(pattern.callback, "lima_capability", None) not in CAPABILITIES]
    assert not missing, f"views without a role rule: {missing}"


def test_each_role_gets_403_or_access_exactly_as_the_capability_table_says(client, author, annotator, researcher, make_user):
    staff = make_user(staff=True)
    users = {"author": author, "annotator": annotator, "researcher": researcher, "staff": staff}
    checked = 0
    for name, pattern in _app_views():
        capability = pattern.callback.lima_capability
        url = sample_url(name, pattern)
        assert url, f"no sample URL for {name}"
        client.logout()
        assert status_of(client, url) == 302, f"anonymous reached {url}"
        for role, user in users.items():
            client.force_login(user)
            status = status_of(client, url)
            if can(user, capability):
                assert status != 403, f"{role} refused {url}"
            else:
                assert status == 403, f"{role} reached {url} ({status})"
            checked += 1
    assert checked >= 60


def test_a_refused_page_keeps_the_navigation_and_names_the_missing_capability(client, annotator):
    client.force_login(annotator)
    response = client.get(reverse("datasets:dataset_list"))
    assert response.status_code == 403
    page = response.content.decode()
    assert '<nav aria-label="Main">' in page and ">Judging</a>" in page  # the site's layout, with what this user may use
    assert "It needs the <strong>manage_datasets</strong> capability, which the researcher role grants" in page
    assert "Your roles: annotator." in page


def test_a_refusal_about_one_object_shows_its_reason(client, researcher, make_user):
    from tests.builders import pairwise_study

    member, outsider = make_user("annotator", username="member"), make_user("annotator", username="outsider")
    study = pairwise_study(researcher=researcher, annotators=[member], prompts=1, baselines=("davinci-003",), agreement_subset=0)
    client.force_login(outsider)
    response = client.get(reverse("evaluation:judge", args=[study.public_id]))
    assert response.status_code == 403
    page = response.content.decode()
    assert '<nav aria-label="Main">' in page and "You are not in this study&#x27;s annotator pool." in page
