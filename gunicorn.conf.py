"""gunicorn's settings for lima-studio, read by `gunicorn lima_site.wsgi:application` run from the project root
(gunicorn loads ./gunicorn.conf.py by itself; docker-compose's web service runs it so). The README's production
guide explains the figures behind them; environment variables override each for one deployment."""

import os

# A request is CPU-bound Python (a verdict is a few ms of CPU and sub-millisecond queries): one process per core,
# at least two so a restarting worker never leaves the site without one, and threads to cover the waits on
# PostgreSQL and on slow clients.
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY") or max(2, os.cpu_count() or 1))
threads = int(os.environ.get("GUNICORN_THREADS") or 4)
bind = os.environ.get("GUNICORN_BIND") or "0.0.0.0:8000"
timeout = 120  # exports stream for minutes, but each write is short; a worker silent for 2 minutes is stuck
keepalive = 30  # the judging page's HTMX requests come every few seconds from the same browser
