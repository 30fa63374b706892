"""The two trainers bench_training compares, each run in its own fresh process (no Django).

`python -m bench.training_reference ours run.json` runs training.sft; `... trl run.json` runs TRL's
SFTTrainer on the same model, data and batch settings. Each prints one JSON line: tokens trained,
training-loop seconds and the process's peak resident memory (VmHWM).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_ours(config_path: str) -> dict:
    from training.sft import Trainer, TrainConfig

    config = TrainConfig.load(config_path)
    trainer = Trainer(config)
    trainer.setup()
    started = time.perf_counter()
    trainer.train()
    wall = time.perf_counter() - started
    steps = [json.loads(line) for line in Path(config.metrics).read_text().splitlines()]
    steps = [r for r in steps if r["event"] == "step"]
    return {"tokens": sum(r["tokens"] for r in steps), "loop_seconds": sum(r["seconds"] for r in steps),
            "wall_seconds_with_checkpoints": wall, "final_loss": steps[-1]["loss"]}


def run_trl(config_path: str) -> dict:
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    config = json.loads(Path(config_path).read_text())
    hp = config["hyperparameters"]
    tokenizer = AutoTokenizer.from_pretrained(config["base_model"])
    model = AutoModelForCausalLM.from_pretrained(config["base_model"])
    rows = []
    for line in Path(config["data"]).read_text().splitlines():
        user, assistant = json.loads(line)["conversations"][:2]
        rows.append({"prompt": [{"role": "user", "content": user}], "completion": [{"role": "assistant", "content": assistant}]})
    args = SFTConfig(
        output_dir=str(Path(config["output_dir"]) / "trl"), use_cpu=True, bf16=False, report_to=[],
        num_train_epochs=hp["epochs"], per_device_train_batch_size=hp["micro_batch_size"],
        gradient_accumulation_steps=hp["batch_size"] // hp["micro_batch_size"], learning_rate=hp["learning_rate"],
        adam_beta1=0.9, adam_beta2=0.95, weight_decay=0.1, warmup_steps=0, lr_scheduler_type="linear",
        max_length=hp["max_length"], gradient_checkpointing=False, save_strategy="no", logging_steps=1,
        dataloader_num_workers=0, seed=hp["seed"], completion_only_loss=True,
    )
    trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tokenizer)
    tokens_per_epoch = sum(len(ids) for ids in trainer.train_dataset["input_ids"])
    started = time.perf_counter()
    result = trainer.train()
    loop = time.perf_counter() - started
    return {"tokens": tokens_per_epoch * hp["epochs"], "loop_seconds": loop, "final_loss": result.training_loss}


if __name__ == "__main__":
    which, path = sys.argv[1], sys.argv[2]
    figures = (run_ours if which == "ours" else run_trl)(path)
    figures["peak_rss_mb"] = round(peak_rss_mb(), 1)
    print("BENCH " + json.dumps(figures), flush=True)
