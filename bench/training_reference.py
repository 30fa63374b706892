"""The trainers bench_training compares, each run in its own fresh process (no Django).

`python -m bench.training_reference ours run.json` runs training.sft in one process;
`torchrun ... -m bench.training_reference ranks run.json` runs it on every rank of a torchrun job;
`... trl run.json` runs TRL's SFTTrainer on the same model, data and batch settings. Each process
reports tokens trained, training-loop seconds and its resident memory: before the model is built,
its peak once the model is loaded (setup), and its peak over the whole run (VmHWM). `ours` and
`ranks` import `training.sft` from wherever Python finds it first, so the bench can run an older
trainer (a `git archive` of an earlier commit as the working directory) against the same data.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb() -> float:
    return _status_mb("VmHWM")


def run_ours(config_path: str) -> dict:
    # Code is imported before the baseline: the growth measured after it is the model's, not the libraries'.
    import torch  # noqa: F401
    import transformers.models.llama.modeling_llama  # noqa: F401

    from training.sft import Trainer, TrainConfig

    try:
        import accelerate  # noqa: F401  (the new trainer's runtime; the old one did not use it)
    except ImportError:
        pass

    config = TrainConfig.load(config_path)
    baseline = _status_mb("VmRSS")
    trainer = Trainer(config)
    trainer.setup()
    after_load = peak_rss_mb()
    before_checkpoint: list[float] = []
    save = trainer.save_checkpoint

    def save_and_note(*args, **kwargs):
        # The training step's peak, before a checkpoint's own buffers add theirs.
        before_checkpoint.append(peak_rss_mb())
        return save(*args, **kwargs)

    trainer.save_checkpoint = save_and_note
    started = time.perf_counter()
    trainer.train()
    wall = time.perf_counter() - started
    records = [json.loads(line) for line in Path(config.metrics).read_text().splitlines()]
    steps = [r for r in records if r["event"] == "step"]
    checkpoints = [r for r in records if r["event"] == "checkpoint"]
    return {"tokens": sum(r["tokens"] for r in steps), "loop_seconds": sum(r["seconds"] for r in steps),
            "wall_seconds_with_checkpoints": wall, "final_loss": steps[-1]["loss"],
            "baseline_rss_mb": round(baseline, 1), "peak_rss_after_load_mb": round(after_load, 1),
            "peak_rss_before_checkpoint_mb": round(before_checkpoint[0], 1) if before_checkpoint else None,
            "checkpoints": [{k: r.get(k) for k in ("epoch", "resume_bytes", "weights_bytes")} for r in checkpoints],
            "rank": int(os.environ.get("RANK", "0"))}


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
        max_length=hp["max_length"], gradient_checkpointing=bool(config.get("activation_checkpointing")),
        save_strategy="no", logging_steps=1, dataloader_num_workers=0, seed=hp["seed"], completion_only_loss=True,
    )
    trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tokenizer)
    tokens_per_epoch = sum(len(ids) for ids in trainer.train_dataset["input_ids"])
    started = time.perf_counter()
    result = trainer.train()
    loop = time.perf_counter() - started
    return {"tokens": tokens_per_epoch * hp["epochs"], "loop_seconds": loop, "final_loss": result.training_loss}


if __name__ == "__main__":
    which, path = sys.argv[1], sys.argv[2]
    figures = (run_trl if which == "trl" else run_ours)(path)
    figures["peak_rss_mb"] = round(peak_rss_mb(), 1)
    line = "BENCH " + json.dumps(figures)
    if which == "ranks":
        out = Path(json.loads(Path(path).read_text())["output_dir"]) / f"bench-rank-{figures['rank']}.json"
        out.write_text(json.dumps(figures))
    print(line, flush=True)
