"""Where a submit's time goes: cProfile over N verdicts through Django's test client, on a seeded database.

    DATABASE_URL=sqlite:///var/anchor/lima/anchor.sqlite3 python -m bench.profile_submit [N] [--sort tottime]

Needs a database seeded by bench/anchor_seed.py (`python -m bench.anchor` leaves one in var/anchor/lima/). The
client judges as an annotator's page does (HTMX POSTs, each answered with the next item); the report lists the
functions that took the most time, cumulative and own.
"""

import cProfile
import io
import os
import pstats
import re
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lima_site.settings")

ITEM = re.compile(r'name="item" value="([0-9a-f-]{36})"')


def main(count: int, sort: str) -> None:
    import django

    django.setup()
    from django.test import Client

    from annotation.evaluation.models import Study

    study = Study.objects.get(name="anchor")
    annotator = study.annotators.order_by("-id").first()
    client = Client(HTTP_HX_REQUEST="true", HTTP_HOST="localhost")
    client.force_login(annotator)
    page = client.get(f"/judge/{study.public_id}/").content.decode()
    for _ in range(5):  # warm: templates compiled, caches filled
        page = client.post(f"/judge/{study.public_id}/submit/", {"item": ITEM.search(page).group(1), "choice": "a"}).content.decode()
    profile = cProfile.Profile()
    started = time.perf_counter()
    profile.enable()
    for _ in range(count):
        page = client.post(f"/judge/{study.public_id}/submit/", {"item": ITEM.search(page).group(1), "choice": "a"}).content.decode()
    profile.disable()
    seconds = time.perf_counter() - started
    print(f"{count} submits, {1000 * seconds / count:.2f} ms each under the profiler")
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats(sort).print_stats(int(os.environ.get("TOP", "40")))
    print(out.getvalue())


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    sort = sys.argv[sys.argv.index("--sort") + 1] if "--sort" in sys.argv else "cumulative"
    main(int(args[0]) if args and args[0].isdigit() else 200, sort)
