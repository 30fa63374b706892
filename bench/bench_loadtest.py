"""Issue 8's load test: 100 concurrent annotator sessions judging against gunicorn + PostgreSQL.

`make loadtest` runs it for 10 minutes (LIMA_LOADTEST_SECONDS=600); `make bench` runs a one-minute
version so its figures are always current. Loopback only; it stops by itself. Lost judgments
(acknowledged by the server but not in the database) must be 0.
"""

import os

from bench.bench_judging import run_servers

CLIENTS = int(os.environ.get("LIMA_LOADTEST_CLIENTS", "100"))
SECONDS = float(os.environ.get("LIMA_LOADTEST_SECONDS", "60"))


def run() -> dict:
    # ~80 verdicts/s at most on this machine: enough items that nobody runs out within the test.
    prompts = max(2000, int(80 * SECONDS / 2) + 1000)
    figures = run_servers(servers=("production",), levels=(CLIENTS,), seconds=SECONDS, prompts=prompts)
    result = figures["runs"][0]
    result["lost_judgments"] = result["acknowledged_missing_in_db"]
    return result
