"""Issue 19's production guide: what a request pays for its database connection on PostgreSQL.

- `new_connection_ms`: opening a connection as Django does when CONN_MAX_AGE is 0 (every request): connect,
  authenticate, set the time zone and the isolation level, then close at the end of the request;
- `health_check_ms`: what CONN_HEALTH_CHECKS adds to a request that reuses a persistent connection
  (Django's is_usable(): one `SELECT 1` before the first query of the request);
- `query_ms`: one small primary-key SELECT, for scale.
Wall-clock milliseconds, the median of REPEATS, client and server on this machine.
"""

from __future__ import annotations

import statistics
import time

REPEATS = 200


def _median_ms(step) -> float:
    samples = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        step()
        samples.append(1000 * (time.perf_counter() - started))
    return round(statistics.median(samples), 3)


def run() -> dict:
    from django.contrib.auth import get_user_model
    from django.db import connections

    connection = connections.create_connection("default")
    user = get_user_model().objects.create(username="bench-connections")

    def new_connection() -> None:
        connection.connect()
        connection.close()

    def health_check() -> None:
        assert connection.is_usable()

    def query() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT username FROM auth_user WHERE id = %s", [user.pk])
            cursor.fetchone()

    figures = {"new_connection_ms": _median_ms(new_connection)}
    connection.connect()
    figures["health_check_ms"] = _median_ms(health_check)
    figures["query_ms"] = _median_ms(query)
    connection.close()
    user.delete()
    figures["repeats"] = REPEATS
    return figures
