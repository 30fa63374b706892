"""A small world of real objects of every kind, for tests that must touch everything (access matrix, backups)."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pytest

from tests.builders import completed_run, example, pairwise_study, prompt_snapshot


@dataclass
class World:
    users: dict
    objects: dict
    examples: dict


def build_world(*, make_user, author, annotator, researcher, tmp_path) -> World:
    """One object of every kind, owned as in real use (LIMA_TRAINING_DIR must point at a scratch folder)."""
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
