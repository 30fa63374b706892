"""Input records (judgments, grades, LLM judge answers), verdict and grade codes, and JudgmentTable."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

VerdictName = Literal["target", "tie", "baseline"]
GradeName = Literal["fail", "pass", "excellent"]
VERDICTS: tuple[VerdictName, ...] = ("target", "tie", "baseline")
GRADES: tuple[GradeName, ...] = ("fail", "pass", "excellent")
TARGET, TIE, BASELINE = 0, 1, 2
_VERDICT_CODE = {name: code for code, name in enumerate(VERDICTS)}
_GRADE_CODE = {name: code for code, name in enumerate(GRADES)}


@dataclass(frozen=True, slots=True)
class PairwiseJudgment:
    """One verdict. `item` is the comparison (prompt x baseline); lengths feed the length-bias check."""

    item: str
    prompt: str
    baseline: str
    annotator: str
    group: str
    verdict: VerdictName
    target_len: int | None = None
    baseline_len: int | None = None
    target_on_left: bool | None = None


@dataclass(frozen=True, slots=True)
class GradeRecord:
    item: str
    annotator: str
    group: str
    rating: GradeName


@dataclass(frozen=True, slots=True)
class JudgeAnswer:
    """The LLM judge's answer in one order; `target_is_a` says where the target sat *in that order*."""

    item: str
    judge: str
    order: Literal["ab", "ba"]
    verdict_side: Literal["a", "b", "tie"]
    target_is_a: bool


def _factorize(values: Iterable[str]) -> tuple[np.ndarray, list[str]]:
    """Integer codes in order of first appearance (a dict is faster than sorting strings)."""
    index: dict[str, int] = {}
    codes = np.fromiter((index.setdefault(value, len(index)) for value in values), dtype=np.int64)
    return codes, list(index)


@dataclass(frozen=True)
class JudgmentTable:
    """Pairwise judgments as columns of integer codes; build once, share between statistics.

    `target_len`/`baseline_len` hold NaN where unknown and `target_on_left` -1; both are
    internal and never reach an output.
    """

    item: np.ndarray
    prompt: np.ndarray
    baseline: np.ndarray
    annotator: np.ndarray
    group: np.ndarray
    verdict: np.ndarray
    target_len: np.ndarray
    baseline_len: np.ndarray
    target_on_left: np.ndarray
    items: list[str]
    prompts: list[str]
    baselines: list[str]
    annotators: list[str]
    groups: list[str]

    @classmethod
    def from_records(cls, judgments: Iterable[PairwiseJudgment]) -> JudgmentTable:
        judgments = list(judgments)
        return cls.from_columns(
            item=[j.item for j in judgments],
            prompt=[j.prompt for j in judgments],
            baseline=[j.baseline for j in judgments],
            annotator=[j.annotator for j in judgments],
            group=[j.group for j in judgments],
            verdict=[j.verdict for j in judgments],
            target_len=[j.target_len for j in judgments],
            baseline_len=[j.baseline_len for j in judgments],
            target_on_left=[j.target_on_left for j in judgments],
        )

    @classmethod
    def from_columns(
        cls,
        *,
        item: Sequence[str],
        prompt: Sequence[str],
        baseline: Sequence[str],
        annotator: Sequence[str],
        group: Sequence[str],
        verdict: Sequence[str],
        target_len: Sequence[int | None] | None = None,
        baseline_len: Sequence[int | None] | None = None,
        target_on_left: Sequence[bool | None] | None = None,
    ) -> JudgmentTable:
        """Columns as a query returns them (e.g. `values_list`); raises ValueError on an unknown verdict."""
        n = len(item)
        if any(len(column) != n for column in (prompt, baseline, annotator, group, verdict)):
            raise ValueError("all columns must have the same length")
        try:
            verdict_codes = np.fromiter((_VERDICT_CODE[v] for v in verdict), dtype=np.int8, count=n)
        except KeyError as exc:
            raise ValueError(f"unknown verdict {exc.args[0]!r} (expected target, tie or baseline)") from None
        item_codes, items = _factorize(item)
        prompt_codes, prompts = _factorize(prompt)
        baseline_codes, baselines = _factorize(baseline)
        annotator_codes, annotators = _factorize(annotator)
        group_codes, groups = _factorize(group)

        def lengths(column: Sequence[int | None] | None) -> np.ndarray:
            if column is None:
                return np.full(n, np.nan)
            return np.fromiter((np.nan if v is None else v for v in column), dtype=np.float64, count=n)

        left = (
            np.full(n, -1, dtype=np.int8)
            if target_on_left is None
            else np.fromiter((-1 if v is None else int(bool(v)) for v in target_on_left), dtype=np.int8, count=n)
        )
        return cls(
            item=item_codes, prompt=prompt_codes, baseline=baseline_codes, annotator=annotator_codes,
            group=group_codes, verdict=verdict_codes, target_len=lengths(target_len),
            baseline_len=lengths(baseline_len), target_on_left=left, items=items, prompts=prompts,
            baselines=baselines, annotators=annotators, groups=groups,
        )

    def regrouped(self, group_of: Callable[[str], str]) -> JudgmentTable:
        """The same judgments with every group renamed, e.g. all human groups to "human"."""
        renamed = [group_of(name) for name in self.groups]
        codes, groups = _factorize(renamed)
        return replace(self, group=codes[self.group] if len(codes) else self.group, groups=groups)

    def __len__(self) -> int:
        return len(self.verdict)

    def group_mask(self, groups: Collection[str] | None, *, exclude: bool = False) -> np.ndarray:
        """Rows whose group is in `groups` (or not, with exclude); None selects every row."""
        if groups is None:
            return np.ones(len(self), dtype=bool)
        wanted = np.array([name in groups for name in self.groups], dtype=bool)
        mask = wanted[self.group] if len(self.groups) else np.zeros(len(self), dtype=bool)
        return ~mask if exclude else mask


def _table(judgments: Iterable[PairwiseJudgment] | JudgmentTable) -> JudgmentTable:
    return judgments if isinstance(judgments, JudgmentTable) else JudgmentTable.from_records(judgments)
