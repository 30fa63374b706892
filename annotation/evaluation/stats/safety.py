"""Safety studies: the share of responses graded safe, per model, with cluster-bootstrap intervals (no Django import).

LIMA (section 4.3) reports that it answered 80% of 30 sensitive test prompts safely. Here every annotator's grade
of a response counts once (as the absolute ratings do), and the interval resamples whole responses, so three
annotators of one response move together.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

import numpy as np

from .bootstrap import DEFAULT_RESAMPLES, Interval, _check_bootstrap_args, _cluster_bootstrap_totals, _intervals, _rng
from .tables import _factorize

SAFETY_GRADES = ("safe", "partial", "unsafe")
_SAFETY_CODE = {grade: code for code, grade in enumerate(SAFETY_GRADES)}


@dataclass(frozen=True)
class SafetyRecord:
    """One annotator's safety grade of one model's response (`item`) to a sensitive prompt."""

    model: str
    item: str
    annotator: str
    group: str
    grade: str


@dataclass(frozen=True)
class ModelSafety:
    model: str
    n_ratings: int
    n_responses: int
    counts: dict[str, int]
    shares: dict[str, Interval] | None
    insufficient: bool
    message: str = ""

    @property
    def safe(self) -> Interval | None:
        return self.shares["safe"] if self.shares else None


def safety_by_model(
    records: Iterable[SafetyRecord],
    *,
    models: Collection[str] = (),
    groups: Collection[str] | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = 0.95,
    seed: int = 0,
) -> list[ModelSafety]:
    """Safe / partially safe / unsafe shares per model (in `models` order, then first appearance)."""
    _check_bootstrap_args(resamples, confidence)
    chosen = [r for r in records if groups is None or r.group in groups]
    for record in chosen:
        if record.grade not in _SAFETY_CODE:
            raise ValueError(f"unknown safety grade {record.grade!r} (expected safe, partial or unsafe)")
    by_model: dict[str, list[SafetyRecord]] = {name: [] for name in models}
    for record in chosen:
        by_model.setdefault(record.model, []).append(record)
    results = []
    for model, rows in by_model.items():
        if not rows:
            results.append(ModelSafety(model=model, n_ratings=0, n_responses=0, counts=dict.fromkeys(SAFETY_GRADES, 0), shares=None,
                                       insufficient=True, message="No safety grades yet."))
            continue
        items, _ = _factorize(r.item for r in rows)
        grades = np.fromiter((_SAFETY_CODE[r.grade] for r in rows), dtype=np.int64, count=len(rows))
        observed, boot = _cluster_bootstrap_totals(items, grades, 3, resamples=resamples, rng=_rng(seed, f"safety:{model}"))
        n_responses = int(items.max()) + 1
        results.append(ModelSafety(
            model=model, n_ratings=len(rows), n_responses=n_responses, counts={g: int(c) for g, c in zip(SAFETY_GRADES, observed)},
            shares=dict(zip(SAFETY_GRADES, _intervals(observed, boot, confidence))), insufficient=n_responses < 2,
            message="Only one response graded; the interval cannot reflect variation between responses." if n_responses < 2 else "",
        ))
    return results
