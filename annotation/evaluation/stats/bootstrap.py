"""Interval and the seeded cluster-bootstrap helpers every confidence interval is drawn with."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

DEFAULT_RESAMPLES = 2000


@dataclass(frozen=True)
class Interval:
    """A share (0..1) with the bounds of its bootstrap confidence interval."""

    estimate: float
    low: float
    high: float


def _rng(seed: int, key: str) -> np.random.Generator:
    """One stream per (seed, statistic): a baseline's interval does not depend on the others present."""
    return np.random.default_rng([seed, zlib.crc32(key.encode())])


def _cluster_bootstrap_totals(
    clusters: np.ndarray, categories: np.ndarray, n_categories: int, *, resamples: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Observed category counts and `resamples` x K bootstrap counts, resampling whole clusters.

    Resampling P clusters with replacement only matters through how often each *distinct*
    per-cluster count vector is drawn, which is multinomial(P, frequency / P). Drawing that
    directly is exactly the cluster bootstrap, at a cost that does not grow with P (three
    annotators and three verdicts give at most ten distinct vectors).
    """
    _, cluster_index = np.unique(clusters, return_inverse=True)
    n_clusters = int(cluster_index.max()) + 1
    per_cluster = np.bincount(
        cluster_index * n_categories + categories, minlength=n_clusters * n_categories
    ).reshape(n_clusters, n_categories)
    patterns, frequency = np.unique(per_cluster, axis=0, return_counts=True)
    weights = rng.multinomial(n_clusters, frequency / n_clusters, size=resamples)
    return per_cluster.sum(axis=0), weights @ patterns


def _intervals(
    observed: np.ndarray, boot: np.ndarray, confidence: float
) -> list[Interval]:
    """Percentile intervals for every column share (and the estimate from the observed counts)."""
    estimate = observed / observed.sum()
    shares = boot / boot.sum(axis=1, keepdims=True)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(shares, [tail, 1.0 - tail], axis=0)
    return [Interval(float(e), float(lo), float(hi)) for e, lo, hi in zip(estimate, low, high)]


def _check_bootstrap_args(resamples: int, confidence: float) -> None:
    if resamples < 1:
        raise ValueError("resamples must be at least 1")
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must lie strictly between 0 and 1")
