"""The sharded trainer's guarantees: exact resume after a kill or a checkpoint request, and 65B sharded evenly.

Real processes (`python -m training.sft`, `torch.distributed.run` over gloo on CPU) for the
resume tests; the 65B proof builds the real LLaMA-65B configuration on the meta device under
torch's fake process group and wraps it with the trainer's own `shard_model`.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parent.parent
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2"]
# LLaMA-65B as published (config.json of the original release, in Hugging Face's names).
LLAMA_65B = {"vocab_size": 32000, "hidden_size": 8192, "intermediate_size": 22016, "num_hidden_layers": 80,
             "num_attention_heads": 64, "num_key_value_heads": 64, "max_position_embeddings": 2048,
             "rms_norm_eps": 1e-5, "tie_word_embeddings": False}


def _process(pid: int):
    try:
        return psutil.Process(pid)
    except psutil.NoSuchProcess:
        return None


def write_config(directory: Path, model_dir, *, epochs: int, examples: int = 10, **extra) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    data = directory / "data.jsonl"
    data.write_text("".join(
        json.dumps({"conversations": [f"How long should tea number {i} steep?",
                                      f"Steep it for {i + 2} minutes, then serve it with {'milk' if i % 2 else 'lemon'}."]})
        + "\n" for i in range(examples)))
    config = directory / "run.json"
    config.write_text(json.dumps({
        "base_model": str(model_dir), "data": str(data), "output_dir": str(directory / "checkpoints"),
        "precision": "fp32",
        "hyperparameters": {"epochs": epochs, "batch_size": 4, "micro_batch_size": 2, "learning_rate": 1e-3,
                            "final_learning_rate": 1e-4, "residual_dropout_top": 0.3},
        **extra,
    }))
    return config


def trainer_command(config: Path, launcher: list[str]) -> list[str]:
    return [*launcher, "-m", "training.sft", "--config", str(config)]


def records(directory: Path, event: str) -> list[dict]:
    lines = (directory / "checkpoints" / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["event"] == event]


def losses_by_step(directory: Path) -> dict[int, list[float]]:
    found: dict[int, list[float]] = {}
    for record in records(directory, "step"):
        found.setdefault(record["step"], []).append(record["loss_exact"])
    return found


def final_weights(directory: Path, epoch: int) -> dict:
    from safetensors.torch import load_file

    checkpoint = directory / "checkpoints" / f"epoch-{epoch}"
    return {k: v for f in sorted(checkpoint.glob("*.safetensors")) for k, v in load_file(f).items()}


def assert_same_run(straight: Path, resumed: Path, *, epochs: int) -> None:
    import torch

    reference, repeated = losses_by_step(straight), losses_by_step(resumed)
    assert sorted(repeated) == sorted(reference) == list(range(1, len(reference) + 1))
    for step, losses in repeated.items():
        # A step run before the kill and again after the resume gives the same loss both times.
        assert losses == pytest.approx([reference[step][0]] * len(losses), abs=1e-6), step
    expected, got = final_weights(straight, epochs), final_weights(resumed, epochs)
    assert expected.keys() == got.keys()
    for name, tensor in expected.items():
        assert torch.allclose(got[name], tensor, rtol=0, atol=1e-6), name


def test_four_epochs_straight_equal_two_epochs_killed_then_resumed_under_fsdp(tiny_model, tmp_path):
    straight = tmp_path / "straight"
    subprocess.run(trainer_command(write_config(straight, tiny_model, epochs=4), TORCHRUN), cwd=ROOT, check=True,
                   capture_output=True, timeout=600)

    killed = tmp_path / "killed"
    config = write_config(killed, tiny_model, epochs=4)
    job = subprocess.Popen(trainer_command(config, TORCHRUN), cwd=ROOT, start_new_session=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = killed / "checkpoints" / "epoch-2" / "trainer_state.json"
    deadline = time.monotonic() + 300
    while not state.exists() and job.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    # Stopped at once, then killed outright: no chance to finish epoch 3 or to clean up. torchrun
    # starts its workers in sessions of their own, so each process of the tree is signalled.
    tree = [job.pid, *(child.pid for child in psutil.Process(job.pid).children(recursive=True))]
    for sig in (signal.SIGSTOP, signal.SIGKILL):
        for pid in tree:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
    job.wait(30)
    psutil.wait_procs([p for p in map(_process, tree) if p], timeout=30)
    assert state.exists(), "the trainer never completed epoch 2"
    assert not (killed / "checkpoints" / "epoch-4").exists()
    # Stopped after epoch 2 as a rule; on a stalled machine epoch 3 may have completed before the signal landed
    # (the poll sees epoch 2 every 20 ms, an epoch lasts a few hundred): the resume is from the newest complete one.
    newest = max(int(path.parent.name.split("-")[1]) for path in (killed / "checkpoints").glob("epoch-*/trainer_state.json"))
    assert newest in (2, 3), newest

    subprocess.run(trainer_command(config, TORCHRUN), cwd=ROOT, check=True, capture_output=True, timeout=600)
    starts = records(killed, "start")
    assert len(starts) == 2 and starts[1]["resumed_from"].endswith(f"epoch-{newest}"), starts
    assert_same_run(straight, killed, epochs=4)
    # Only the newest complete epoch keeps its resume state; weights only for the last epoch here (5-10 do not exist).
    assert [p.parent.name for p in sorted((killed / "checkpoints").glob("epoch-*/resume"))] == ["epoch-4"]
    assert not list((killed / "checkpoints" / "epoch-2").glob("*.safetensors"))


def test_a_checkpoint_request_mid_epoch_exits_for_requeue_and_resumes_exactly(tiny_model, tmp_path):
    straight = tmp_path / "straight"
    subprocess.run(trainer_command(write_config(straight, tiny_model, epochs=2, examples=12), [sys.executable]), cwd=ROOT,
                   check=True, capture_output=True, timeout=600)

    asked = tmp_path / "asked"
    config = write_config(asked, tiny_model, epochs=2, examples=12)
    job = subprocess.Popen(trainer_command(config, [sys.executable]), cwd=ROOT, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    metrics = asked / "checkpoints" / "metrics.jsonl"
    deadline = time.monotonic() + 300
    while (not metrics.exists() or '"step": 1,' not in metrics.read_text()) and job.poll() is None \
            and time.monotonic() < deadline:
        time.sleep(0.02)
    (asked / "checkpoint-and-requeue").write_text("")  # what the sbatch script's USR1 trap does
    assert job.wait(300) == 75
    interrupted = records(asked, "interrupted")
    assert len(interrupted) == 1 and interrupted[0]["step"] < 6  # 12 examples at batch 4: 3 steps per epoch
    assert not (asked / "checkpoint-and-requeue").exists() and (asked / "requeue-requested").exists()

    subprocess.run(trainer_command(config, [sys.executable]), cwd=ROOT, check=True, capture_output=True, timeout=600)
    # Resumed from the mid-epoch checkpoint; when the request was seen at the last step of epoch 1 (3 steps per epoch),
    # the epoch-1 checkpoint holds the same position and is the one taken (seen once on a loaded machine).
    resumed_from = records(asked, "start")[1]["resumed_from"]
    assert resumed_from.endswith("interrupted") or (interrupted[0]["step"] == 3 and resumed_from.endswith("epoch-1"))
    assert not (asked / "checkpoints" / "interrupted").exists()  # a complete epoch replaces it
    assert_same_run(straight, asked, epochs=2)


@pytest.mark.parametrize("world_size", [16, 32, 64])
def test_llama_65b_shards_evenly_on_the_meta_device_at_16_32_and_64_ranks(world_size):
    import torch
    import torch.distributed as dist
    from accelerate import init_empty_weights
    from torch.testing._internal.distributed.fake_pg import FakeStore
    from transformers import LlamaConfig, LlamaForCausalLM

    from training import sharding

    dist.init_process_group("fake", store=FakeStore(), rank=3, world_size=world_size)
    try:
        with init_empty_weights(include_buffers=False):
            model = LlamaForCausalLM(LlamaConfig(**LLAMA_65B))
        total = sum(p.numel() * p.element_size() for p in model.parameters())
        assert 64e9 < total / 4 < 66e9  # it is the 65B model
        mesh = sharding.device_mesh(device_type="cpu", world_size=world_size)
        sharding.shard_model(model, mesh=mesh, param_dtype=torch.bfloat16)
        per_rank = sharding.local_bytes(model)
        assert per_rank == pytest.approx(total / world_size, rel=0.01)
        assert all(p.device.type == "meta" for p in model.parameters())  # nothing was materialised
    finally:
        dist.destroy_process_group()


def test_two_ranks_read_only_their_rows_and_write_back_the_base_weights(tiny_model, tmp_path):
    """The sharded reader and the consolidating writer are exact inverses; new vocabulary rows get the mean row."""
    import torch
    from safetensors.torch import load_file

    from tests.sharded_roundtrip import GROW

    subprocess.run([*TORCHRUN, "-m", "tests.sharded_roundtrip", str(tiny_model), str(tmp_path / "out")], cwd=ROOT,
                   check=True, capture_output=True, timeout=600)
    base = load_file(Path(tiny_model) / "model.safetensors")
    written = {k: v for f in sorted((tmp_path / "out").glob("*.safetensors")) for k, v in load_file(f).items()}
    assert written.keys() == base.keys()
    for name, tensor in base.items():
        if name in ("model.embed_tokens.weight", "lm_head.weight"):
            assert torch.equal(written[name][:-GROW], tensor), name
            assert torch.allclose(written[name][-GROW:], tensor.double().mean(0).float().expand(GROW, -1)), name
        else:
            assert torch.equal(written[name], tensor), name
