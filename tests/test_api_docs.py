"""The API reference page (Swagger UI served locally under the strict CSP), API tokens, and the README's client."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token

pytestmark = pytest.mark.django_db
README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_api_reference_is_served_from_this_site_with_its_script_as_a_file(client, researcher):
    client.force_login(researcher)
    page = client.get(reverse("api:docs"))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="swagger-ui"' in html and "API reference" in html
    sources = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
    assert any("swagger-ui-bundle.js" in source for source in sources)
    assert all(source.startswith("/") for source in sources), sources  # nothing from a CDN
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)  # no inline script: the CSP allows none
    assert "'unsafe-inline'" not in page["Content-Security-Policy"]
    init = client.get(reverse("api:docs") + "?script=")
    assert init.status_code == 200 and init["Content-Type"].startswith("application/javascript")
    assert reverse("api:schema") in init.content.decode()
    assert client.get(reverse("api:schema")).status_code == 200


def test_the_api_reference_needs_a_login(client):
    assert client.get(reverse("api:docs")).status_code in (302, 401, 403)


def test_a_user_creates_rotates_and_revokes_their_own_token(client, annotator, researcher):
    client.force_login(researcher)
    assert "You have no API token yet" in client.get(reverse("api_access")).content.decode()
    client.post(reverse("api_access"), {"action": "create"})
    client.post(reverse("api_access"), {"action": "create"})  # a double-click makes one token
    first = Token.objects.get(user=researcher).key
    assert first in client.get(reverse("api_access")).content.decode()
    api = client.__class__()
    assert api.get("/api/studies/", HTTP_AUTHORIZATION=f"Token {first}").status_code == 200
    client.post(reverse("api_access"), {"action": "rotate"})
    second = Token.objects.get(user=researcher).key
    assert second != first
    assert api.get("/api/studies/", HTTP_AUTHORIZATION=f"Token {first}").status_code in (401, 403)
    assert api.get("/api/studies/", HTTP_AUTHORIZATION=f"Token {second}").status_code == 200
    Token.objects.create(user=annotator)
    client.post(reverse("api_access"), {"action": "revoke"})
    assert not Token.objects.filter(user=researcher).exists()
    assert Token.objects.filter(user=annotator).exists()  # only one's own token
    assert api.get("/api/studies/", HTTP_AUTHORIZATION=f"Token {second}").status_code in (401, 403)


def test_the_readme_client_runs_against_a_live_server(live_server, researcher, monkeypatch):
    from tests.builders import pairwise_study

    pairwise_study(researcher=researcher, annotators=[], prompts=2, name="readme-study", open_it=False)
    token = Token.objects.create(user=researcher)
    block = re.search(r"```python\n(import json, os, urllib.request\n.*?)```", README.read_text(), re.DOTALL).group(1)
    monkeypatch.setenv("LIMA_API", live_server.url)
    monkeypatch.setenv("LIMA_API_TOKEN", token.key)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block, "README.md", "exec"), {})
    assert re.fullmatch(r"\d+ readme-study draft\n", out.getvalue())
