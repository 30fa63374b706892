"""What each pytest-xdist worker gets of its own (loaded with `-p tests.xdist_isolation`, before Django's settings).

`make test` runs the suite in TEST_WORKERS processes (`pytest -n`, whole files per worker). pytest-django already
gives each worker its own test database (test_lima_gw0, ...); this gives each its own pair of Redis databases
(broker and results: 0/1 for gw0, 2/3 for gw1, ...) on the suite's Redis, so one worker's Celery workers never take
another's tasks and a purge empties only its own queues, and its own LIMA_VAR_DIR (var/test/gw0, ...), where the
tiny model, dumps and run directories go. Without xdist (the `serial` phase, a single test) nothing changes.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")


def _redis_database(url: str, number: int) -> str:
    """The URL with its database number replaced (redis://:password@host:port/N)."""
    return re.sub(r"/\d*$", f"/{number}", url) if re.search(r"/\d*$", url.split("@")[-1]) else f"{url.rstrip('/')}/{number}"


if WORKER.startswith("gw"):
    index = int(WORKER[2:])
    for variable, offset in (("CELERY_BROKER_URL", 0), ("CELERY_RESULT_BACKEND", 1)):
        if os.environ.get(variable, "").startswith("redis://"):
            os.environ[variable] = _redis_database(os.environ[variable], 2 * index + offset)
    base = Path(os.environ.get("LIMA_VAR_DIR", "var/test"))
    os.environ["LIMA_VAR_DIR"] = str(base / WORKER)
