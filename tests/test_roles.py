"""Roles: one permission mechanism; every URL answers each role as the capability table says."""

import pytest
from django.urls import reverse

from lima_site.roles import CAPABILITIES, NAVIGATION, can
from tests.url_matrix import app_urls, sample_url, status_of

pytestmark = pytest.mark.django_db


def test_navigation_shows_each_role_only_what_it_may_use(client, author, annotator, researcher):
    expectations = {
        author: {"My examples", "Review", "Quotas"},
        annotator: {"Judging"},
        researcher: {"Review", "Quotas", "Datasets", "Models", "Generation", "Curation", "Training", "Studies"},
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
