"""Seed the anchor comparison's pairwise study in whatever database DATABASE_URL names; prints JSON.

Run in a subprocess by bench/anchor.py. Besides the study's details it writes the items as annotators
see them (prompt, response A, response B) to the file named on the command line, so Label Studio is
seeded with exactly the same texts, in the same order.
"""

import json
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lima_site.settings")

PASSWORD = "anchor-pass-123"


def response_text(model: str, position: int) -> str:
    """A Markdown answer of 600 to 1,400 characters (a heading, a list, emphasis, a code block), as chat models write."""
    steps = "\n".join(f"{n}. Step {n} of the {model} plan for prompt {position}: check the *details* first." for n in range(1, 3 + position % 4))
    return (f"## What {model} suggests\n\nHere is a careful answer to prompt {position}, with **one key idea** and a few steps.\n\n"
            f"{steps}\n\n```python\nprint('prompt {position}')\n```\n\n"
            + "A closing paragraph that explains why the steps help and what to watch for. " * (1 + position % 5))


def prompt_text(position: int) -> str:
    return f"Prompt {position}: how should I plan a *small* garden in a shaded yard, and what should I avoid?"


def main(annotators: int, prompts: int, items_path: str) -> None:
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from annotation.defaults import ensure_defaults
    from annotation.evaluation.models import Study
    from annotation.evaluation.services.judging import open_study
    from annotation.models import Quota
    from tests.builders import completed_run, prompt_snapshot

    ensure_defaults(group_model=Group, quota_model=Quota)
    User = get_user_model()
    researcher = User.objects.create_user("anchor-researcher", password=PASSWORD)
    researcher.groups.add(Group.objects.get(name="researcher"))
    annotator_group = Group.objects.get(name="annotator")
    pool = []
    for i in range(annotators):
        user = User.objects.create_user(f"anchor-{i}", password=PASSWORD)
        user.groups.add(annotator_group)
        pool.append(user)
    dataset = prompt_snapshot(user=researcher, n=prompts, name="anchor-prompts", prompts=[[prompt_text(i)] for i in range(prompts)])
    target = completed_run(dataset=dataset, model_name="anchor-target", text=lambda row: response_text("target", row.position))
    study = Study.objects.create(name="anchor", public_title="Which answer is better?", dataset=dataset, target_run=target,
                                 overlap=1, agreement_subset=0, created_by=researcher)
    for name in ("baseline-1", "baseline-2"):
        study.baseline_runs.add(completed_run(dataset=dataset, model_name=f"anchor-{name}",
                                              text=lambda row, name=name: response_text(name, row.position)))
    study.annotators.set(pool)
    open_study(study=study)
    items = [{"prompt": conversations[0], "a": text_a, "b": text_b}
             for conversations, text_a, text_b in study.items.order_by("order_key").values_list("row__conversations", "text_a", "text_b")]
    with open(items_path, "w") as handle:
        json.dump(items, handle)
    print(json.dumps({"study": str(study.public_id), "annotators": [u.username for u in pool], "password": PASSWORD,
                      "items": len(items)}))


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
