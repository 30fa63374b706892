"""Answer 503 (with Retry-After) instead of a bare 500 while the database cannot be reached.

A PostgreSQL restart or failover drops every connection for a few seconds. A request caught in
that window raised OperationalError or InterfaceError and got Django's generic "Server Error",
which tells an annotator nothing about whether their verdict counted. The answer here is "try
again": a 503 that a retrying client or proxy understands, a short page for a browser and a small
fragment for an htmx request (judge.js shows its own message). Trying again is always safe: a
verdict is stored at most once per item and annotator. Should the failure come after its commit
(while the next item was being fetched), the view has marked the request and the message says the
verdict was saved; a resubmit would answer "already judged" anyway.

The responses are built without templates or the session: both would need the database.
"""

from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from django.utils.html import escape

logger = logging.getLogger(__name__)

MESSAGE = "The database is unavailable; your last action was not saved. Try again in a moment."
# When the view had already committed the action (it sets request.lima_action_saved) and the database
# went away while the next page was being built: saying "not saved" would be untrue.
SAVED_MESSAGE = "Your last action was saved, but the database became unavailable before the next page loaded. Reload in a moment."
RETRY_AFTER_SECONDS = 5

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Database unavailable · lima-studio</title></head>
<body><main><h1>Database unavailable</h1><p role="alert" id="database-unavailable">{message}</p></main></body></html>
"""
FRAGMENT = '<p class="notice-inline error-inline" role="alert" id="database-unavailable">{message}</p>'


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, (OperationalError, InterfaceError)):
            return None
        logger.warning("database unavailable during %s %s: %s", request.method, request.path, exception)
        template = FRAGMENT if request.headers.get("HX-Request") == "true" else PAGE
        message = SAVED_MESSAGE if getattr(request, "lima_action_saved", False) else MESSAGE
        response = HttpResponse(template.format(message=escape(message)), status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        response["Cache-Control"] = "no-store"
        return response
