"""Build a load-test study in whatever database DATABASE_URL names; prints its details as JSON.

Run in a subprocess by bench_judging (and `make loadtest`) so each server's own database,
SQLite or PostgreSQL, is migrated and filled the same way.
"""

import json
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lima_site.settings")


def main(annotators: int, prompts: int) -> None:
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from annotation.defaults import ensure_defaults
    from annotation.models import Quota

    ensure_defaults(group_model=Group, quota_model=Quota)
    from tests.builders import pairwise_study

    User = get_user_model()
    researcher = User.objects.create_user("load-researcher", password="load-pass-123")
    researcher.groups.add(Group.objects.get(name="researcher"))
    pool = []
    for i in range(annotators):
        user = User.objects.create_user(f"load-{i}", password="load-pass-123")
        user.groups.add(Group.objects.get(name="annotator"))
        pool.append(user)
    study = pairwise_study(researcher=researcher, annotators=pool, prompts=prompts, baselines=("b1", "b2"), agreement_subset=0,
                           name="load")
    print(json.dumps({"study": str(study.public_id), "annotators": [u.username for u in pool], "password": "load-pass-123",
                      "items": study.items.count()}))


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
