"""Absolute Fail / Pass / Excellent ratings: RatingDistribution and rating_distribution."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

import numpy as np

from .bootstrap import DEFAULT_RESAMPLES, Interval, _check_bootstrap_args, _cluster_bootstrap_totals, _intervals, _rng
from .tables import GRADES, _GRADE_CODE, GradeRecord, _factorize


@dataclass(frozen=True)
class RatingDistribution:
    n_ratings: int
    n_items: int
    counts: dict[str, int]
    shares: dict[str, Interval] | None
    insufficient: bool
    message: str = ""


def rating_distribution(
    ratings: Iterable[GradeRecord],
    *,
    groups: Collection[str] | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = 0.95,
    seed: int = 0,
) -> RatingDistribution:
    """Fail / Pass / Excellent shares with a cluster-bootstrap CI over rated responses (items)."""
    _check_bootstrap_args(resamples, confidence)
    chosen = [r for r in ratings if groups is None or r.group in groups]
    for r in chosen:
        if r.rating not in _GRADE_CODE:
            raise ValueError(f"unknown rating {r.rating!r} (expected fail, pass or excellent)")
    if not chosen:
        return RatingDistribution(n_ratings=0, n_items=0, counts=dict.fromkeys(GRADES, 0), shares=None,
                                  insufficient=True, message="No absolute ratings yet.")
    items, _ = _factorize(r.item for r in chosen)
    grades = np.fromiter((_GRADE_CODE[r.rating] for r in chosen), dtype=np.int64, count=len(chosen))
    observed, boot = _cluster_bootstrap_totals(items, grades, 3, resamples=resamples, rng=_rng(seed, "ratings"))
    n_items = int(items.max()) + 1
    return RatingDistribution(
        n_ratings=len(chosen), n_items=n_items, counts={g: int(c) for g, c in zip(GRADES, observed)},
        shares=dict(zip(GRADES, _intervals(observed, boot, confidence))), insufficient=n_items < 2,
        message="Only one response rated; the interval cannot reflect variation between responses." if n_items < 2 else "",
    )
