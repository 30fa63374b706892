"""The sharded trainer on two GPUs: bf16 compute over fp32 master shards, NCCL, sharded load and save (marked `gpu`).

The same code path the CPU tests drive over gloo, where it matters most: torchrun with two
processes, one per GPU. Deselected where no CUDA device is present.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.test_training_engine import ROOT, assert_same_run, records, trainer_command, write_config

pytestmark = pytest.mark.gpu
TWO_GPUS = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2"]


@pytest.fixture
def two_gpus():
    import torch

    if torch.cuda.device_count() < 2:
        pytest.fail(f"the gpu tests need two CUDA devices, found {torch.cuda.device_count()}")


def test_two_gpus_train_in_bf16_over_nccl_and_write_bf16_weights_that_load(two_gpus, tiny_model, tmp_path):
    import torch
    from safetensors import safe_open
    from transformers import AutoModelForCausalLM

    run = tmp_path / "bf16"
    config = write_config(run, tiny_model, epochs=2, precision="auto")  # auto: bf16 on GPU
    result = subprocess.run(trainer_command(config, TWO_GPUS), cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    start = records(run, "start")[0]
    assert (start["world_size"], start["strategy"], start["bf16"], start["activation_checkpointing"]) == (2, "fsdp", True, True)
    base_bytes = sum(p.numel() * 4 for p in AutoModelForCausalLM.from_pretrained(tiny_model).parameters())
    assert start["parameter_bytes_per_rank"] == pytest.approx(base_bytes / 2, rel=0.02)  # fp32 master shards
    steps = records(run, "step")
    assert all(torch.isfinite(torch.tensor(s["loss"])) for s in steps) and steps[-1]["loss"] < steps[0]["loss"]
    checkpoint = run / "checkpoints" / "epoch-2"
    with safe_open(next(checkpoint.glob("*.safetensors")), framework="pt") as weights:
        assert {weights.get_tensor(name).dtype for name in weights.keys()} == {torch.bfloat16}
    model = AutoModelForCausalLM.from_pretrained(checkpoint, dtype=torch.bfloat16).to("cuda:0")
    assert model(torch.tensor([[1, 20, 30]], device="cuda:0")).logits.isfinite().all()
    assert len(list((checkpoint / "resume").glob("*.distcp"))) == 2


def test_two_gpus_resume_exactly_in_fp32(two_gpus, tiny_model, tmp_path, monkeypatch):
    """fp32 on GPU: a job asked to stop after its first step, then resumed, equals 4 epochs straight."""
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    subprocess.run(trainer_command(write_config(straight, tiny_model, epochs=4), TWO_GPUS), cwd=ROOT, check=True,
                   capture_output=True, timeout=900)
    config = write_config(resumed, tiny_model, epochs=4)
    (resumed / "checkpoint-and-requeue").write_text("")  # the stop request is there before the first step ends
    stopped = subprocess.run(trainer_command(config, TWO_GPUS), cwd=ROOT, capture_output=True, timeout=900)
    assert stopped.returncode != 0 and (resumed / "requeue-requested").exists()
    assert records(resumed, "interrupted")[0]["step"] == 1
    subprocess.run(trainer_command(config, TWO_GPUS), cwd=ROOT, check=True, capture_output=True, timeout=900)
    assert records(resumed, "start")[1]["resumed_from"].endswith("interrupted")
    assert_same_run(straight, resumed, epochs=4)
