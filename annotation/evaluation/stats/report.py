"""The whole study report: StatisticsReport, statistics_report and report_as_dict."""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Sequence
from dataclasses import asdict, dataclass, field, is_dataclass
from typing import Any

from .agreement import AgreementReport, AnnotatorAgreement, agreement, annotator_summaries
from .bias import LengthBias, PositionBias, SidePreference, length_bias, position_bias, side_preference
from .bootstrap import DEFAULT_RESAMPLES
from .ratings import RatingDistribution, rating_distribution
from .tables import GradeRecord, JudgeAnswer, JudgmentTable, PairwiseJudgment, _table
from .win_rates import BaselineOutcome, win_rates

DEFAULT_LLM_GROUPS = ("llm",)
HUMAN_GROUP_LABEL, LLM_GROUP_LABEL = "human", "llm"


@dataclass(frozen=True)
class StatisticsReport:
    human: list[BaselineOutcome]
    llm: list[BaselineOutcome]
    agreement: AgreementReport
    human_llm_agreement: AgreementReport
    annotators: list[AnnotatorAgreement]
    ratings: RatingDistribution
    position_bias: list[PositionBias]
    side_preference: SidePreference
    length_bias: dict[str, LengthBias]
    resamples: int
    confidence: float
    seed: int
    notes: list[str] = field(default_factory=list)


def statistics_report(
    judgments: Iterable[PairwiseJudgment] | JudgmentTable,
    ratings: Iterable[GradeRecord] = (),
    ordered_verdicts: Iterable[JudgeAnswer] = (),
    *,
    llm_groups: Collection[str] = DEFAULT_LLM_GROUPS,
    baselines: Sequence[str] | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = 0.95,
    seed: int = 0,
) -> StatisticsReport:
    """Every statistic of a study: Figure 1 for humans and for the LLM judge, agreement, biases, ratings.

    Judgments whose group is in `llm_groups` are the LLM judge's (Figure 2); all others are human.
    `agreement` keeps the annotators' own groups (author-crowd, crowd-llm, ...);
    `human_llm_agreement` pools them into "human" and "llm" (human-human, human-llm).
    """
    table = _table(judgments)
    ratings = list(ratings)
    common = {"resamples": resamples, "confidence": confidence, "seed": seed}
    notes = []
    human_rows = table.group_mask(llm_groups, exclude=True)
    if not human_rows.any() and not ratings:  # an absolute study's ratings are human judgments too
        notes.append("No human judgments.")
    if human_rows.size and human_rows.all():
        notes.append("No LLM-judge judgments (groups: " + ", ".join(sorted(llm_groups)) + ").")
    return StatisticsReport(
        human=win_rates(table, baselines=baselines, exclude_groups=llm_groups, **common),
        llm=win_rates(table, baselines=baselines, groups=llm_groups, **common),
        agreement=agreement(table),
        human_llm_agreement=agreement(
            table.regrouped(lambda name: LLM_GROUP_LABEL if name in llm_groups else HUMAN_GROUP_LABEL)
        ),
        annotators=annotator_summaries(table),
        ratings=rating_distribution(ratings, **common),
        position_bias=position_bias(ordered_verdicts, **common),
        side_preference=side_preference(table, groups=[g for g in table.groups if g not in llm_groups], **common),
        length_bias={
            "human": length_bias(table, exclude_groups=llm_groups),
            "llm": length_bias(table, groups=llm_groups),
        },
        resamples=resamples, confidence=confidence, seed=seed, notes=notes,
    )


def report_as_dict(report: Any) -> Any:
    """A report (or any result above) as JSON-ready dicts and lists; raises if a NaN slipped through."""
    value = asdict(report) if is_dataclass(report) and not isinstance(report, type) else report
    return _check_finite(value)


def _check_finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("a statistic is not finite; it should have been reported as insufficient")
    if isinstance(value, dict):
        return {key: _check_finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_check_finite(item) for item in value]
    return value
