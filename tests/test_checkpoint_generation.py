"""Checkpoints as models for dev-set generation: the backend and queue the researcher picked, the base model's
generation limits, and a blind study over their dev responses opened in one click (lima_site/orchestration)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.urls import reverse

from annotation.evaluation.models import ComparisonItem, Study
from generation.models import GenerationRun, ModelSpec, RunStatus
from tests.builders import tiny_model_spec
from tests.training_support import dev_snapshot, train_snapshot
from tests.workers import purge_broker, wait_for
from training.models import TrainingRun
from training.services import checkpoints, runs
from training.sft import STATE_FILE

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def run_dirs(settings, tmp_path, monkeypatch):
    settings.LIMA_TRAINING_DIR = tmp_path / "training"
    # The workers accept checkpoint directories under the same training root.
    monkeypatch.setenv("LIMA_TRAINING_DIR", str(tmp_path / "training"))


def write_epochs(run: TrainingRun, epochs) -> None:
    """Epoch directories laid out as the trainer leaves them (weights, tokenizer, then the state file last);
    the weights are the base's, which is all registration and generation need."""
    for epoch in epochs:
        directory = Path(run.run_dir) / "checkpoints" / f"epoch-{epoch}"
        shutil.copytree(django_settings.LIMA_MODEL_DIR, directory)
        (directory / STATE_FILE).write_text(json.dumps({"epoch": epoch, "global_step": 3 * epoch}))


def base_with_limits(**fields) -> ModelSpec:
    base = tiny_model_spec(max_new_tokens=12)
    ModelSpec.objects.filter(pk=base.pk).update(top_p=0.8, temperature=0.5, repetition_penalty=1.1, **fields)
    base.refresh_from_db()
    return base


def test_checkpoints_answer_with_the_base_models_generation_limits_on_the_cpu_queue(researcher, tiny_model):
    base = base_with_limits()
    run = runs.create_run(dataset=train_snapshot(user=researcher), base_model=base, user=researcher, launcher="local")
    write_epochs(run, [1, 2])
    registered = checkpoints.register_checkpoints(run=run)
    assert [c.epoch for c in registered] == [1, 2]
    for checkpoint in registered:
        model = checkpoint.model
        assert (model.backend, model.queue) == ("transformers", "generation")  # the CPU generation queue (lima_site/queues.py)
        # Not the registry's 2,048-token default: the base's 12, and its sampling settings.
        assert model.default_decoding() == base.default_decoding() == {"top_p": 0.8, "temperature": 0.5,
                                                                      "repetition_penalty": 1.1, "max_new_tokens": 12}


def test_checkpoints_of_a_vllm_base_go_to_the_gpu_queue_where_gpu_workers_are_configured(researcher, tiny_model, settings):
    import redis

    purge_broker()
    base = base_with_limits(backend="vllm")
    settings.LIMA_GPU_WORKERS = False
    train = train_snapshot(user=researcher)
    with pytest.raises(ValidationError) as refused:
        runs.create_run(dataset=train, base_model=base, user=researcher, launcher="local",
                        checkpoint_backend="vllm")
    assert "no GPU workers" in str(refused.value.message_dict["checkpoint_backend"])
    # Without GPU workers a vLLM base's checkpoints generate with transformers on the CPU queue...
    cpu = runs.create_run(dataset=train, base_model=base, user=researcher, launcher="local", name="cpu")
    assert cpu.checkpoint_backend == "transformers"
    # ... with them, with vLLM on the gpu queue, which is where their dev-set chunks are sent.
    settings.LIMA_GPU_WORKERS = True
    run = runs.create_run(dataset=train, base_model=base, user=researcher,
                          launcher="local", name="gpu")
    write_epochs(run, [5])
    (checkpoint,) = checkpoints.register_checkpoints(run=run)
    assert (checkpoint.model.backend, checkpoint.model.queue, checkpoint.model.max_new_tokens) == ("vllm", "gpu", 12)
    checkpoints.generate_dev_responses(run=run, dataset=dev_snapshot(user=researcher, n=3), epochs=[5], user=researcher)
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    assert broker.llen("gpu") == 1 and broker.llen("generation") == 0 and broker.llen("celery") == 0
    purge_broker()


def test_one_click_opens_a_blind_study_of_one_epochs_dev_responses_against_the_others(client, start_worker, researcher, annotator,
                                                                                    tiny_model):
    run = runs.create_run(dataset=train_snapshot(user=researcher), base_model=base_with_limits(), user=researcher, launcher="local")
    write_epochs(run, [5, 6, 7])
    checkpoints.register_checkpoints(run=run)
    epoch = {c.epoch: c for c in run.checkpoints.all()}
    client.force_login(researcher)
    open_url = reverse("checkpoint_studies:open", args=[run.pk, epoch[6].pk])
    # Nothing to compare yet: a clear refusal, no study.
    response = client.post(open_url, follow=True)
    assert "epoch 6 has no dev responses yet" in response.content.decode() and not Study.objects.exists()

    start_worker()
    dev = dev_snapshot(user=researcher, n=3)
    generations = checkpoints.generate_dev_responses(run=run, dataset=dev, epochs=[5, 6, 7], user=researcher)
    wait_for(lambda: all(GenerationRun.objects.get(pk=g.pk).status == RunStatus.COMPLETED for g in generations),
             what="the dev responses of three checkpoints")
    page = client.get(reverse("training:run_detail", args=[run.pk])).content.decode()
    assert 'id="study-epoch-6"' in page and open_url in page

    response = client.post(open_url)
    study = Study.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("evaluation:study_detail", args=[study.pk])
    epoch = {c.epoch: c for c in run.checkpoints.select_related("dev_run")}
    assert study.state == Study.State.OPEN and study.kind == Study.Kind.PAIRWISE and study.dataset == dev
    assert study.target_run == epoch[6].dev_run
    assert set(study.baseline_runs.all()) == {epoch[5].dev_run, epoch[7].dev_run}
    assert list(study.annotators.all()) == [annotator]
    # One item per prompt and other epoch; what annotators see never names a model or an epoch.
    items = ComparisonItem.objects.filter(study=study)
    assert items.count() == 3 * 2
    assert "epoch" not in study.public_title.lower() and run.name not in study.public_title
    # A second click (or a second researcher) gets the same study, not another.
    assert client.post(open_url)["Location"] == reverse("evaluation:study_detail", args=[study.pk])
    assert Study.objects.count() == 1 and ComparisonItem.objects.filter(study=study).count() == 6
    # Annotators may not open studies.
    client.force_login(annotator)
    assert client.post(open_url).status_code == 403
