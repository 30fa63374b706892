"""LIMA's fine-tuning recipe as data and pure schedules (no Django, no torch).

The paper (section 2, "Training recipe"): 15 epochs, AdamW (0.9, 0.95, weight decay 0.1), no
warm-up, learning rate 1e-5 decaying linearly to 1e-6, batch 32 examples (64 for the 7B model),
texts over 2,048 tokens trimmed, residual dropout from 0.0 at the bottom layer to 0.3 at the top
(0.2 for smaller models). These are defaults a researcher can change, never hard limits.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace


def parse_epoch_set(text: str) -> frozenset[int] | None:
    """Epochs written as "5-10", "1,3,5-7" or "all" (None: every epoch)."""
    if not isinstance(text, str):
        raise ValueError('epochs such as "5-10", "2,4,6-8" or "all"')
    cleaned = text.replace(" ", "").lower()
    if cleaned == "all":
        return None
    chosen: set[int] = set()
    for part in cleaned.split(","):
        if not part:
            continue
        low, dash, high = part.partition("-")
        if not low.isdigit() or (dash and not high.isdigit()):
            raise ValueError(f'{part!r} is not an epoch or a range; write e.g. "5-10", "2,4,6-8" or "all"')
        first, last = int(low), int(high) if dash else int(low)
        if first < 1 or last < first:
            raise ValueError(f"{part!r}: epochs count from 1 and a range goes upwards")
        chosen.update(range(first, last + 1))
    return frozenset(chosen)


@dataclass(frozen=True)
class Hyperparameters:
    epochs: int = 15
    batch_size: int = 32
    micro_batch_size: int = 1
    learning_rate: float = 1e-5
    final_learning_rate: float = 1e-6
    adam_beta1: float = 0.9
    adam_beta2: float = 0.95
    weight_decay: float = 0.1
    max_length: int = 2048
    residual_dropout_top: float = 0.3
    seed: int = 0
    # Epochs whose weights are written as Hugging Face safetensors (for dev generation and vLLM): the
    # paper compares epochs 5-10 by hand. The last epoch always gets them; every epoch keeps a sharded
    # resume checkpoint until the next one is complete.
    weights_epochs: str = "5-10"

    def __post_init__(self):
        problems = self.problems()
        if problems:
            raise ValueError("; ".join(f"{name}: {message}" for name, message in problems.items()))

    def problems(self) -> dict[str, str]:
        found = {}
        for name in ("epochs", "batch_size", "micro_batch_size", "max_length"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                found[name] = "a whole number of at least 1"
        if self.micro_batch_size > self.batch_size:
            found["micro_batch_size"] = "cannot exceed the batch size"
        if not 0 < self.learning_rate <= 1:
            found["learning_rate"] = "between 0 and 1"
        if not 0 <= self.final_learning_rate <= self.learning_rate:
            found["final_learning_rate"] = "between 0 and the peak learning rate"
        for name in ("adam_beta1", "adam_beta2"):
            if not 0 <= getattr(self, name) < 1:
                found[name] = "in [0, 1)"
        if self.weight_decay < 0:
            found["weight_decay"] = "not negative"
        if not 0 <= self.residual_dropout_top < 1:
            found["residual_dropout_top"] = "in [0, 1)"
        try:
            parse_epoch_set(self.weights_epochs)
        except ValueError as exc:
            found["weights_epochs"] = str(exc)
        return found

    @classmethod
    def from_dict(cls, values: dict) -> "Hyperparameters":
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown hyper-parameters: {', '.join(sorted(unknown))}")
        return cls(**values)

    def as_dict(self) -> dict:
        return asdict(self)


LIMA_65B = Hyperparameters()
# The paper's ablations on 7B: batch 64 and top residual dropout 0.2.
LIMA_7B = replace(LIMA_65B, batch_size=64, residual_dropout_top=0.2)
PRESETS = {"lima-65b": LIMA_65B, "lima-7b": LIMA_7B}


def weights_epochs(text: str, *, epochs: int) -> list[int]:
    """The epochs whose Hugging Face weights are written: the chosen ones that exist, and always the last."""
    chosen = parse_epoch_set(text)
    picked = set(range(1, epochs + 1)) if chosen is None else {e for e in chosen if e <= epochs}
    return sorted(picked | {epochs})


def learning_rate_at(step: int, *, total_steps: int, peak: float, final: float) -> float:
    """Linear decay from `peak` at the first optimiser step to `final` at the last; no warm-up."""
    if total_steps <= 1:
        return peak
    step = min(max(step, 0), total_steps - 1)
    return peak + (final - peak) * step / (total_steps - 1)


def residual_dropout_rates(num_layers: int, top: float) -> list[float]:
    """One rate per decoder layer, 0.0 at the bottom rising linearly to `top` at the top.

    A one-layer model is its own top layer, so it gets `top`.
    """
    if num_layers < 1:
        return []
    if num_layers == 1:
        return [top]
    return [top * index / (num_layers - 1) for index in range(num_layers)]


def accumulation_steps(*, batch_size: int, micro_batch_size: int, world_size: int) -> int:
    """Micro-batches each process runs per optimiser step so the global batch is `batch_size` examples."""
    return max(1, math.ceil(batch_size / (micro_batch_size * max(1, world_size))))


def steps_per_epoch(*, examples: int, batch_size: int) -> int:
    return max(1, math.ceil(examples / batch_size))
