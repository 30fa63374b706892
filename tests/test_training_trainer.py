"""The SFT trainer on the tiny model: residual dropout per layer, checkpoints per epoch, resume, FSDP under torchrun.

Real processes throughout: `python -m training.sft` and `torch.distributed.run` on CPU (gloo).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def write_run(tmp_path: Path, model_dir, *, epochs: int, examples: int = 6, **extra) -> Path:
    data = tmp_path / "data.jsonl"
    data.write_text("".join(
        json.dumps({"conversations": [f"How long should tea number {i} steep?", f"Steep it for {i + 2} minutes, then serve."],
                    "source": "authored"}) + "\n"
        for i in range(examples)
    ))
    config = tmp_path / "run.json"
    config.write_text(json.dumps({
        "base_model": str(model_dir), "data": str(data), "output_dir": str(tmp_path / "checkpoints"),
        "hyperparameters": {"epochs": epochs, "batch_size": 4, "micro_batch_size": 2, "learning_rate": 1e-3,
                            "final_learning_rate": 1e-4, "weights_epochs": "all"},
        **extra,
    }))
    return config


def run_trainer(config: Path, *, launcher: list[str] | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run([*(launcher or [sys.executable]), "-m", "training.sft", "--config", str(config)], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def metrics(tmp_path: Path) -> list[dict]:
    return [json.loads(line) for line in (tmp_path / "checkpoints" / "metrics.jsonl").read_text().splitlines()]


def test_residual_dropout_is_zero_at_the_bottom_layer_and_top_rate_at_the_top(tiny_model):
    import torch
    from transformers import AutoModelForCausalLM

    from training.sft import apply_residual_dropout, decoder_layers

    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    assert apply_residual_dropout(model, 0.3) == pytest.approx([0.0, 0.3])
    assert [layer.residual_dropout.p for layer in decoder_layers(model)] == pytest.approx([0.0, 0.3])
    ids = torch.tensor([[1, 20, 30, 40, 50, 60, 70, 80]])
    model.eval()
    with torch.no_grad():
        reference = model(ids, output_hidden_states=True).hidden_states
    model.train()
    torch.manual_seed(0)
    with torch.no_grad():
        dropped = model(ids, output_hidden_states=True).hidden_states
    # hidden_states[1] is the bottom layer's output, [2] the top layer's (before the final norm).
    assert torch.allclose(dropped[1], reference[1]), "the bottom layer must not drop anything"
    assert not torch.allclose(dropped[2], reference[2]), "the top layer's residual branches must be dropped in training"
    applied_twice = apply_residual_dropout(model, 0.2)  # re-applying changes rates, never stacks hooks
    assert applied_twice == pytest.approx([0.0, 0.2])
    assert len(decoder_layers(model)[1].mlp._forward_hooks) == 1


def test_residual_dropout_hooks_every_branch_of_a_deeper_model():
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from training.sft import apply_residual_dropout, decoder_layers

    model = LlamaForCausalLM(LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=4,
                                         num_attention_heads=2, num_key_value_heads=1))
    apply_residual_dropout(model, 0.3)
    seen = []
    for index, layer in enumerate(decoder_layers(model)):
        layer.residual_dropout.register_forward_hook(lambda module, args, out, index=index: seen.append(index))
        assert layer.residual_dropout.p == pytest.approx(0.1 * index)
    model.train()
    model(torch.tensor([[1, 2, 3]]))
    assert seen == [0, 0, 1, 1, 2, 2, 3, 3]  # attention and MLP branch of each layer, bottom to top


def test_two_epochs_write_two_loadable_checkpoints_and_metrics(tiny_model, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tokenization.chat import EOT_TOKEN

    result = run_trainer(write_run(tmp_path, tiny_model, epochs=2))
    assert "sft: 100%" in result.stderr  # the tqdm bar
    records = metrics(tmp_path)
    steps = [r for r in records if r["event"] == "step"]
    assert [r["step"] for r in steps] == [1, 2, 3, 4]  # 6 examples at batch 4: 2 steps per epoch
    assert steps[0]["lr"] == pytest.approx(1e-3) and steps[-1]["lr"] == pytest.approx(1e-4)
    assert all(r["loss"] > 0 and r["tokens_per_s"] > 0 for r in steps)
    assert [r["epoch"] for r in records if r["event"] == "checkpoint"] == [1, 2]
    assert records[0]["residual_dropout"] == pytest.approx([0.0, 0.3]) and records[-1]["event"] == "done"
    for epoch in (1, 2):
        checkpoint = tmp_path / "checkpoints" / f"epoch-{epoch}"
        tokenizer = AutoTokenizer.from_pretrained(checkpoint)
        model = AutoModelForCausalLM.from_pretrained(checkpoint)
        assert tokenizer.convert_tokens_to_ids(EOT_TOKEN) in model.config.eos_token_id
        # Training runs without the KV cache; the checkpoint is for generation, which needs it.
        assert model.config.use_cache and model.generation_config.use_cache
    # Only the newest checkpoint keeps its resume state (weights, optimizer, RNG: what a resume needs).
    assert not (tmp_path / "checkpoints" / "epoch-1" / "resume").exists()
    assert (tmp_path / "checkpoints" / "epoch-2" / "resume" / ".metadata").exists()


def test_a_restarted_job_resumes_after_the_last_checkpoint(tiny_model, tmp_path):
    run_trainer(write_run(tmp_path, tiny_model, epochs=1))
    run_trainer(write_run(tmp_path, tiny_model, epochs=3))
    starts = [r for r in metrics(tmp_path) if r["event"] == "start"]
    assert starts[1]["resumed_from"].endswith("epoch-1")
    steps = [r for r in metrics(tmp_path) if r["event"] == "step"]
    assert [r["step"] for r in steps] == [1, 2, 3, 4, 5, 6]  # epoch 1 is not trained twice
    state = json.loads((tmp_path / "checkpoints" / "epoch-3" / "trainer_state.json").read_text())
    assert (state["epoch"], state["global_step"]) == (3, 6)


def test_fsdp_under_torchrun_shards_across_two_processes(tiny_model, tmp_path):
    """The multi-GPU code path (FSDP full shard, activation checkpointing), here on two CPU processes over gloo."""
    from transformers import AutoModelForCausalLM

    config = write_run(tmp_path, tiny_model, epochs=1, precision="fp32")
    run_trainer(config, launcher=[sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2"])
    start = metrics(tmp_path)[0]
    assert (start["world_size"], start["strategy"], start["activation_checkpointing"]) == (2, "fsdp", True)
    # Sharded resume state (torch.distributed.checkpoint): one file per rank.
    assert len(list((tmp_path / "checkpoints" / "epoch-1" / "resume").glob("*.distcp"))) == 2
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "checkpoints" / "epoch-1")
    base = AutoModelForCausalLM.from_pretrained(tiny_model)
    changed = [name for name, value in model.state_dict().items() if not (value == base.state_dict()[name]).all()]
    assert changed, "training under FSDP must change the saved weights"
