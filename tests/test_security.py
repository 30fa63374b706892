"""Security: every URL × every role from the URL conf, CSRF on every form, login rate limiting, headers.

A new URL without a rule fails `test_every_url_has_an_access_rule`: views declare a capability
(`role_required`) or a DRF permission built by `capability_permission`; the few public or
login-only pages are listed in PUBLIC / LOGIN_ONLY / STAFF_ONLY_PREFIX in tests/url_matrix.py, on purpose.

These tests check each view against its own declaration; what each role SHOULD get, with real objects and the
page's real content, is the hand-written table of tests/access_matrix.py (tests/test_access_matrix.py).
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from lima_site.roles import CAPABILITIES, can
from tests.url_matrix import access_rule, app_urls, sample_url, status_of

pytestmark = pytest.mark.django_db


def test_every_url_has_an_access_rule():
    missing = [name for name, pattern in app_urls() if access_rule(name, pattern) is None]
    assert not missing, f"URLs without an access rule: {missing}"


@pytest.fixture
def everyone(author, annotator, researcher, make_user):
    return {"author": author, "annotator": annotator, "researcher": researcher, "staff": make_user(staff=True, username="staffer")}


def test_every_url_answers_every_role_as_its_rule_says(client, everyone):
    checked = 0
    for name, pattern in app_urls():
        rule, url = access_rule(name, pattern), sample_url(name, pattern)
        assert url, f"no sample URL for {name}"
        client.logout()
        anonymous = status_of(client, url)
        if rule == "public":
            assert anonymous == 200, (name, anonymous)
        else:
            assert anonymous in (302, 401, 403), f"anonymous reached {name}: {anonymous}"
        for role, user in everyone.items():
            client.force_login(user)
            status = status_of(client, url)
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
    for name, pattern in app_urls():
        if name.startswith("api:") or access_rule(name, pattern) == "public":
            continue  # the API authenticates by token or session with DRF's own CSRF check (tested below)
        url = sample_url(name, pattern)
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
