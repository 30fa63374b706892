"""Walking the URL conf for access tests: every named URL, the rule its view declares, a sample URL."""

from __future__ import annotations

from itertools import product

from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.exceptions import NoReverseMatch

from lima_site.roles import CAPABILITIES

PUBLIC = {"login", "team:invite_accept"}
LOGIN_ONLY = {"home", "logout", "password_change", "password_change_done", "api:schema", "api:api-root", "api:docs", "api_access"}
STAFF_ONLY_PREFIX = "admin:"
SAMPLES = ("1", "jsonl", "svg", "add", "open", "outcomes", "cancel", "retry", "release", "judgments", "csv", "md", "json", "judgment",
           "00000000-0000-4000-8000-000000000000")


def walk_urls(patterns, namespace=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}:{pattern.namespace}" if namespace and pattern.namespace else (pattern.namespace or namespace)
            yield from walk_urls(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield (f"{namespace}:{pattern.name}" if namespace else pattern.name), pattern


def access_rule(name: str, pattern: URLPattern) -> str | None:
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


def sample_url(name: str, pattern: URLPattern) -> str | None:
    keys = list(pattern.pattern.regex.groupindex)
    for values in product(SAMPLES, repeat=len(keys)):
        try:
            return reverse(name, kwargs=dict(zip(keys, values)))
        except NoReverseMatch:
            continue
    return None


def app_urls():
    """Every named URL except the admin's own pages and DRF's format-suffix duplicates."""
    for name, pattern in walk_urls(get_resolver().url_patterns):
        if name.startswith(STAFF_ONLY_PREFIX) and name != "admin:index":
            continue
        if "format" in pattern.pattern.regex.groupindex:
            continue
        yield name, pattern


def status_of(client, url) -> int:
    """GET, or POST where the view only takes POST."""
    status = client.get(url).status_code
    return client.post(url).status_code if status == 405 else status
