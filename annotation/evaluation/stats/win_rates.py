"""Figure 1 win / tie / loss shares per baseline (BaselineOutcome, win_rates)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from .bootstrap import DEFAULT_RESAMPLES, Interval, _check_bootstrap_args, _cluster_bootstrap_totals, _intervals, _rng
from .tables import VERDICTS, JudgmentTable, PairwiseJudgment, _table


@dataclass(frozen=True)
class BaselineOutcome:
    """Figure 1, one bar: how often the target beats, ties or loses to one baseline."""

    baseline: str
    n_judgments: int
    n_prompts: int
    counts: dict[str, int]
    target_wins: Interval | None
    ties: Interval | None
    baseline_wins: Interval | None
    target_wins_or_ties: Interval | None
    insufficient: bool
    message: str = ""


def win_rates(
    judgments: Iterable[PairwiseJudgment] | JudgmentTable,
    *,
    baselines: Sequence[str] | None = None,
    groups: Collection[str] | None = None,
    exclude_groups: Collection[str] | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = 0.95,
    seed: int = 0,
) -> list[BaselineOutcome]:
    """Figure 1: target wins / ties / baseline wins per baseline, with cluster-bootstrap CIs over prompts.

    `baselines` fixes the order (and reports a baseline without judgments as insufficient);
    otherwise baselines appear in the order first seen. `groups`/`exclude_groups` select
    annotator groups (e.g. humans versus the LLM judge).
    """
    _check_bootstrap_args(resamples, confidence)
    table = _table(judgments)
    mask = table.group_mask(groups)
    if exclude_groups is not None:
        mask &= table.group_mask(exclude_groups, exclude=True)
    order = list(baselines) if baselines is not None else list(table.baselines)
    code_of = {name: code for code, name in enumerate(table.baselines)}
    # One stable sort groups rows by baseline instead of one full mask per baseline.
    selected = np.flatnonzero(mask)
    by_baseline = selected[np.argsort(table.baseline[selected], kind="stable")]
    bounds = np.searchsorted(table.baseline[by_baseline], np.arange(len(table.baselines) + 1))
    outcomes = []
    for name in order:
        code = code_of.get(name)
        rows = by_baseline[bounds[code]:bounds[code + 1]] if code is not None else by_baseline[:0]
        if not len(rows):
            outcomes.append(BaselineOutcome(
                baseline=name, n_judgments=0, n_prompts=0, counts=dict.fromkeys(VERDICTS, 0),
                target_wins=None, ties=None, baseline_wins=None, target_wins_or_ties=None,
                insufficient=True, message=f"No judgments against {name} yet.",
            ))
            continue
        observed, boot = _cluster_bootstrap_totals(
            table.prompt[rows], table.verdict[rows], 3, resamples=resamples, rng=_rng(seed, f"win-rates:{name}")
        )
        wins, ties, losses = _intervals(observed, boot, confidence)
        at_least_tie = _intervals(
            np.array([observed[0] + observed[1], observed[2]]), np.column_stack([boot[:, 0] + boot[:, 1], boot[:, 2]]),
            confidence,
        )[0]
        n_prompts = len(np.unique(table.prompt[rows]))
        message = ""
        if n_prompts < 2:
            message = f"Only one prompt judged against {name}; the interval cannot reflect prompt variation."
        outcomes.append(BaselineOutcome(
            baseline=name, n_judgments=int(len(rows)), n_prompts=n_prompts,
            counts={v: int(c) for v, c in zip(VERDICTS, observed)}, target_wins=wins, ties=ties,
            baseline_wins=losses, target_wins_or_ties=at_least_tie, insufficient=n_prompts < 2, message=message,
        ))
    return outcomes
