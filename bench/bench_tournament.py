"""Issue 16 figures: Bradley–Terry ratings on synthetic tournaments with known strengths (no database needed).

Five models 0.4 nats apart (about 70 Elo points), every pair on every prompt, the winner drawn with the true
Bradley–Terry probability. Over repeated seeds: how often the recovered leaderboard is exactly the true order, and
how often each model's 95% cluster-bootstrap interval covers its true (centred) rating; and the seconds one
leaderboard takes (fit + resamples) for 5 and 20 models.
"""

from __future__ import annotations

import time

import numpy as np

from annotation.evaluation.stats.bradley_terry import bradley_terry
from tests.test_bradley_terry import coverage_experiment, synthetic_tournament


def run() -> dict:
    results: dict = {"strengths_nats": [0.0, 0.4, 0.8, 1.2, 1.6], "confidence": 0.95}
    for prompts in (30, 60, 120):
        started = time.perf_counter()
        results[f"prompts_{prompts}"] = {**coverage_experiment(seeds=100, prompts=prompts, resamples=200),
                                         "seconds": round(time.perf_counter() - started, 1)}
    for models in (5, 20):
        battles = synthetic_tournament(np.linspace(0, 2, models), prompts=50, rng=np.random.default_rng(0))
        started = time.perf_counter()
        bradley_terry(battles, resamples=200)
        results[f"leaderboard_seconds_{models}_models_{len(battles)}_battles_200_resamples"] = round(time.perf_counter() - started, 2)
    return results
