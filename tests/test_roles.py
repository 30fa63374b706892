"""Roles: one permission mechanism; every URL answers each role as the capability table says."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from lima_site.roles import CAPABILITIES, NAVIGATION, can

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
    """Every view in our apps' URL conf with its required capability (a view without one fails the test)."""
    found = []

    def walk(patterns, namespace=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, pattern.namespace or namespace)
            elif isinstance(pattern, URLPattern) and namespace == "annotation":
                found.append((f"{namespace}:{pattern.name}", pattern))

    walk(get_resolver().url_patterns)
    return found


def test_every_app_view_declares_a_capability():
    views = _app_views()
    assert len(views) >= 15
    missing = [name for name, pattern in views if getattr(pattern.callback, "lima_capability", None) not in CAPABILITIES]
    assert not missing, f"views without a role rule: {missing}"


SAMPLE_VALUES = ("1", "jsonl", "svg", "add", "open", "outcomes", "cancel", "00000000-0000-4000-8000-000000000000", "judgments", "md")


def reverse_any(name: str, keys: list[str]) -> str:
    """A URL for the pattern, with a sample value for each argument that its converter accepts."""
    from itertools import product

    from django.urls import NoReverseMatch

    for values in product(SAMPLE_VALUES, repeat=len(keys)):
        try:
            return reverse(name, kwargs=dict(zip(keys, values)))
        except NoReverseMatch:
            continue
    raise AssertionError(f"no sample URL for {name}")


def answer(client, url) -> int:
    """GET, or POST where the view only takes POST."""
    status = client.get(url).status_code
    return client.post(url).status_code if status == 405 else status


def test_each_role_gets_403_or_access_exactly_as_the_capability_table_says(client, author, annotator, researcher, make_user):
    staff = make_user(staff=True)
    users = {"author": author, "annotator": annotator, "researcher": researcher, "staff": staff}
    checked = 0
    for name, pattern in _app_views():
        capability = pattern.callback.lima_capability
        url = reverse_any(name, list(pattern.pattern.regex.groupindex))
        client.logout()
        assert answer(client, url) == 302, f"anonymous reached {url}"
        for role, user in users.items():
            client.force_login(user)
            status = answer(client, url)
            if can(user, capability):
                assert status != 403, f"{role} refused {url}"
            else:
                assert status == 403, f"{role} reached {url} ({status})"
            checked += 1
    assert checked >= 60
