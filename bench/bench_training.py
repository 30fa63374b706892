"""Tokens per second of training.sft vs TRL's SFTTrainer on the same tiny model, data and batch settings.

Both train the tiny LLaMA (built as `make run` builds it) for 3 epochs over 64 single-turn
examples, batch 32 as 4 micro-batches of 8, loss on the responses only, fp32 on CPU, each in a
fresh subprocess so their peak memory (VmHWM) is their own. Throughput counts the tokens of the
examples trained over the training loop's time (our per-step times; TRL's train() wall time);
our epoch checkpoints are reported separately (TRL saves none here).
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORDS = ("tea leaves water steep minutes temperature flavour black green oolong kettle boil cup pot aroma bitter "
         "sweet milk sugar lemon honey morning afternoon brew strength colour").split()


def write_data(path: Path, examples: int = 64, seed: int = 0) -> None:
    rng = random.Random(seed)
    with path.open("w") as out:
        for i in range(examples):
            prompt = f"Question {i}: how should I prepare {' '.join(rng.choices(WORDS, k=8))}?"
            response = " ".join(rng.choices(WORDS, k=rng.randint(120, 400))) + "."
            out.write(json.dumps({"conversations": [prompt, response], "source": "authored"}) + "\n")


def run_in_fresh_process(which: str, config: Path) -> dict:
    result = subprocess.run([sys.executable, "-m", "bench.training_reference", which, str(config)], cwd=ROOT,
                            capture_output=True, text=True, timeout=1800)
    if result.returncode != 0:
        raise RuntimeError(f"{which} trainer failed: {result.stderr[-3000:]}")
    line = next(line for line in result.stdout.splitlines() if line.startswith("BENCH "))
    return json.loads(line.removeprefix("BENCH "))


def run() -> dict:
    from django.conf import settings
    from django.core.management import call_command

    call_command("build_tiny_model", verbosity=0)
    with tempfile.TemporaryDirectory(prefix="bench-training-") as tmp:
        tmp_path = Path(tmp)
        write_data(tmp_path / "data.jsonl")
        hyperparameters = {"epochs": 3, "batch_size": 32, "micro_batch_size": 8, "learning_rate": 1e-5,
                           "final_learning_rate": 1e-6, "max_length": 2048, "seed": 0}
        figures = {}
        for which in ("ours", "trl"):
            config = tmp_path / f"{which}.json"
            config.write_text(json.dumps({"base_model": str(settings.LIMA_MODEL_DIR), "data": str(tmp_path / "data.jsonl"),
                                          "output_dir": str(tmp_path / which), "hyperparameters": hyperparameters,
                                          "precision": "fp32"}))
            figures[which] = run_in_fresh_process(which, config)
            figures[which]["tokens_per_s"] = round(figures[which]["tokens"] / figures[which]["loop_seconds"], 1)
    ours, trl = figures["ours"], figures["trl"]
    return {
        "setup": "tiny LLaMA, 64 examples, 3 epochs, batch 32 = 4 x 8 micro-batches, fp32 CPU, responses-only loss",
        "ours_tokens_per_s": ours["tokens_per_s"], "trl_tokens_per_s": trl["tokens_per_s"],
        "ratio_ours_over_trl": round(ours["tokens_per_s"] / trl["tokens_per_s"], 2),
        "ours_peak_rss_mb": ours["peak_rss_mb"], "trl_peak_rss_mb": trl["peak_rss_mb"],
        "ours_tokens": ours["tokens"], "trl_tokens": trl["tokens"],
        "ours_wall_seconds_with_epoch_checkpoints": round(ours["wall_seconds_with_checkpoints"], 2),
        "ours_final_loss": ours["final_loss"], "trl_final_loss": round(trl["final_loss"], 4),
    }
