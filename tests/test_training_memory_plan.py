"""The memory planner: LLaMA-65B's needs per GPU, the smallest cluster that holds it, and the refusal before submission."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from tests.builders import tiny_model_spec
from tests.test_training_engine import LLAMA_65B
from tests.training_support import train_snapshot
from training import memory_plan, slurm
from training.memory_plan import GIB, Cluster, ModelShape

SHAPE_65B = ModelShape.from_config(LLAMA_65B)
# LLaMA-7B as published.
SHAPE_7B = ModelShape.from_config({"vocab_size": 32000, "hidden_size": 4096, "intermediate_size": 11008,
                                   "num_hidden_layers": 32, "num_attention_heads": 32})


def meta_parameters(config: dict) -> int:
    from accelerate import init_empty_weights
    from transformers import LlamaConfig, LlamaForCausalLM

    with init_empty_weights():
        model = LlamaForCausalLM(LlamaConfig(**config))
    return sum(p.numel() for p in model.parameters())


def test_the_planner_counts_the_parameters_transformers_builds():
    assert SHAPE_65B.parameters == meta_parameters(LLAMA_65B)
    grouped = {**LLAMA_65B, "num_key_value_heads": 8, "num_hidden_layers": 4}  # grouped-query attention, as LLaMA-2 70B
    assert ModelShape.from_config(grouped).parameters == meta_parameters(grouped)


def test_lima_65b_with_adamw_needs_more_than_one_node_of_eight_80gb_gpus():
    one_node = memory_plan.plan(SHAPE_65B, Cluster(1, 8))
    assert not one_node.fits and one_node.per_process_total > 80 * GIB
    # fp32 weights, gradients and AdamW's two moments: 16 bytes per parameter over 8 GPUs.
    assert one_node.per_process["optimizer"] == pytest.approx(SHAPE_65B.parameters * 8 / 8, rel=1e-6)
    assert memory_plan.smallest_fitting_nodes(SHAPE_65B, Cluster(1, 8)) == 2
    assert memory_plan.plan(SHAPE_65B, Cluster(2, 8)).fits
    message = memory_plan.refusal(SHAPE_65B, Cluster(1, 8))
    assert "65.3B-parameter model" in message and "the smallest cluster that fits is 2 nodes × 8 GPUs" in message
    assert memory_plan.refusal(SHAPE_65B, Cluster(4, 8)) == ""


def test_sharded_state_shrinks_with_the_world_and_hsdp_shards_within_a_node_only():
    four, eight = memory_plan.plan(SHAPE_65B, Cluster(4, 8)), memory_plan.plan(SHAPE_65B, Cluster(8, 8))
    for name in ("parameters", "gradients", "optimizer"):
        assert four.per_process[name] == pytest.approx(2 * eight.per_process[name], rel=1e-6)
    assert four.per_process["activations"] == eight.per_process["activations"]
    hybrid = memory_plan.plan(SHAPE_7B, Cluster(4, 8), hsdp=True)
    assert hybrid.shard_over == 8 and hybrid.per_process["parameters"] == memory_plan.plan(SHAPE_7B, Cluster(1, 8)).per_process["parameters"]
    assert memory_plan.refusal(SHAPE_65B, Cluster(4, 8), hsdp=True).endswith("no cluster of up to 512 such nodes fits it")


def test_activation_checkpointing_and_the_micro_batch_move_only_the_activations():
    kept = memory_plan.plan(SHAPE_7B, Cluster(1, 8), activation_checkpointing=False)
    checkpointed = memory_plan.plan(SHAPE_7B, Cluster(1, 8))
    assert kept.per_process["activations"] > 5 * checkpointed.per_process["activations"]
    doubled = memory_plan.plan(SHAPE_7B, Cluster(1, 8), micro_batch=2)
    assert doubled.per_process["activations"] == 2 * checkpointed.per_process["activations"]
    assert doubled.per_process["optimizer"] == checkpointed.per_process["optimizer"]


def test_a_config_without_a_needed_field_is_named():
    with pytest.raises(ValueError, match="no intermediate_size"):
        ModelShape.from_config({k: v for k, v in LLAMA_65B.items() if k != "intermediate_size"})


@pytest.fixture
def llama_65b_spec(tiny_model, settings):
    """A registered base model with LLaMA-65B's config (and the tiny tokenizer): planning reads no weights."""
    directory = Path(settings.LIMA_MODEL_DIR).parent / "llama-65b-config"
    shutil.rmtree(directory, ignore_errors=True)
    shutil.copytree(tiny_model, directory)
    config = json.loads((directory / "config.json").read_text())
    (directory / "config.json").write_text(json.dumps({**config, **LLAMA_65B}))
    return tiny_model_spec(name="llama-65b", location=str(directory))


def test_a_run_that_cannot_fit_is_refused_naming_the_smallest_cluster(client, researcher, llama_65b_spec):
    from training.models import TrainingRun
    from training.services import runs

    dataset = train_snapshot(user=researcher)
    with pytest.raises(ValidationError) as refused:
        runs.create_run(dataset=dataset, base_model=llama_65b_spec, user=researcher, name="too-small", launcher="slurm",
                        resources=slurm.Resources(nodes=1, gpus_per_node=8))
    assert "the smallest cluster that fits is 2 nodes × 8 GPUs" in refused.value.message_dict["nodes"][0]
    assert not TrainingRun.objects.filter(name="too-small").exists()

    run = runs.create_run(dataset=dataset, base_model=llama_65b_spec, user=researcher, name="lima-65b", launcher="slurm",
                          resources=slurm.Resources(nodes=4, gpus_per_node=8, time_limit="2-00:00:00"))
    client.force_login(researcher)
    page = client.get(reverse("training:run_detail", args=[run.pk])).content.decode()
    assert 'id="memory-plan"' in page and "65.286B parameters on 32 GPUs" in page
    assert "Fits." in page and "The smallest cluster of these nodes that fits: 2 nodes × 8 GPUs." in page


def test_the_form_shows_the_refusal_on_the_nodes_field(client, researcher, llama_65b_spec):
    dataset = train_snapshot(user=researcher)
    client.force_login(researcher)
    form = {"dataset": dataset.pk, "base_model": llama_65b_spec.pk, "name": "form-65b", "epochs": 15, "batch_size": 32,
            "micro_batch_size": 1, "learning_rate": 1e-5, "final_learning_rate": 1e-6, "adam_beta1": 0.9,
            "adam_beta2": 0.95, "weight_decay": 0.1, "max_length": 2048, "residual_dropout_top": 0.3, "seed": 0,
            "weights_epochs": "5-10", "launcher": "slurm", "nodes": 1, "gpus_per_node": 8, "cpus_per_task": 8,
            "partition": "", "account": "", "qos": "", "time_limit": ""}
    response = client.post(reverse("training:run_create"), form)
    assert response.status_code == 422
    assert "the smallest cluster that fits is 2 nodes × 8 GPUs" in response.content.decode()
    bad = client.post(reverse("training:run_create"), {**form, "weights_epochs": "ten"})
    assert bad.status_code == 422 and "is not an epoch or a range" in bad.content.decode()


def test_only_epochs_with_weights_become_models(researcher, tiny_model, settings, tmp_path, caplog):
    """A resume-only epoch (no Hugging Face weights) is skipped quietly, not tried and refused; an epoch with weights
    is registered."""
    from training.services import checkpoints, runs
    from training.sft import STATE_FILE

    settings.LIMA_TRAINING_DIR = tmp_path / "training"
    run = runs.create_run(dataset=train_snapshot(user=researcher), base_model=tiny_model_spec(), user=researcher,
                          name="weights-5-10", hyperparameters={"epochs": 6})
    for epoch, weights in ((4, False), (5, True)):
        directory = Path(run.run_dir) / "checkpoints" / f"epoch-{epoch}"
        if weights:
            shutil.copytree(tiny_model, directory)
        else:
            (directory / "resume").mkdir(parents=True)
        (directory / STATE_FILE).write_text(json.dumps({"epoch": epoch, "global_step": epoch, "weights": weights}))
    with caplog.at_level("WARNING", logger="training.services.checkpoints"):
        assert [c.epoch for c in checkpoints.register_checkpoints(run=run)] == [5]
    assert not [r for r in caplog.records if "not registered" in r.getMessage()]
