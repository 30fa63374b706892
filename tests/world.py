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

    extra = _newer_features(make_user=make_user, author=author, annotator=annotator, researcher=researcher, staff=staff,
                            pool=pool, study=study, training_run=training_run,
                            checkpoint=checkpoint, generation_run=generation_run, tmp_path=tmp_path)

    objects = {
        "draft": draft.pk, "submitted": submitted.pk, "hidden_test": hidden_test.pk, "candidate": candidate.pk,
        "quota": quota.pk, "import_job": import_job.pk, "dataset": dataset.pk, "model": model.pk,
        "generation_run": generation_run.pk, "training_run": training_run.pk, "checkpoint": checkpoint.pk,
        "study": study.pk, "study_uuid": str(study.public_id), "held_study": held_study.pk, "held_item": held_item.pk,
        "external": external.pk, "pool_annotator": pool[1].pk, "staff_user": staff.pk,
        "assigned_item": str(assigned.item.public_id) if assigned else "",
        "submitted_pick": f"{submitted.pk}:{submitted.version}",  # a ticked row of the bulk review form
        **extra,
    }
    users = {"anonymous": None, "author": author, "annotator": annotator, "researcher": researcher, "staff": staff}
    return World(users=users, objects=objects, examples={"draft": draft, "submitted": submitted, "candidate": candidate})


def _newer_features(*, make_user, author, annotator, researcher, staff, pool, study, training_run,
                    checkpoint, generation_run, tmp_path) -> dict:
    """Objects of the features merged after the first matrix: curation undo, multi-turn conversations, experiments,
    lineage, people and invitations, tournaments, deletions, one-click checkpoint studies. Returns their keys."""
    from annotation.evaluation.models import ConversationTurn, Judgment, Study
    from annotation.evaluation.services import conversations
    from annotation.evaluation.services.external_judgments import import_external_judgments
    from annotation.services import curation
    from generation.models import ModelSpec
    from lima_site.orchestration import helpfulness, people
    from lima_site.orchestration.models import Experiment, Variant
    from tests.builders import tiny_model_spec
    from training.models import Checkpoint

    # Curation: a candidate already rejected, whose decision can be undone.
    from annotation.importers.batch import Candidate
    from annotation.models import Example

    curation.save_candidates(candidates=[Candidate(
        source_key="matrix-decided", source="stackexchange_stem", split="train", title="Matrix decided question",
        conversations=["Matrix decided question?", "A decided answer from a dump."], community="", provenance={})],
        user=researcher)
    decided = Example.objects.get(source_key="matrix-decided")
    decided = curation.reject_candidate(example_id=decided.pk, user=researcher, expected_version=decided.version,
                                        comment="Off topic.")

    # Live multi-turn evaluation: two evaluators talk to "Model X"; the annotator's conversation is open with one
    # rated answer, the other evaluator's is finished (every answer Pass: exported as a training row).
    live_model = tiny_model_spec(name="matrix-live-model")
    conversation_study = conversations.create_study(
        name="matrix-conversation-study", public_title="Matrix chat study", model_pool=[live_model],
        evaluators=[annotator, pool[1]], user=researcher, conversations_per_model=10, turns_per_conversation=3)

    foreign_study = conversations.create_study(
        name="matrix-foreign-conversation-study", model_pool=[live_model], evaluators=[pool[1]], user=researcher)

    def talk(evaluator, text: str):
        conversation = conversations.start_conversation(study=conversation_study, evaluator=evaluator)
        conversations.send_message(conversation=conversation, evaluator=evaluator, text=text, position=0)
        # What the worker does when the reply completes (no worker runs while the world is built).
        ConversationTurn.objects.filter(conversation=conversation, position=1).update(
            state=ConversationTurn.State.DONE, text=f"Model X answers: {text}", raw_text=f"Model X answers: {text}")
        conversations.rate_turn(conversation=conversation, evaluator=evaluator, position=1, grade="pass")
        return conversation

    my_conversation = talk(annotator, "Matrix conversation opener of the annotator?")
    other_conversation = talk(pool[1], "Matrix conversation opener of another evaluator?")
    conversations.finish_conversation(conversation=other_conversation, evaluator=pool[1])

    # An ablation experiment with one finished variant (built as the experiment's services leave it).
    judge = ModelSpec.objects.create(name="matrix-judge", backend="openai", location="https://judge.invalid/v1",
                                     served_model_name="judge")
    experiment = Experiment.objects.create(name="matrix-experiment", base_model=live_model, hyperparameters={"epochs": 1},
                                           launcher="local", dev_dataset=generation_run.dataset, judge_model=judge,
                                           judge_template=helpfulness.DEFAULT_TEMPLATE, created_by=researcher)
    variant = Variant.objects.create(experiment=experiment, position=0, label="matrix-variant-wikihow", sources=["wikihow"],
                                     quality_filter=True, stage=Variant.Stage.DONE)
    variant.generation_runs.add(generation_run)

    # A verdict to trace, a model nothing uses, a draft study, a tournament of external judgments.
    judgment = Judgment.objects.filter(item__study=study).order_by("pk").first()
    unused_model = ModelSpec.objects.create(name="matrix-unused-model", backend="imported")
    draft_study = Study.objects.create(name="matrix-draft-study", dataset=study.dataset, target_run=study.target_run,
                                       created_by=researcher, seed=1, agreement_subset=0)
    tournament = import_external_judgments(
        name="matrix-tournament", filename="arena.csv", user=researcher, tournament=True,
        stream=io.BytesIO(b"prompt_id,model_a,model_b,verdict,annotator,annotator_group\n"
                          b"p1,matrix-alpha,matrix-beta,a,ann1,crowd\np2,matrix-beta,matrix-gamma,b,ann1,crowd\n"
                          b"p3,matrix-gamma,matrix-alpha,tie,ann2,crowd\np4,matrix-alpha,matrix-gamma,a,ann2,crowd\n"),
    )

    # One-click study from a checkpoint: epochs 1 and 2 of the training run both have finished dev responses.
    from tests.builders import completed_run

    checkpoint.dev_run = completed_run(dataset=generation_run.dataset, model_name=checkpoint.model.name,
                                       text=lambda row: f"Epoch 1 dev answer {row.position}.")
    checkpoint.save(update_fields=["dev_run"])
    second_model = ModelSpec.objects.create(name="matrix-training-epoch-2", backend="imported")
    Checkpoint.objects.create(run=training_run, epoch=2, path=str(tmp_path / "epoch-2"), model=second_model,
                              dev_run=completed_run(dataset=generation_run.dataset, model_name=second_model.name,
                                                    text=lambda row: f"Epoch 2 dev answer {row.position}."))

    # People: an annotator invited without a password, in the pool "matrix-pool".
    invitee, _ = people.create_person(username="matrix-invitee", actor=researcher,
                                      person=people.PersonInput(roles=("annotator",), pools=("matrix-pool",)))

    from django.contrib.auth.tokens import default_token_generator
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    return {
        "decided_candidate": decided.pk,
        "conversation_study": conversation_study.pk, "conversation_study_uuid": str(conversation_study.public_id),
        "foreign_conversation_study_uuid": str(foreign_study.public_id),  # the annotator is not one of its evaluators
        "my_conversation": str(my_conversation.public_id), "other_conversation": str(other_conversation.public_id),
        "experiment": experiment.pk, "verdict": judgment.pk, "unused_model": unused_model.pk, "draft_study": draft_study.pk,
        "tournament": tournament.pk, "invitee": invitee.pk, "invite_uid": urlsafe_base64_encode(force_bytes(invitee.pk)),
        "invite_token": default_token_generator.make_token(invitee),
    }
