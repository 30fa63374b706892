"""Jobs you can see: separate Celery queues (a judge is not held behind a long generation) and the jobs page,
against a real worker, real Redis and a local OpenAI-compatible server."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from annotation.evaluation.judge_prompt import DEFAULT_TEMPLATE
from annotation.evaluation.models import LLMJudgeRun
from annotation.evaluation.services import llm_judge
from annotation.models import ImportJob
from generation.models import GenerationRun, ModelSpec, RunStatus
from generation.services import runs
from lima_site import queues
from lima_site.orchestration import jobs
from tests.builders import completed_run, pairwise_study, prompt_snapshot
from tests.fake_openai import FakeOpenAI
from tests.workers import scaled, wait_for

GENERATION_SECONDS = 1.5


def slow_generation_quick_judge(body) -> str:
    """Generation answers take GENERATION_SECONDS each; the judge (its prompt has [Response A]) answers at once."""
    text = body["messages"][-1]["content"]
    if "[Response A]" in text:
        return "A\nFine."
    time.sleep(GENERATION_SECONDS)
    return "A generated answer."


def openai_model(url: str, name: str) -> ModelSpec:
    return ModelSpec.objects.create(name=name, backend="openai", location=url, served_model_name=name, requests_per_minute=60000)


def test_work_goes_to_its_own_queue():
    assert ModelSpec(backend="openai").queue == queues.GENERATION
    assert ModelSpec(backend="openai").judge_queue == queues.JUDGE
    assert ModelSpec(backend="transformers").judge_queue == queues.JUDGE
    assert ModelSpec(backend="vllm").queue == ModelSpec(backend="vllm").judge_queue == queues.GPU
    from django.conf import settings

    assert settings.CELERY_TASK_ROUTES["annotation.tasks.run_import_job"]["queue"] == queues.IMPORTS


@pytest.mark.django_db(transaction=True)
def test_a_judge_started_after_a_long_generation_does_not_wait_for_it(start_worker, openai_server, researcher, make_user, client):
    FakeOpenAI.reply = staticmethod(slow_generation_quick_judge)
    study = pairwise_study(researcher=researcher, annotators=[make_user("annotator")], prompts=4, baselines=("davinci-003",))
    generation_prompts = prompt_snapshot(user=researcher, n=14, name="long-generation",
                                         prompts=[[f"Long generation prompt {i}?"] for i in range(14)])
    run = runs.create_run(model=openai_model(openai_server, "slow-model"), dataset=generation_prompts, user=researcher, chunk_size=1)
    runs.start_run(run=run)  # 14 chunks of ~1.5 s, queued before the judge
    judge = llm_judge.start_llm_judge(study=study, model=openai_model(openai_server, "judge-model"), template=DEFAULT_TEMPLATE,
                                      user=researcher)
    # One worker, one task at a time, consuming every queue as `make run`'s does; prefork (not solo) so that it
    # answers `celery inspect` while it runs a chunk.
    start_worker(pool="prefork")

    client.force_login(researcher)
    # While the generation runs, the jobs page shows the chunk in hand and the chunks still waiting in their queue.
    page = wait_for(lambda: (lambda html: f"Generation run #{run.pk}: a chunk of 1 prompts" in html and html)(
        client.get(reverse("team:jobs")).content.decode()), timeout=60, what="the jobs page to show the running chunk")
    assert 'data-queue="generation"' in page and "status-running" in page
    # The worker answers inspect within jobs.INSPECT_TIMEOUT (1 s) unless this 2-core machine stalls it: asked again.
    generation_queue = wait_for(lambda: next((queue for queue in jobs.celery_view().queues if queue.name == queues.GENERATION
                                              and any(name.startswith("worker@") for name in queue.consumers)), None),
                                timeout=60, what="the worker to say it consumes the generation queue")
    assert generation_queue.waiting and generation_queue.waiting > 3

    wait_for(lambda: LLMJudgeRun.objects.get(pk=judge.pk).status == "completed", timeout=120, what="the LLM judge")
    done = run.responses.count()
    assert done < run.total - 3, f"the judge finished only after {done} of {run.total} generation chunks"
    runs.cancel_run(run=run)


@pytest.mark.django_db
def test_stuck_jobs_are_flagged_and_the_page_costs_the_same_for_more_jobs(client, researcher, settings):
    settings.LIMA_JOB_STUCK_MINUTES = 10
    dataset = prompt_snapshot(user=researcher, n=2, name="jobs-prompts")
    model = ModelSpec.objects.create(name="tiny", backend="transformers", location=settings.LIMA_MODEL_DIR)
    now = timezone.now()
    stuck = GenerationRun.objects.create(model=model, dataset=dataset, decoding={}, total=2, status=RunStatus.RUNNING,
                                         started_at=now - timedelta(minutes=30))
    fresh = GenerationRun.objects.create(model=model, dataset=dataset, decoding={}, total=2, status=RunStatus.RUNNING,
                                         started_at=now - timedelta(minutes=1))
    ImportJob.objects.create(kind="wikihow", path="a.json", state=ImportJob.State.RUNNING, started_at=now - timedelta(hours=1),
                             heartbeat_at=now - timedelta(minutes=11))
    listed = jobs.app_jobs()
    by_label = {job.label.split(":")[0]: job for job in listed}
    assert by_label[f"Run #{stuck.pk}"].stuck and "no new response" in by_label[f"Run #{stuck.pk}"].note
    assert not by_label[f"Run #{fresh.pk}"].stuck
    assert next(job for job in listed if job.kind == "Import").stuck
    assert not listed[-1].stuck and listed[0].stuck  # stuck first

    client.force_login(researcher)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("team:jobs")).status_code == 200
        return len(captured)

    before = queries()
    for i in range(6):
        GenerationRun.objects.create(model=model, dataset=dataset, decoding={}, total=2, status=RunStatus.RUNNING, started_at=now)
        ImportJob.objects.create(kind="wikihow", path=f"{i}.json", state=ImportJob.State.QUEUED)
    completed_run(dataset=dataset, model_name="imported-one")
    assert queries() == before
    page = client.get(reverse("team:jobs")).content.decode()
    assert page.count("job-stuck") == 2 and "No worker answered" in page


@pytest.mark.django_db
def test_a_judge_chunk_a_worker_holds_links_to_its_study_in_one_query(researcher, make_user, django_assert_num_queries):
    """Celery's inspect names an LLM judge chunk by its judge run's id; the jobs page links it to the run's study (it
    linked nowhere), with one query for every judge chunk on the page, and a run that no longer exists links nowhere."""
    study = pairwise_study(researcher=researcher, annotators=[make_user("annotator")], prompts=2, baselines=("davinci-003",))
    judge = LLMJudgeRun.objects.create(study=study, model=ModelSpec.objects.create(name="judge", backend="transformers"),
                                       judge_user=make_user("annotator", username="judge-user"), template="{prompt}", total=2)
    infos = [{"name": jobs.JUDGE_CHUNK_TASK, "args": [judge.pk, [1, 2]], "delivery_info": {"routing_key": "judge"}},
             {"name": jobs.JUDGE_CHUNK_TASK, "args": [judge.pk, [3]], "delivery_info": {"routing_key": "judge"}},
             {"name": jobs.JUDGE_CHUNK_TASK, "args": [judge.pk + 1000, [4]], "delivery_info": {"routing_key": "judge"}},
             {"name": "generation.tasks.generate_chunk", "args": [7, [1]], "delivery_info": {"routing_key": "generation"}}]
    tasks = [jobs._task("worker@a", "running", info) for info in infos]
    with django_assert_num_queries(1):
        jobs._link_judge_tasks(tasks)
    study_page = reverse("evaluation:study_detail", args=[study.pk])
    assert [task.url for task in tasks] == [study_page, study_page, "", reverse("generation:run_detail", args=[7])]
    assert tasks[0].description == f"LLM judge run #{judge.pk}: a chunk of 2 items"
    with django_assert_num_queries(0):
        jobs._link_judge_tasks(tasks[3:])
