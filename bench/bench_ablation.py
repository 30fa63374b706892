"""An ablation experiment end to end on the tiny model: variants, wall time, mean helpfulness with 95% intervals;
and the multi-turn report of a seeded study (shares with intervals, first failures) with its page's query count.

The ablation is the paper's three in miniature (diversity: Stack Exchange vs wikiHow; quality: Stack Exchange
unfiltered; quantity: Stack Exchange doubled), each trained with the local launcher from the tiny model, sampled
on 4 dev prompts x 2 seeds by a real Celery worker, and graded by an OpenAI-compatible judge on this machine
(tests/fake_openai.py: its score is a hash of the response, so the points measure the pipeline, not quality).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path


def _ablation(user) -> dict:
    from django.conf import settings

    from annotation.models import Status
    from generation.models import ModelSpec
    from lima_site.orchestration import experiments, helpfulness
    from lima_site.orchestration.models import Experiment
    from tests.builders import tiny_model_spec
    from tests.fake_openai import FakeOpenAI, fake_openai_server
    from tests.test_experiments import QUICK, judge_reply, mined
    from tests.training_support import dev_snapshot
    from tests.workers import WorkerProcess, purge_broker, wait_for

    mined("stackexchange_stem", 16, status=Status.APPROVED, user=user, tag="Curated")
    mined("stackexchange_stem", 8, status=Status.REJECTED, user=user, tag="Rejected")
    mined("wikihow", 8, status=Status.APPROVED, user=user, tag="Curated")
    dev = dev_snapshot(user=user, n=4, name="bench-ablation-dev")
    specs = helpfulness.plan_variants(source_groups=[["stackexchange_stem"], ["wikihow"]], size=8, unfiltered=True,
                                      doublings=1, seeds=1)
    settings.LIMA_ALLOW_PRIVATE_ENDPOINTS = True
    with tempfile.TemporaryDirectory(prefix="bench-ablation-") as tmp, fake_openai_server() as url:
        import os

        settings.LIMA_TRAINING_DIR = Path(tmp) / "training"
        os.environ.update(LIMA_TRAINING_DIR=str(settings.LIMA_TRAINING_DIR), LIMA_EXPERIMENT_POLL_SECONDS="1",
                          LIMA_ALLOW_PRIVATE_ENDPOINTS="true")
        FakeOpenAI.reply = staticmethod(judge_reply)
        purge_broker()
        worker = WorkerProcess(name="bench-ablation", log_dir=Path(tmp)).start()
        try:
            judge = ModelSpec.objects.create(name="bench-judge", backend="openai", location=url, served_model_name="judge",
                                             requests_per_minute=6000)
            started = time.perf_counter()
            experiment = experiments.create_experiment(
                name="bench-ablation", base_model=tiny_model_spec(name="bench-tiny"), dev_dataset=dev, judge_model=judge,
                user=user, variants=specs, hyperparameters=QUICK, launcher="local", samples_per_prompt=2,
                decoding={"max_new_tokens": 32})
            wait_for(lambda: Experiment.objects.get(pk=experiment.pk).state != Experiment.State.RUNNING, timeout=1800,
                     interval=1, what="the ablation to finish")
            wall = time.perf_counter() - started
        finally:
            worker.stop()
            purge_broker()
        experiment.refresh_from_db()
        points = experiments.variant_points(experiment)
        return {"state": experiment.state, "wall_seconds": round(wall, 1), "variants": len(points),
                "dev_prompts": 4, "samples_per_prompt": 2, "epochs": QUICK["epochs"],
                "points": [{"variant": p.variant.label, "stage": p.variant.stage, "mean": round(p.score.mean, 3),
                            "low": round(p.score.low, 3), "high": round(p.score.high, 3), "scores": p.score.n_scores}
                           for p in points if p.score]}


def _multiturn(user, make_annotator) -> dict:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from annotation.evaluation.services import conversations as services
    from annotation.evaluation.models import Conversation
    from tests.test_conversations import answered, two_model_study

    def converse_with(study, evaluator, model, grades) -> None:
        conversation = Conversation.objects.create(study=study, model=model, evaluator=evaluator)
        for number, grade in enumerate(grades):
            services.send_message(conversation=conversation, evaluator=evaluator, text=f"Turn {number}", position=2 * number)
            answered(conversation, 2 * number + 1)
            services.rate_turn(conversation=conversation, evaluator=evaluator, position=2 * number + 1, grade=grade)
        services.finish_conversation(conversation=conversation, evaluator=evaluator)

    evaluators = [make_annotator(i) for i in range(5)]
    study = two_model_study(researcher=user, evaluators=evaluators, per_model=10, turns=5)
    # Shaped like LIMA 4.3: zero-shot fails early in most conversations; with 30 dialogues rarely.
    zero = [["pass", "fail"], ["excellent", "pass", "fail"], ["fail"], ["excellent", "excellent", "pass", "pass", "excellent"],
            ["pass", "pass", "fail"], ["excellent", "fail"], ["pass", "excellent", "excellent", "pass"], ["fail"],
            ["excellent", "pass", "excellent", "excellent"], ["pass", "fail"]]
    tuned = [["excellent"] * 5, ["excellent", "pass", "excellent", "excellent"], ["excellent", "excellent", "excellent", "pass", "excellent"],
             ["pass", "excellent", "excellent", "excellent"], ["excellent", "excellent", "fail"], ["excellent"] * 4,
             ["excellent", "pass", "pass", "excellent", "excellent"], ["excellent", "excellent", "excellent"],
             ["pass", "excellent", "excellent", "excellent", "excellent"], ["excellent", "excellent", "pass", "excellent"]]
    plans = {"lima-zero-shot": zero, "lima-30-dialogues": tuned}
    client = Client()
    client.force_login(user)
    url = reverse("conversations:study_detail", args=[study.pk])
    counts = []
    for _ in range(4):  # 4 rounds of 5 evaluators: 20 conversations, which balanced assignment splits 10 / 10
        for evaluator in evaluators:
            conversation = services.start_conversation(study=study, evaluator=evaluator)
            grades = plans[conversation.model.name].pop(0)
            conversation.delete()  # `converse` starts it again: the same evaluator's open slot, the same model
            converse_with(study, evaluator, conversation.model, grades)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        counts.append({"conversations": study.conversations.count(), "queries": len(captured)})
    reports = services.study_report(study)
    return {"page_queries": counts, "models": [{
        "model": r.model.name, "conversations": r.conversations, "responses": r.responses,
        "shares": {g: {"estimate": round(s.estimate, 3), "low": round(s.low, 3), "high": round(s.high, 3)}
                   for g, s in r.distribution.shares.items()},
        "first_failure_at_answer": r.first_failures, "failed_within_3": r.failed_within_3, "never_failed": r.never_failed}
        for r in reports]}


def run() -> dict:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command

    from annotation.defaults import ensure_defaults
    from annotation.models import Quota

    call_command("build_tiny_model", verbosity=0)
    ensure_defaults(group_model=Group, quota_model=Quota)
    users = get_user_model().objects
    researcher = users.create_user(username="bench-researcher", password="x")
    researcher.groups.add(Group.objects.get(name="researcher"))

    def make_annotator(i: int):
        user = users.create_user(username=f"bench-evaluator-{i}", password="x")
        user.groups.add(Group.objects.get(name="annotator"))
        return user

    return {"multiturn": _multiturn(researcher, make_annotator), "ablation": _ablation(researcher)}
