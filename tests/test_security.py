"""Security: every URL × every role from the URL conf, CSRF on every form, login rate limiting, headers.

A new URL without a rule fails `test_every_url_has_an_access_rule`: views declare a capability
(`role_required`) or a DRF permission built by `capability_permission`; the few public or
login-only pages are listed in PUBLIC / LOGIN_ONLY / STAFF_ONLY below, on purpose.
"""

from __future__ import annotations

from itertools import product

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.exceptions import NoReverseMatch

from lima_site.roles import CAPABILITIES, can

pytestmark = pytest.mark.django_db

PUBLIC = {"login"}
LOGIN_ONLY = {"home", "logout", "api:schema", "api:api-root"}
STAFF_ONLY_PREFIX = "admin:"
SAMPLES = ("1", "jsonl", "svg", "add", "open", "outcomes", "cancel", "retry", "judgments", "csv", "md", "json",
           "00000000-0000-4000-8000-000000000000")


def _walk(patterns, namespace=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}:{pattern.namespace}" if namespace and pattern.namespace else (pattern.namespace or namespace)
            yield from _walk(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield (f"{namespace}:{pattern.name}" if namespace else pattern.name), pattern


def _rule(name: str, pattern: URLPattern) -> str | None:
    """The capability a URL needs, 'public', 'login', 'staff', or None when it has no rule."""
    if name in PUBLIC:
        return "public"
    if name in LOGIN_ONLY:
        return "login"
    if name.startswith(STAFF_ONLY_PREFIX):
        return "staff"
    callback = pattern.callback
    if getattr(callback, "lima_capability", None):
        return callback.lima_capability
    view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    for permission in getattr(view_class, "permission_classes", []) or []:
        if getattr(permission, "capability", None) in CAPABILITIES:
            return permission.capability
    return None


def _sample_url(name: str, pattern: URLPattern) -> str | None:
    keys = list(pattern.pattern.regex.groupindex)
    for values in product(SAMPLES, repeat=len(keys)):
        try:
            return reverse(name, kwargs=dict(zip(keys, values)))
        except NoReverseMatch:
            continue
    return None


def _app_urls():
    """Every named URL except the admin's own pages and DRF's format-suffix duplicates."""
    for name, pattern in _walk(get_resolver().url_patterns):
        if name.startswith(STAFF_ONLY_PREFIX) and name != "admin:index":
            continue
        if "format" in pattern.pattern.regex.groupindex:
            continue
        yield name, pattern


def test_every_url_has_an_access_rule():
    missing = [name for name, pattern in _app_urls() if _rule(name, pattern) is None]
    assert not missing, f"URLs without an access rule: {missing}"


def _status(client, url) -> int:
    status = client.get(url).status_code
    return client.post(url).status_code if status == 405 else status


@pytest.fixture
def everyone(author, annotator, researcher, make_user):
    return {"author": author, "annotator": annotator, "researcher": researcher, "staff": make_user(staff=True, username="staffer")}


def test_every_url_answers_every_role_as_its_rule_says(client, everyone):
    checked = 0
    for name, pattern in _app_urls():
        rule, url = _rule(name, pattern), _sample_url(name, pattern)
        assert url, f"no sample URL for {name}"
        client.logout()
        anonymous = _status(client, url)
        if rule == "public":
            assert anonymous == 200, (name, anonymous)
        else:
            assert anonymous in (302, 401, 403), f"anonymous reached {name}: {anonymous}"
        for role, user in everyone.items():
            client.force_login(user)
            status = _status(client, url)
            allowed = rule in ("public", "login") or (rule == "staff" and user.is_staff) or (rule in CAPABILITIES and can(user, rule))
            if allowed:
                assert status != 403, f"{role} refused at {name}"
            else:
                assert status in (302, 403), f"{role} reached {name} ({status})"
            checked += 1
    assert checked >= 4 * 60, checked


def test_every_form_refuses_a_post_without_its_csrf_token(everyone):
    client = Client(enforce_csrf_checks=True)
    client.force_login(everyone["staff"])  # staff may do everything, so only CSRF can refuse
    refused = 0
    for name, pattern in _app_urls():
        if name.startswith("api:") or _rule(name, pattern) == "public":
            continue  # the API authenticates by token or session with DRF's own CSRF check (tested below)
        url = _sample_url(name, pattern)
        status = client.post(url, {"anything": "1"}).status_code
        assert status == 403, f"{name} accepted a POST without a CSRF token ({status})"
        refused += 1
    assert refused >= 40


def test_session_authenticated_api_writes_need_csrf_too(researcher):
    client = Client(enforce_csrf_checks=True)
    client.force_login(researcher)
    response = client.post("/api/models/", {"name": "x", "backend": "imported"}, content_type="application/json")
    assert response.status_code == 403 and "CSRF" in response.content.decode()


def test_login_is_rate_limited_per_username_and_address(client, make_user):
    from django.conf import settings

    make_user("author", username="victim")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert client.post(reverse("login"), {"username": "victim", "password": "wrong"}).status_code == 200
    assert client.post(reverse("login"), {"username": "victim", "password": "wrong"}).status_code == 429
    locked = client.post(reverse("login"), {"username": "victim", "password": "pw-for-tests-123"})
    assert locked.status_code == 429  # even the right password, until the cool-off ends
    other = client.post(reverse("login"), {"username": "someone-else", "password": "wrong"})
    assert other.status_code == 200


def test_security_headers_and_session_cookie(client, author):
    login = client.post(reverse("login"), {"username": "author_a", "password": "pw-for-tests-123"})
    assert login.status_code == 302 and login.cookies["sessionid"]["httponly"] and login.cookies["sessionid"]["samesite"] == "Lax"
    response = client.get(reverse("annotation:example_list"))
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
