"""LLM judge and annotator biases: position bias, side preference and length bias."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .agreement import _TIE_DISCOUNTED_CREDIT, _ratio, _safe_float
from .bootstrap import DEFAULT_RESAMPLES, Interval, _check_bootstrap_args, _cluster_bootstrap_totals, _intervals, _rng
from .tables import BASELINE, TARGET, TIE, JudgeAnswer, JudgmentTable, PairwiseJudgment, _table


@dataclass(frozen=True)
class PositionBias:
    """LLM judge asked in both orders: how often its verdict (in model terms) changes with the order."""

    judge: str
    pairs: int
    flips: int
    flip_share: Interval | None
    first_position_share: float | None
    incomplete_items: int
    inconsistent_items: int
    insufficient: bool
    message: str = ""


@dataclass(frozen=True)
class SidePreference:
    """Human judges: share of decisive verdicts that picked the left response (0.5 = no side bias)."""

    decisive: int
    left_share: Interval | None
    insufficient: bool
    message: str = ""


@dataclass(frozen=True)
class LengthBin:
    low: float
    high: float
    n: int
    target_wins: float | None
    ties: float | None
    baseline_wins: float | None


@dataclass(frozen=True)
class LengthBias:
    """Target win rate by bins of (target length - baseline length), plus rank and linear correlation."""

    n: int
    bins: list[LengthBin]
    spearman: float | None
    pearson: float | None
    insufficient: bool
    message: str = ""


def position_bias(
    verdicts: Iterable[JudgeAnswer], *, resamples: int = DEFAULT_RESAMPLES, confidence: float = 0.95, seed: int = 0
) -> list[PositionBias]:
    """Per judge: the share of items whose verdict, in model terms, changes when the order is swapped.

    An item counts when the judge answered it in both orders with the target on opposite
    sides; items answered in one order only are `incomplete_items`, items whose two answers put
    the target on the same side are `inconsistent_items` (a data error upstream). The flip share
    has a bootstrap interval over items; `first_position_share` is the share of decisive answers
    that chose whatever was shown first (A), over all answers.
    """
    _check_bootstrap_args(resamples, confidence)
    verdicts = list(verdicts)
    for v in verdicts:
        if v.order not in ("ab", "ba") or v.verdict_side not in ("a", "b", "tie"):
            raise ValueError(f"bad ordered verdict for item {v.item!r}: order {v.order!r}, side {v.verdict_side!r}")
    judges = list(dict.fromkeys(v.judge for v in verdicts))
    result = []
    for judge in judges:
        answers: dict[str, dict[str, JudgeAnswer]] = {}
        decisive = first_position = 0
        for v in verdicts:
            if v.judge != judge:
                continue
            answers.setdefault(v.item, {}).setdefault(v.order, v)
            if v.verdict_side != "tie":
                decisive += 1
                first_position += v.verdict_side == "a"
        incomplete = inconsistent = 0
        flips: list[int] = []
        for by_order in answers.values():
            if len(by_order) < 2:
                incomplete += 1
                continue
            ab, ba = by_order["ab"], by_order["ba"]
            if ab.target_is_a == ba.target_is_a:
                inconsistent += 1
                continue
            flips.append(int(_model_verdict(ab) != _model_verdict(ba)))
        first_share = _ratio(first_position, decisive)
        if not flips:
            result.append(PositionBias(
                judge=judge, pairs=0, flips=0, flip_share=None, first_position_share=first_share,
                incomplete_items=incomplete, inconsistent_items=inconsistent, insufficient=True,
                message="No item was judged in both orders.",
            ))
            continue
        flip_array = np.array(flips, dtype=np.int64)
        observed, boot = _cluster_bootstrap_totals(
            np.arange(len(flip_array)), flip_array, 2, resamples=resamples, rng=_rng(seed, f"position:{judge}")
        )
        result.append(PositionBias(
            judge=judge, pairs=len(flips), flips=int(flip_array.sum()),
            flip_share=_intervals(observed, boot, confidence)[1], first_position_share=first_share,
            incomplete_items=incomplete, inconsistent_items=inconsistent, insufficient=False,
        ))
    return result


def _model_verdict(answer: JudgeAnswer) -> int:
    if answer.verdict_side == "tie":
        return TIE
    return TARGET if (answer.verdict_side == "a") == answer.target_is_a else BASELINE


def side_preference(
    judgments: Iterable[PairwiseJudgment] | JudgmentTable,
    *,
    groups: Collection[str] | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = 0.95,
    seed: int = 0,
) -> SidePreference:
    """Share of decisive verdicts that chose the left response, with a bootstrap CI over prompts."""
    _check_bootstrap_args(resamples, confidence)
    table = _table(judgments)
    rows = np.flatnonzero(table.group_mask(groups) & (table.target_on_left >= 0) & (table.verdict != TIE))
    if not len(rows):
        return SidePreference(decisive=0, left_share=None, insufficient=True,
                              message="No decisive verdict with a known side.")
    chose_left = ((table.verdict[rows] == TARGET) == (table.target_on_left[rows] == 1)).astype(np.int64)
    observed, boot = _cluster_bootstrap_totals(
        table.prompt[rows], 1 - chose_left, 2, resamples=resamples, rng=_rng(seed, "side")
    )
    return SidePreference(decisive=int(len(rows)), left_share=_intervals(observed, boot, confidence)[0],
                          insufficient=False)


def length_bias(
    judgments: Iterable[PairwiseJudgment] | JudgmentTable,
    *,
    groups: Collection[str] | None = None,
    exclude_groups: Collection[str] | None = None,
    bins: int = 5,
    edges: Sequence[float] | None = None,
) -> LengthBias:
    """Target win rate by bins of length difference (target - baseline), and its correlation with the verdict.

    Bins are quantiles of the observed differences unless `edges` are given. The correlations
    score a verdict 1 (target), 0.5 (tie) or 0 (baseline): Spearman's rank correlation and
    Pearson's r with the difference. Judgments without both lengths are skipped.
    """
    table = _table(judgments)
    mask = table.group_mask(groups) & ~np.isnan(table.target_len) & ~np.isnan(table.baseline_len)
    if exclude_groups is not None:
        mask &= table.group_mask(exclude_groups, exclude=True)
    rows = np.flatnonzero(mask)
    if len(rows) < 2:
        return LengthBias(n=int(len(rows)), bins=[], spearman=None, pearson=None, insufficient=True,
                          message="Length bias needs at least two judgments with both response lengths.")
    difference = table.target_len[rows] - table.baseline_len[rows]
    verdict = table.verdict[rows]
    score = _TIE_DISCOUNTED_CREDIT[TARGET][verdict]
    if edges is None:
        cut = np.unique(np.quantile(difference, np.linspace(0.0, 1.0, max(bins, 1) + 1)))
    else:
        cut = np.asarray(sorted(edges), dtype=np.float64)
    if len(cut) < 2:
        cut = np.array([difference.min(), difference.max()])
    # Right-closed last bin so the maximum belongs to it; values outside explicit edges are dropped.
    which = np.clip(np.searchsorted(cut, difference, side="right") - 1, 0, len(cut) - 2)
    inside = (difference >= cut[0]) & (difference <= cut[-1])
    per_bin = np.bincount(which[inside] * 3 + verdict[inside], minlength=(len(cut) - 1) * 3).reshape(-1, 3)
    length_bins = []
    for (low, high), row in zip(zip(cut[:-1], cut[1:]), per_bin):
        n = int(row.sum())
        shares = row / n if n else [None, None, None]
        length_bins.append(LengthBin(
            low=float(low), high=float(high), n=n, target_wins=_opt(shares[0]), ties=_opt(shares[1]),
            baseline_wins=_opt(shares[2]),
        ))
    constant = np.ptp(difference) == 0 or np.ptp(score) == 0
    spearman = pearson = None
    if not constant:
        from scipy import stats as scipy_stats  # loaded when first used (charts.py)

        spearman = _safe_float(scipy_stats.spearmanr(difference, score).statistic)
        pearson = _safe_float(np.corrcoef(difference, score)[0, 1])
    return LengthBias(
        n=int(len(rows)), bins=length_bins, spearman=spearman, pearson=pearson, insufficient=False,
        message="Correlation is undefined: lengths or verdicts do not vary." if constant else "",
    )


def _opt(value: Any) -> float | None:
    return None if value is None else float(value)
