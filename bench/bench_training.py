"""The sharded trainer on CPU: memory per rank, the memory plan against measurement, tokens/s beside TRL.

Three measurements, each trainer in a fresh process so its peak memory (VmHWM) is its own:

1. Memory plan vs measured: one process, fp32, activation checkpointing, every sequence exactly
   `SEQ` tokens, on two random LLaMA sizes; the plan's per-process total against the growth of
   resident memory from before the model is built (code imported) to the run's peak.
2. Two ranks over gloo on a random LLaMA of ~1B parameters (LIMA_BENCH_TRAINING_SIZE: 0.3B,
   40M, 8M where the machine is short): each rank's peak RSS once the model is loaded and over
   the whole run, against the full fp32 model's bytes; checkpoint bytes written per epoch. With LIMA_BENCH_BEFORE_COMMIT=<commit>, the same run with that commit's
   trainer (`git archive`), for a before/after.
3. Tokens/s of our trainer (one process and two ranks) beside TRL's SFTTrainer (one process) on
   the same model, data and batch settings.

`python -m bench training`; results in bench/results/training.json.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORDS = ("tea leaves water steep minutes temperature flavour black green oolong kettle boil cup pot aroma bitter "
         "sweet milk sugar lemon honey morning afternoon brew strength colour").split()
SEQ = 128
SIZES = {  # name -> LLaMA dimensions (vocabulary: the project tokenizer's)
    "8M": {"hidden_size": 256, "intermediate_size": 688, "num_hidden_layers": 8, "num_attention_heads": 4},
    "40M": {"hidden_size": 512, "intermediate_size": 1408, "num_hidden_layers": 12, "num_attention_heads": 8},
    "120M": {"hidden_size": 768, "intermediate_size": 2048, "num_hidden_layers": 16, "num_attention_heads": 12},
    "0.3B": {"hidden_size": 1024, "intermediate_size": 2816, "num_hidden_layers": 24, "num_attention_heads": 16},
    "1B": {"hidden_size": 2048, "intermediate_size": 5504, "num_hidden_layers": 18, "num_attention_heads": 16},
}
# The two-rank run's model: ~1B as the issue asks; LIMA_BENCH_TRAINING_SIZE picks a smaller one where the
# machine's memory or CPU time is short (the development machine's 2 cores are shared by several sessions).
TWO_RANK_SIZE = os.environ.get("LIMA_BENCH_TRAINING_SIZE", "1B")
PLAN_SIZES = ("8M", "40M")
# Which measurements to run: plan, ranks, speed (all by default).
PARTS = set(os.environ.get("LIMA_BENCH_TRAINING_PARTS", "plan,ranks,speed").split(","))
MB = 1024 ** 2


def write_data(path: Path, examples: int, seed: int = 0) -> None:
    """Responses long enough that every example is trimmed to exactly SEQ tokens."""
    rng = random.Random(seed)
    with path.open("w") as out:
        for i in range(examples):
            prompt = f"Question {i}: how should I prepare {' '.join(rng.choices(WORDS, k=8))}?"
            response = " ".join(rng.choices(WORDS, k=400)) + "."
            out.write(json.dumps({"conversations": [prompt, response], "source": "authored"}) + "\n")


def build_random_llama(directory: Path, tokenizer_dir: Path, dims: dict) -> int:
    """A random-weight LLaMA saved as fp32 safetensors with the project tokenizer; returns its fp32 bytes."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    base = json.loads((tokenizer_dir / "config.json").read_text())
    config = LlamaConfig(vocab_size=len(tokenizer), max_position_embeddings=4096, bos_token_id=base["bos_token_id"],
                         eos_token_id=base["eos_token_id"], pad_token_id=base["pad_token_id"], **dims)
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    nbytes = sum(p.numel() * 4 for p in model.parameters())
    del model
    return nbytes


def run_process(argv: list[str], *, cwd: Path = ROOT, env: dict | None = None) -> str:
    result = subprocess.run(["nice", "-n", "5", *argv], cwd=cwd, capture_output=True, text=True, timeout=3600,
                            env={**os.environ, **(env or {})})
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {result.stderr[-3000:]}")
    return result.stdout


def bench_line(stdout: str) -> dict:
    return json.loads(next(line for line in stdout.splitlines() if line.startswith("BENCH ")).removeprefix("BENCH "))


def write_config(path: Path, *, model: Path, data: Path, output: Path, epochs: int = 1, **extra) -> Path:
    path.write_text(json.dumps({
        "base_model": str(model), "data": str(data), "output_dir": str(output), "precision": "fp32",
        "activation_checkpointing": True,
        "hyperparameters": {"epochs": epochs, "batch_size": 4, "micro_batch_size": 2, "learning_rate": 1e-5,
                            "final_learning_rate": 1e-6, "max_length": SEQ, "seed": 0},
        **extra,
    }))
    return path


def trainer_tree(commit: str, into: Path) -> Path:
    """The trainer as it was at `commit` (training/ and tokenization/ only), for a before/after."""
    archive = into / "tree.tar"
    subprocess.run(["git", "archive", "-o", str(archive), commit, "training", "tokenization"], cwd=ROOT, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into / "tree", filter="data")
    return into / "tree"


def two_ranks(config: Path, output: Path, *, cwd: Path = ROOT) -> list[dict]:
    env = {"PYTHONPATH": str(ROOT)} if cwd != ROOT else {}
    run_process([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
                 "-m", "bench.training_reference", "ranks", str(config)], cwd=cwd, env=env)
    return [json.loads((output / f"bench-rank-{rank}.json").read_text()) for rank in (0, 1)]


def run() -> dict:
    from django.conf import settings
    from django.core.management import call_command

    from training import memory_plan

    call_command("build_tiny_model", verbosity=0)
    tokenizer_dir = Path(settings.LIMA_MODEL_DIR)
    results: dict = {"setup": f"random LLaMA configs, project tokenizer, fp32 on CPU, sequences trimmed to {SEQ} tokens, "
                              "batch 4 = 2 micro-batches of 2, activation checkpointing, AdamW"}
    with tempfile.TemporaryDirectory(prefix="bench-training-") as tmp:
        tmp_path = Path(tmp)
        data = tmp_path / "data.jsonl"
        # Four examples at batch 4: one optimiser step, the peak of a run (AdamW's state exists from it on).
        write_data(data, examples=4)

        # 1. The memory plan against measured peak memory, one process, two sizes.
        plan_rows = []
        for name in PLAN_SIZES if "plan" in PARTS else ():
            model = tmp_path / name
            build_random_llama(model, tokenizer_dir, SIZES[name])
            config = write_config(tmp_path / f"plan-{name}.json", model=model, data=data, output=tmp_path / f"plan-{name}-out")
            measured = bench_line(run_process([sys.executable, "-m", "bench.training_reference", "ours", str(config)]))
            shape = memory_plan.ModelShape.from_config(json.loads((model / "config.json").read_text()))
            estimate = memory_plan.plan(shape, memory_plan.Cluster(1, 0), micro_batch=2, seq_len=SEQ,
                                        activation_checkpointing=True)
            grown = (measured["peak_rss_mb"] - measured["baseline_rss_mb"]) * MB
            plan_rows.append({"model": name, "parameters": shape.parameters,
                              "planned_mb": round(estimate.per_process_total / MB, 1),
                              "measured_growth_mb": round(grown / MB, 1),
                              "planned_over_measured": round(estimate.per_process_total / grown, 3)})
            shutil.rmtree(model)
        if plan_rows:
            results["memory_plan_vs_measured"] = plan_rows

        # 2. and 3. Two ranks (after, and before when asked), one process, TRL.
        model = tmp_path / TWO_RANK_SIZE
        full_bytes = build_random_llama(model, tokenizer_dir, SIZES[TWO_RANK_SIZE])
        results["two_rank_model"] = {"size": TWO_RANK_SIZE, "parameters": full_bytes // 4,
                                     "fp32_mb": round(full_bytes / MB, 1)}
        after = two_ranks(write_config(tmp_path / "ranks.json", model=model, data=data, output=tmp_path / "ranks-out"),
                          tmp_path / "ranks-out")
        results["two_ranks_after"] = _rank_figures(after, full_bytes)
        results["checkpoint_bytes_per_epoch"] = after[0]["checkpoints"]
        before_commit = os.environ.get("LIMA_BENCH_BEFORE_COMMIT", "")
        if before_commit and "ranks" in PARTS:
            tree = trainer_tree(before_commit, tmp_path)
            before_config = write_config(tmp_path / "before.json", model=model, data=data, output=tmp_path / "before-out",
                                         strategy="fsdp")
            before = two_ranks(before_config, tmp_path / "before-out", cwd=tree)
            results["two_ranks_before"] = {"commit": before_commit, **_rank_figures(before, full_bytes)}
        if "speed" not in PARTS:
            return results
        single = bench_line(run_process([sys.executable, "-m", "bench.training_reference", "ours",
                                         str(write_config(tmp_path / "one.json", model=model, data=data,
                                                          output=tmp_path / "one-out"))]))
        trl = bench_line(run_process([sys.executable, "-m", "bench.training_reference", "trl",
                                      str(write_config(tmp_path / "trl.json", model=model, data=data,
                                                       output=tmp_path / "trl-out"))]))
        results["tokens_per_s"] = {
            "ours_one_process": round(single["tokens"] / single["loop_seconds"], 1),
            "ours_two_ranks": round(after[0]["tokens"] / after[0]["loop_seconds"], 1),
            "trl_one_process": round(trl["tokens"] / trl["loop_seconds"], 1),
            "ours_tokens": single["tokens"], "trl_tokens": trl["tokens"],
            "ours_final_loss": single["final_loss"], "trl_final_loss": round(trl["final_loss"], 4),
            "ours_one_process_peak_rss_mb": single["peak_rss_mb"], "trl_peak_rss_mb": trl["peak_rss_mb"],
        }
    return results


def _rank_figures(ranks: list[dict], full_bytes: int) -> dict:
    return {
        "peak_rss_after_load_mb": [r["peak_rss_after_load_mb"] for r in ranks],
        "peak_rss_before_checkpoint_mb": [r["peak_rss_before_checkpoint_mb"] for r in ranks],
        "peak_rss_mb": [r["peak_rss_mb"] for r in ranks],
        "baseline_rss_mb": [r["baseline_rss_mb"] for r in ranks],
        "after_load_over_fp32_model": [round(r["peak_rss_after_load_mb"] * MB / full_bytes, 2) for r in ranks],
        # Growth over the process's own baseline (Python, torch, transformers imported), over the model's bytes.
        "load_growth_over_fp32_model": [round((r["peak_rss_after_load_mb"] - r["baseline_rss_mb"]) * MB / full_bytes, 2)
                                        for r in ranks],
        "step_growth_over_fp32_model": [round((r["peak_rss_before_checkpoint_mb"] - r["baseline_rss_mb"]) * MB / full_bytes, 2)
                                        for r in ranks],
        "peak_over_fp32_model": [round(r["peak_rss_mb"] * MB / full_bytes, 2) for r in ranks],
    }
