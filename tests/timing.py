"""Every deadline in the suite stretches with LIMA_TEST_TIME_SCALE (say 3 on a loaded 2-core machine): a deadline
only bounds how long a test waits for something to happen; no test asserts that anything was fast.

No Django import, so the service scripts (tests/services.py, tests/pg_cluster.py) use it too."""

from __future__ import annotations

import os

TIME_SCALE = float(os.environ.get("LIMA_TEST_TIME_SCALE", "1") or 1)


def scaled(seconds: float) -> float:
    return seconds * TIME_SCALE
