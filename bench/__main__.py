"""`make bench`: run every bench/bench_*.py against a throw-away database; JSON results in bench/results/.

Each module exposes `run() -> dict`. The database is a fresh PostgreSQL test database (created
and dropped here), so benchmarks never touch development data. `python -m bench NAME` runs one.
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import platform
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def main(selected: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lima_site.settings")
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment, teardown_test_environment

    names = sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if m.name.startswith("bench_"))
    if selected:
        names = [n for n in names if n in selected or n.removeprefix("bench_") in selected]
    RESULTS.mkdir(exist_ok=True)
    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    failures = 0
    try:
        for name in names:
            module = importlib.import_module(f"bench.{name}")
            print(f"== {name}", flush=True)
            started = time.perf_counter()
            try:
                figures = module.run()
            except Exception as exc:  # a failing benchmark is reported, the others still run
                failures += 1
                print(f"   FAILED: {exc!r}", flush=True)
                continue
            result = {
                "benchmark": name,
                "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform(),
                            "database": connection.vendor},
                "seconds": round(time.perf_counter() - started, 2),
                "figures": figures,
            }
            (RESULTS / f"{name.removeprefix('bench_')}.json").write_text(json.dumps(result, indent=2) + "\n")
            print(json.dumps(figures, indent=2), flush=True)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
