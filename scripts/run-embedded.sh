#!/usr/bin/env bash
# Serve the app and one Celery worker together on the embedded default (SQLite + SQLAlchemy broker).
set -euo pipefail
PY=${PY:-.venv/bin/python}
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
"$PY" -m celery -A lima_site worker --beat --schedule "${LIMA_VAR_DIR:-var}/celerybeat-schedule" --loglevel=INFO --concurrency=1 --pool=solo -Q celery,judge,generation,imports,gpu &
WORKER=$!
trap 'kill $WORKER 2>/dev/null; wait $WORKER 2>/dev/null' EXIT INT TERM
echo
echo "lima-studio is running at http://$HOST:$PORT/  (Ctrl+C stops the server and the worker)"
echo
"$PY" manage.py serve "$HOST:$PORT"  # runserver, answers sent without Nagle's delay (lima_site/management/commands/serve.py)
