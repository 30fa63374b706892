"""Every URL × every role against the hand-written expectations of tests/access_matrix.py, with real objects.

The expectations are the truth (they are not read from the views' `lima_capability`), every row is requested
as anonymous, author, annotator, researcher and staff, and an allowed answer must have the exact status and
show the row's content, so a page that answers 404 because its object is missing cannot pass as "allowed".
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.db import transaction
from django.test import Client
from django.urls import reverse

from tests import access_matrix
from tests.builders import completed_run, example, pairwise_study, prompt_snapshot
from tests.url_matrix import app_urls

pytestmark = pytest.mark.django_db


@dataclass
class World:
    users: dict
    objects: dict
    examples: dict


def _build_world(make_user, author, annotator, researcher, tmp_path) -> World:
    from annotation.evaluation.models import ComparisonItem
    from annotation.evaluation.services import judging
    from annotation.evaluation.services.external_judgments import import_external_judgments
    from annotation.models import ImportJob, Quota, Status
    from generation.models import ModelSpec
    from training.models import Checkpoint, RunState
    from training.services import runs
    from tests.builders import tiny_model_spec
    from tests.training_support import train_snapshot

    staff = make_user(staff=True, username="matrix-staff")
    other_author = make_user("author", group="A", username="matrix-other-author")
    test_author = make_user("author", group="B", username="matrix-test-author")
    pool = [annotator] + [make_user("annotator", username=f"matrix-pool-{n}") for n in range(2)]

    draft = example(user=author, turns=("Matrix draft prompt?", "Matrix draft response."))
    example(user=staff, turns=("Matrix draft prompt of the staff member?", "A response."))
    submitted = example(user=other_author, status=Status.SUBMITTED,
                        turns=("Matrix submitted prompt: how do I brew tea?",
                               "Brewing tea is simple: steep the leaves in hot water for three minutes."))
    hidden_test = example(user=test_author, split="test", turns=("Hidden test prompt?",))
    candidate = example(user=researcher, source="stackexchange_stem", status=Status.CANDIDATE,
                        turns=("Matrix candidate question?", "A candidate answer from a dump."))
    quota = Quota.objects.order_by("pk").first()
    import_job = ImportJob.objects.create(kind=ImportJob.Kind.STACKEXCHANGE, path="matrix-dump.xml", created_by=researcher)

    study = pairwise_study(researcher=researcher, annotators=pool, prompts=4, baselines=("matrix-baseline",),
                           overlap=2, agreement_subset=2, name="matrix-study")
    study.public_title = "Matrix public title"
    study.save(update_fields=["public_title"])
    dataset = study.dataset
    for member in pool[1:]:
        for _ in range(4):
            assignment = judging.current_assignment(study=study, annotator=member)
            if assignment is None:
                break
            judging.record_judgment(study=study, item_public_id=assignment.item.public_id, annotator=member, side="a")
    assigned = judging.current_assignment(study=study, annotator=annotator)

    held_study = pairwise_study(researcher=researcher, annotators=pool[:1], prompts=2, baselines=("held-baseline",),
                                open_it=False, agreement_subset=0, name="matrix-held-study")
    held_study.baseline_runs.get().responses.update(text="I am a language model trained by a large company.")
    with pytest.raises(Exception, match="self-identifying"):
        judging.open_study(study=held_study)
    held_item = ComparisonItem.objects.filter(study=held_study, held=True).order_by("pk").first()

    external = import_external_judgments(
        name="matrix-external", filename="judgments.csv", user=researcher,
        stream=io.BytesIO(b"prompt_id,model_a,model_b,verdict,annotator,annotator_group\n"
                          b"p1,lima,ext-baseline,a,ann1,crowd\np2,ext-baseline,lima,a,ann1,crowd\n"
                          b"p1,lima,ext-baseline,tie,ann2,crowd\n"),
        target="lima",
    )

    generation_run = completed_run(dataset=prompt_snapshot(user=researcher, n=2, name="matrix-prompts"),
                                   model_name="matrix-model")
    model = ModelSpec.objects.get(name="matrix-model")
    settings.LIMA_TRAINING_DIR = tmp_path / "training"
    training_run = runs.create_run(dataset=train_snapshot(user=researcher, name="matrix-train"),
                                   base_model=tiny_model_spec(), user=researcher, name="matrix-training",
                                   hyperparameters={"epochs": 1, "batch_size": 4, "micro_batch_size": 2})
    # A run that has finished: submit / cancel / refresh / resubmit answer without starting a job.
    type(training_run).objects.filter(pk=training_run.pk).update(state=RunState.COMPLETED, job_id="4242")
    checkpoint_model = ModelSpec.objects.create(name="matrix-training-epoch-1", backend="imported")
    checkpoint = Checkpoint.objects.create(run=training_run, epoch=1, path=str(tmp_path / "epoch-1"), model=checkpoint_model)

    objects = {
        "draft": draft.pk, "submitted": submitted.pk, "hidden_test": hidden_test.pk, "candidate": candidate.pk,
        "quota": quota.pk, "import_job": import_job.pk, "dataset": dataset.pk, "model": model.pk,
        "generation_run": generation_run.pk, "training_run": training_run.pk, "checkpoint": checkpoint.pk,
        "study": study.pk, "study_uuid": str(study.public_id), "held_study": held_study.pk, "held_item": held_item.pk,
        "external": external.pk, "pool_annotator": pool[1].pk,
        "assigned_item": str(assigned.item.public_id) if assigned else "",
    }
    users = {"anonymous": None, "author": author, "annotator": annotator, "researcher": researcher, "staff": staff}
    return World(users=users, objects=objects, examples={"draft": draft, "submitted": submitted, "candidate": candidate})


def _value(world: World, value: str):
    if value.startswith("version:"):
        from annotation.models import Example

        return str(Example.objects.get(pk=world.objects[value.split(":", 1)[1]]).version)
    return world.objects.get(value, value)


def _post_data(world: World, name: str) -> dict:
    data = {}
    for key, value in access_matrix.POST_DATA.get(name, {}).items():
        data[key] = [_value(world, v) for v in value] if isinstance(value, list) else _value(world, value)
    return data


def _answer(client: Client, row: access_matrix.Row, world: World) -> tuple[str, str]:
    """(what the row's columns call the answer, the content an allowed answer shows)."""
    url = reverse(row.name, kwargs={key: _value(world, value) for key, value in row.kwargs.items()})
    response = client.get(url) if row.method == "GET" else client.post(url, _post_data(world, row.name))
    status = response.status_code
    location = response.get("Location", "")
    if status == 302 and location.startswith((reverse(settings.LOGIN_URL) + "?next=", reverse("admin:login") + "?next=")):
        return "login", ""
    if 300 <= status < 400:
        followed = client.get(location)
        return str(status), followed.content.decode(errors="replace")
    if response.streaming:
        return str(status), b"".join(response.streaming_content).decode(errors="replace")
    return str(status), response.content.decode(errors="replace")


def _check_every_row(world: World) -> tuple[list[str], int]:
    mismatches, allowed_with_content = [], 0
    for row in access_matrix.rows():
        for role, user in world.users.items():
            client = Client()
            if user is not None:
                client.force_login(user)
            expected = row.expected[role]
            with transaction.atomic():
                answer, content = _answer(client, row, world)
                transaction.set_rollback(True)
            where = f"line {row.line} {row.name} {row.method} {row.kwargs or ''} as {role}"
            if answer != expected:
                mismatches.append(f"{where}: expected {expected}, got {answer}")
            elif expected not in ("login", "403", "404") and row.shows != "-":
                if not any(text.strip() in content for text in row.shows.split("||")):
                    mismatches.append(f"{where}: {answer} but the page lacks {row.shows!r}: {content[:300]!r}")
                else:
                    allowed_with_content += 1
    return mismatches, allowed_with_content


@pytest.fixture
def world(make_user, author, annotator, researcher, tmp_path, tiny_model):
    return _build_world(make_user, author, annotator, researcher, tmp_path)


def test_every_url_has_a_row():
    named = {name for name, _ in app_urls()}
    listed = {row.name for row in access_matrix.rows()}
    assert not named - listed, f"URLs missing from tests/access_matrix.py: {sorted(named - listed)}"
    assert not listed - named, f"rows of tests/access_matrix.py naming no URL: {sorted(listed - named)}"


def test_every_role_gets_exactly_what_the_matrix_says_with_real_content(world):
    mismatches, allowed_with_content = _check_every_row(world)
    assert not mismatches, f"{len(mismatches)} answers differ from tests/access_matrix.py:\n" + "\n".join(mismatches)
    rows = access_matrix.rows()
    assert len(rows) * len(access_matrix.ROLES) >= 5 * 100
    assert allowed_with_content >= 200, allowed_with_content
