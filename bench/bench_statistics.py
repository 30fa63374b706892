"""Issue 6 figures: seconds for the full statistics report on synthetic studies (no database needed).

Sizes: LIMA's 300 prompts x 5 baselines x 3 annotators (two humans and the LLM judge, which is
also asked in both orders), and ten times that, each with 2,000 bootstrap resamples. Then the
issue's goal: win rates with 1,000 resamples for 5 baselines plus agreement on 1,000,000
judgments (goal <= 3 s), built from columns as a database query would return them.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from annotation.evaluation.stats import (
    GradeRecord,
    JudgeAnswer,
    JudgmentTable,
    PairwiseJudgment,
    agreement,
    statistics_report,
    win_rates,
)

BASELINES = ("Alpaca 65B", "DaVinci003", "Bard", "Claude", "GPT-4")
# Figure 1's human shares (target wins, tie, baseline wins), used as the synthetic truth.
SHARES = ((0.53, 0.21, 0.26), (0.44, 0.21, 0.35), (0.33, 0.25, 0.42), (0.24, 0.22, 0.54), (0.18, 0.25, 0.57))
ANNOTATORS = (("author-1", "author"), ("crowd-1", "crowd"), ("gpt-4", "llm"))
VERDICTS = np.array(["target", "tie", "baseline"])


def synthetic_columns(prompts: int, seed: int = 0) -> dict[str, list]:
    """prompts x baselines x annotators judgments as columns; lengths and sides drawn at random."""
    rng = np.random.default_rng(seed)
    columns: dict[str, list] = {key: [] for key in (
        "item", "prompt", "baseline", "annotator", "group", "verdict", "target_len", "baseline_len", "target_on_left"
    )}
    for baseline, shares in zip(BASELINES, SHARES):
        truth = rng.choice(3, size=prompts, p=shares)
        target_len = rng.integers(50, 2000, size=prompts).tolist()
        baseline_len = rng.integers(50, 2000, size=prompts).tolist()
        left = (rng.random(prompts) < 0.5).tolist()
        for annotator, group in ANNOTATORS:
            # Each annotator keeps the consensus verdict 80% of the time, otherwise draws afresh.
            noisy = np.where(rng.random(prompts) < 0.8, truth, rng.choice(3, size=prompts, p=shares))
            prompt_ids = [f"p{n}" for n in range(prompts)]
            columns["item"] += [f"{p}/{baseline}" for p in prompt_ids]
            columns["prompt"] += prompt_ids
            columns["baseline"] += [baseline] * prompts
            columns["annotator"] += [annotator] * prompts
            columns["group"] += [group] * prompts
            columns["verdict"] += VERDICTS[noisy].tolist()
            columns["target_len"] += target_len
            columns["baseline_len"] += baseline_len
            columns["target_on_left"] += left
    return columns


def synthetic_study(prompts: int, seed: int = 0):
    columns = synthetic_columns(prompts, seed)
    judgments = [PairwiseJudgment(*values) for values in zip(*(columns[k] for k in columns))]
    rng = np.random.default_rng(seed + 1)
    ordered = []
    for j in judgments:
        if j.group != "llm":
            continue
        swap_flips = rng.random() < 0.15
        side = {"target": "a", "baseline": "b", "tie": "tie"}[j.verdict]
        swapped = side if swap_flips or side == "tie" else {"a": "b", "b": "a"}[side]
        ordered += [JudgeAnswer(j.item, j.annotator, "ab", side, True),
                    JudgeAnswer(j.item, j.annotator, "ba", swapped, False)]
    grades = rng.choice(["fail", "pass", "excellent"], size=50, p=(0.12, 0.38, 0.50))
    ratings = [GradeRecord(f"r{n}", "author-1", "author", g) for n, g in enumerate(grades.tolist())]
    return judgments, ratings, ordered


def _seconds(action, repeats: int) -> float:
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return round(statistics.median(timings), 3)


def run() -> dict:
    figures: dict = {}
    for label, prompts in (("lima_300_prompts", 300), ("x10_3000_prompts", 3000)):
        judgments, ratings, ordered = synthetic_study(prompts)
        figures[label] = {
            "judgments": len(judgments),
            "ordered_verdicts": len(ordered),
            "resamples": 2000,
            "full_report_seconds": _seconds(
                lambda: statistics_report(judgments, ratings, ordered, baselines=BASELINES, resamples=2000), 3
            ),
        }
    columns = synthetic_columns(66_667)
    started = time.perf_counter()
    table = JudgmentTable.from_columns(**columns)
    build = time.perf_counter() - started
    figures["goal_1m_judgments"] = {
        "judgments": len(table),
        "resamples": 1000,
        "table_from_columns_seconds": round(build, 3),
        "win_rates_and_agreement_seconds": _seconds(
            lambda: (win_rates(table, baselines=BASELINES, resamples=1000), agreement(table)), 3
        ),
        "goal_seconds": 3.0,
    }
    return figures


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
