"""Reading a run's files while it trains: metrics JSON lines and the job log's tail (no Django)."""

from __future__ import annotations

import json
from pathlib import Path


def read_metrics(path: Path) -> list[dict]:
    """Every complete metrics record; a line still being written (no newline yet) is left for the next read."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    records = []
    for line in text.split("\n")[:-1]:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def summary(records: list[dict]) -> dict:
    """Where training stands: last step, epoch, loss, learning rate and throughput."""
    steps = [r for r in records if r.get("event") == "step"]
    start = next((r for r in reversed(records) if r.get("event") == "start"), {})
    last = steps[-1] if steps else {}
    total = last.get("total_steps") or start.get("total_steps") or 0
    done = last.get("step", 0)
    return {
        "step": done, "total_steps": total, "percent": round(100 * done / total) if total else 0,
        "epoch": last.get("epoch", 0), "epochs": start.get("epochs"), "loss": last.get("loss"), "lr": last.get("lr"),
        "tokens_per_s": last.get("tokens_per_s"), "checkpoints": [r["epoch"] for r in records if r.get("event") == "checkpoint"],
        "finished": any(r.get("event") == "done" for r in records),
    }


def loss_points(records: list[dict]) -> list[tuple[float, float]]:
    return [(r["epoch"], r["loss"]) for r in records if r.get("event") == "step" and r.get("loss") is not None]


def log_tail(path: Path, *, lines: int = 40, max_bytes: int = 64 * 1024) -> str:
    """The last lines of a job log as a terminal would show them: a progress bar's carriage
    returns keep only the latest state of each line."""
    try:
        with Path(path).open("rb") as log:
            log.seek(0, 2)
            size = log.tell()
            log.seek(max(0, size - max_bytes))
            text = log.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    shown = [line.rstrip("\r").split("\r")[-1] for line in text.rstrip("\n").split("\n")]
    return "\n".join(shown[-lines:])
