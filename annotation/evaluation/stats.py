"""Statistics of a judging study, LIMA section 3 (no Django import; vectorised with numpy).

Inputs are plain records, so judgments from the database, from an import
(`annotation.evaluation.judgment_import`) or from a test all go through the same code:

- `PairwiseJudgment`: one annotator's verdict on one comparison item (one prompt, the target
  model's response against one baseline's), in model terms: target better, tie, baseline better.
- `Rating`: one annotator's absolute Fail / Pass / Excellent grade of one response.
- `OrderedVerdict`: the LLM judge's answer for one item in one presentation order.

Every result is a dataclass with an explicit `insufficient` flag and a `message`; a statistic
that cannot be computed is `None`, never NaN. `report_as_dict` turns a report into JSON-ready
dicts.

Choices, stated once:

- Win/tie/loss shares count every judgment: an item judged by three annotators contributes
  three verdicts (Figure 1 pools all annotators the same way). The confidence intervals come
  from a cluster bootstrap over prompts, so the judgments of one prompt are resampled together
  and the interval reflects prompt-to-prompt variation, not only annotator noise.
- Agreement needs one verdict per (item, annotator); repeated verdicts by the same annotator on
  the same item are dropped after the first and counted in `duplicates_ignored`.
- Group-pair agreement is the micro-average over all pairs of verdicts on a shared item (with
  LIMA's design, 50 items judged by everyone, this equals the average of the annotator pairs).
"""

from __future__ import annotations

import math
import warnings
import zlib
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import asdict, dataclass, field, is_dataclass, replace
from typing import Any, Literal

import krippendorff
import numpy as np
from scipy import sparse
from scipy import stats as scipy_stats
from sklearn.metrics import cohen_kappa_score

Verdict = Literal["target", "tie", "baseline"]
Grade = Literal["fail", "pass", "excellent"]
VERDICTS: tuple[Verdict, ...] = ("target", "tie", "baseline")
GRADES: tuple[Grade, ...] = ("fail", "pass", "excellent")
TARGET, TIE, BASELINE = 0, 1, 2
DEFAULT_RESAMPLES = 2000
DEFAULT_LLM_GROUPS = ("llm",)
HUMAN_GROUP_LABEL, LLM_GROUP_LABEL = "human", "llm"
# Tie-discounted credit, indexed [verdict_a, verdict_b] with target=0, tie=1, baseline=2.
_TIE_DISCOUNTED_CREDIT = np.array([[1.0, 0.5, 0.0], [0.5, 1.0, 0.5], [0.0, 0.5, 1.0]])
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
    verdict: Verdict
    target_len: int | None = None
    baseline_len: int | None = None
    target_on_left: bool | None = None


@dataclass(frozen=True, slots=True)
class Rating:
    item: str
    annotator: str
    group: str
    rating: Grade


@dataclass(frozen=True, slots=True)
class OrderedVerdict:
    """The LLM judge's answer in one order; `target_is_a` says where the target sat *in that order*."""

    item: str
    judge: str
    order: Literal["ab", "ba"]
    verdict_side: Literal["a", "b", "tie"]
    target_is_a: bool


@dataclass(frozen=True)
class Interval:
    """A share (0..1) with the bounds of its bootstrap confidence interval."""

    estimate: float
    low: float
    high: float


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


@dataclass(frozen=True)
class PairAgreement:
    """Two annotators over the items both judged."""

    first: str
    second: str
    first_group: str
    second_group: str
    shared_items: int
    tie_discounted: float | None
    agreement_with_ties: float | None
    agreement_without_ties: float | None
    items_without_ties: int
    cohen_kappa: float | None
    insufficient: bool
    message: str = ""


@dataclass(frozen=True)
class GroupPairAgreement:
    """Annotator pairs of two groups (or within one), pooled; `label` reads like the paper's "crowd-author"."""

    groups: tuple[str, str]
    label: str
    annotator_pairs: int
    comparisons: int
    tie_discounted: float | None
    agreement_with_ties: float | None
    agreement_without_ties: float | None
    mean_cohen_kappa: float | None
    krippendorff_alpha: float | None
    insufficient: bool
    message: str = ""


@dataclass(frozen=True)
class AgreementReport:
    pairs: list[PairAgreement]
    group_pairs: list[GroupPairAgreement]
    krippendorff_alpha: float | None
    annotators: int
    shared_items: int
    duplicates_ignored: int
    insufficient: bool
    message: str = ""


@dataclass(frozen=True)
class AnnotatorSummary:
    annotator: str
    group: str
    judgments: int
    items: int
    verdict_shares: dict[str, float]
    shared_items: int
    partners: int
    tie_discounted_with_others: float | None
    agreement_with_others: float | None
    insufficient: bool
    message: str = ""


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


@dataclass(frozen=True)
class RatingDistribution:
    n_ratings: int
    n_items: int
    counts: dict[str, int]
    shares: dict[str, Interval] | None
    insufficient: bool
    message: str = ""


@dataclass(frozen=True)
class StatisticsReport:
    human: list[BaselineOutcome]
    llm: list[BaselineOutcome]
    agreement: AgreementReport
    human_llm_agreement: AgreementReport
    annotators: list[AnnotatorSummary]
    ratings: RatingDistribution
    position_bias: list[PositionBias]
    side_preference: SidePreference
    length_bias: dict[str, LengthBias]
    resamples: int
    confidence: float
    seed: int
    notes: list[str] = field(default_factory=list)


# --- tables ------------------------------------------------------------------------------------


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


# --- bootstrap ---------------------------------------------------------------------------------


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


# --- win rates ---------------------------------------------------------------------------------


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


# --- agreement ---------------------------------------------------------------------------------


def tie_discounted_accuracy(a: Sequence[Verdict], b: Sequence[Verdict]) -> float:
    """LIMA's agreement: 1 when both agree, 0.5 when exactly one says tie, else 0 (mean over items).

    Raises ValueError on sequences of different length or with no items; the reports below
    handle missing data with an `insufficient` flag instead.
    """
    if len(a) != len(b):
        raise ValueError(f"verdict sequences differ in length ({len(a)} and {len(b)})")
    if not len(a):
        raise ValueError("no shared items to compare")
    try:
        codes_a = np.fromiter((_VERDICT_CODE[v] for v in a), dtype=np.int8, count=len(a))
        codes_b = np.fromiter((_VERDICT_CODE[v] for v in b), dtype=np.int8, count=len(b))
    except KeyError as exc:
        raise ValueError(f"unknown verdict {exc.args[0]!r}") from None
    return float(_TIE_DISCOUNTED_CREDIT[codes_a, codes_b].mean())


def _safe_float(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def _kappa(first: np.ndarray, second: np.ndarray) -> float | None:
    """Cohen's kappa from scikit-learn; None where it is undefined (both annotators constant)."""
    if len(first) < 2:
        return None
    with warnings.catch_warnings():
        # Undefined kappa (scikit-learn warns and returns NaN) is reported as None by the caller.
        warnings.simplefilter("ignore")
        return _safe_float(cohen_kappa_score(first, second, labels=[TARGET, TIE, BASELINE]))


def _alpha(value_counts: np.ndarray) -> tuple[float | None, str]:
    """Krippendorff's alpha (nominal) from an items x verdicts count matrix; None with the reason."""
    pairable = value_counts[value_counts.sum(axis=1) >= 2]
    if not len(pairable):
        return None, "No item was judged by two annotators."
    if np.count_nonzero(pairable.sum(axis=0)) < 2:
        return None, "Every verdict on shared items is the same; alpha is undefined."
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        value = krippendorff.alpha(
            value_counts=pairable, value_domain=[TARGET, TIE, BASELINE], level_of_measurement="nominal"
        )
    value = _safe_float(value)
    return value, "" if value is not None else "Alpha is undefined for these verdicts."


@dataclass(frozen=True)
class _VerdictMatrix:
    """One verdict per (item, annotator) as sparse one-hot matrices, items x annotators."""

    item: np.ndarray
    annotator: np.ndarray
    verdict: np.ndarray
    annotator_group: np.ndarray
    duplicates: int
    n_items: int
    n_annotators: int

    def indicator(self, mask: np.ndarray) -> sparse.csr_matrix:
        return sparse.csr_matrix(
            (np.ones(int(mask.sum())), (self.item[mask], self.annotator[mask])), shape=(self.n_items, self.n_annotators)
        )


def _verdict_matrix(table: JudgmentTable) -> _VerdictMatrix:
    keys = table.item * max(len(table.annotators), 1) + table.annotator
    _, first = np.unique(keys, return_index=True)
    first.sort()
    annotator_group = np.zeros(len(table.annotators), dtype=np.int64)
    # An annotator's group is the one on their first judgment.
    seen, at = np.unique(table.annotator, return_index=True)
    annotator_group[seen] = table.group[at]
    return _VerdictMatrix(
        item=table.item[first], annotator=table.annotator[first], verdict=table.verdict[first],
        annotator_group=annotator_group, duplicates=len(table) - len(first),
        n_items=len(table.items), n_annotators=len(table.annotators),
    )


@dataclass(frozen=True)
class _PairCounts:
    """Annotator x annotator counts over shared items (dense; the diagonal is meaningless)."""

    shared: np.ndarray
    agree: np.ndarray
    one_tie: np.ndarray
    without_ties: np.ndarray
    agree_without_ties: np.ndarray


def _pair_counts(matrix: _VerdictMatrix) -> _PairCounts:
    present = matrix.indicator(np.ones(len(matrix.verdict), dtype=bool))
    by_verdict = [matrix.indicator(matrix.verdict == code) for code in (TARGET, TIE, BASELINE)]
    decisive = by_verdict[TARGET] + by_verdict[BASELINE]

    def gram(left: sparse.csr_matrix, right: sparse.csr_matrix) -> np.ndarray:
        return np.asarray((left.T @ right).todense())

    agree_target, agree_baseline = gram(by_verdict[TARGET], by_verdict[TARGET]), gram(by_verdict[BASELINE], by_verdict[BASELINE])
    tie_decisive = gram(by_verdict[TIE], decisive)
    return _PairCounts(
        shared=gram(present, present),
        agree=agree_target + agree_baseline + gram(by_verdict[TIE], by_verdict[TIE]),
        one_tie=tie_decisive + tie_decisive.T,
        without_ties=gram(decisive, decisive),
        agree_without_ties=agree_target + agree_baseline,
    )


def _ratio(numerator: float, denominator: float) -> float | None:
    return float(numerator) / float(denominator) if denominator else None


def _group_label(first: str, second: str) -> str:
    return f"{first}-{second}"


def agreement(
    judgments: Iterable[PairwiseJudgment] | JudgmentTable, *, min_shared: int = 1
) -> AgreementReport:
    """Agreement between every pair of annotators on the items both judged, pooled per group pair.

    Per annotator pair: LIMA's tie-discounted accuracy, plain agreement with ties (exact match)
    and without ties (items where neither said tie), Cohen's kappa (scikit-learn). Per group
    pair: the same rates micro-averaged over all pairs of verdicts, the mean of the defined
    pairwise kappas, and Krippendorff's alpha (nominal) over the annotators of both groups.
    Pairs sharing fewer than `min_shared` items are left out.
    """
    table = _table(judgments)
    if len(table.annotators) < 2:
        return AgreementReport(
            pairs=[], group_pairs=[], krippendorff_alpha=None, annotators=len(table.annotators), shared_items=0,
            duplicates_ignored=0, insufficient=True, message="Agreement needs at least two annotators.",
        )
    matrix = _verdict_matrix(table)
    counts = _pair_counts(matrix)
    per_item = np.bincount(matrix.item, minlength=matrix.n_items)
    shared_items = int(np.count_nonzero(per_item >= 2))
    upper = np.triu(counts.shared >= max(min_shared, 1), k=1)
    firsts, seconds = np.nonzero(upper)
    # Verdict vectors per annotator, sorted by item, to pair them up for kappa.
    order = np.lexsort((matrix.item, matrix.annotator))
    starts = np.searchsorted(matrix.annotator[order], np.arange(matrix.n_annotators + 1))

    def verdicts_of(annotator: int) -> tuple[np.ndarray, np.ndarray]:
        rows = order[starts[annotator]:starts[annotator + 1]]
        return matrix.item[rows], matrix.verdict[rows]

    pairs: list[PairAgreement] = []
    kappas: dict[tuple[int, int], list[float]] = {}
    for u, v in zip(firsts.tolist(), seconds.tolist()):
        items_u, verdicts_u = verdicts_of(u)
        items_v, verdicts_v = verdicts_of(v)
        _, at_u, at_v = np.intersect1d(items_u, items_v, assume_unique=True, return_indices=True)
        kappa = _kappa(verdicts_u[at_u], verdicts_v[at_v])
        group_u, group_v = int(matrix.annotator_group[u]), int(matrix.annotator_group[v])
        key = (min(group_u, group_v), max(group_u, group_v))
        if kappa is not None:
            kappas.setdefault(key, []).append(kappa)
        shared = int(counts.shared[u, v])
        message = "" if kappa is not None else "Kappa is undefined: too few shared items or no variation in verdicts."
        pairs.append(PairAgreement(
            first=table.annotators[u], second=table.annotators[v], first_group=table.groups[group_u],
            second_group=table.groups[group_v], shared_items=shared,
            tie_discounted=_ratio(counts.agree[u, v] + 0.5 * counts.one_tie[u, v], shared),
            agreement_with_ties=_ratio(counts.agree[u, v], shared),
            agreement_without_ties=_ratio(counts.agree_without_ties[u, v], counts.without_ties[u, v]),
            items_without_ties=int(counts.without_ties[u, v]), cohen_kappa=kappa,
            insufficient=False, message=message,
        ))
    group_pairs = _group_pair_agreement(table, matrix, counts, upper, kappas)
    alpha, alpha_message = _alpha(_value_counts(matrix, np.ones(len(matrix.verdict), dtype=bool)))
    message = ""
    if not pairs:
        message = "No two annotators judged the same item."
    elif alpha is None:
        message = alpha_message
    return AgreementReport(
        pairs=pairs, group_pairs=group_pairs, krippendorff_alpha=alpha, annotators=matrix.n_annotators,
        shared_items=shared_items, duplicates_ignored=matrix.duplicates, insufficient=not pairs, message=message,
    )


def _value_counts(matrix: _VerdictMatrix, rows: np.ndarray) -> np.ndarray:
    return np.bincount(
        matrix.item[rows] * 3 + matrix.verdict[rows], minlength=matrix.n_items * 3
    ).reshape(matrix.n_items, 3)


def _group_pair_agreement(
    table: JudgmentTable, matrix: _VerdictMatrix, counts: _PairCounts, upper: np.ndarray,
    kappas: dict[tuple[int, int], list[float]],
) -> list[GroupPairAgreement]:
    groups_present = sorted(set(matrix.annotator_group.tolist()), key=lambda g: table.groups[g])
    result = []
    for i, g in enumerate(groups_present):
        for h in groups_present[i:]:
            in_g, in_h = matrix.annotator_group == g, matrix.annotator_group == h
            # Unordered annotator pairs with one member in each group, each pair counted once.
            between = upper & (np.outer(in_g, in_h) | np.outer(in_h, in_g))
            shared = counts.shared[between].sum()
            names = (table.groups[g], table.groups[h])
            label = _group_label(*names)
            key = (min(g, h), max(g, h))
            pair_kappas = kappas.get(key, [])
            rows = (in_g | in_h)[matrix.annotator]
            alpha, alpha_message = _alpha(_value_counts(matrix, rows))
            if not shared:
                result.append(GroupPairAgreement(
                    groups=names, label=label, annotator_pairs=0, comparisons=0, tie_discounted=None,
                    agreement_with_ties=None, agreement_without_ties=None, mean_cohen_kappa=None,
                    krippendorff_alpha=alpha, insufficient=True,
                    message=f"No {label} annotator pair judged the same item.",
                ))
                continue
            result.append(GroupPairAgreement(
                groups=names, label=label, annotator_pairs=int(between.sum()), comparisons=int(shared),
                tie_discounted=_ratio(counts.agree[between].sum() + 0.5 * counts.one_tie[between].sum(), shared),
                agreement_with_ties=_ratio(counts.agree[between].sum(), shared),
                agreement_without_ties=_ratio(counts.agree_without_ties[between].sum(), counts.without_ties[between].sum()),
                mean_cohen_kappa=float(np.mean(pair_kappas)) if pair_kappas else None,
                krippendorff_alpha=alpha, insufficient=False, message=alpha_message if alpha is None else "",
            ))
    return result


def annotator_summaries(judgments: Iterable[PairwiseJudgment] | JudgmentTable) -> list[AnnotatorSummary]:
    """Per annotator: how much they judged, how they lean, and how well they agree with everyone else."""
    table = _table(judgments)
    if not len(table):
        return []
    matrix = _verdict_matrix(table)
    counts = _pair_counts(matrix)
    np.fill_diagonal(counts.shared, 0)
    np.fill_diagonal(counts.agree, 0)
    np.fill_diagonal(counts.one_tie, 0)
    judged = np.bincount(table.annotator, minlength=matrix.n_annotators)
    items = np.bincount(matrix.annotator, minlength=matrix.n_annotators)
    verdicts = np.bincount(table.annotator * 3 + table.verdict, minlength=matrix.n_annotators * 3).reshape(-1, 3)
    shared = counts.shared.sum(axis=1)
    partners = (counts.shared > 0).sum(axis=1)
    agree = counts.agree.sum(axis=1)
    one_tie = counts.one_tie.sum(axis=1)
    # Items this annotator shares with at least one other annotator.
    per_item = np.bincount(matrix.item, minlength=matrix.n_items)
    shared_item_count = np.bincount(matrix.annotator[per_item[matrix.item] >= 2], minlength=matrix.n_annotators)
    result = []
    for a, name in enumerate(table.annotators):
        has_partner = bool(shared[a])
        result.append(AnnotatorSummary(
            annotator=name, group=table.groups[int(matrix.annotator_group[a])], judgments=int(judged[a]),
            items=int(items[a]), verdict_shares={v: float(c / judged[a]) for v, c in zip(VERDICTS, verdicts[a])},
            shared_items=int(shared_item_count[a]), partners=int(partners[a]),
            tie_discounted_with_others=_ratio(agree[a] + 0.5 * one_tie[a], shared[a]) if has_partner else None,
            agreement_with_others=_ratio(agree[a], shared[a]) if has_partner else None,
            insufficient=not has_partner,
            message="" if has_partner else "Shares no item with another annotator; agreement is unknown.",
        ))
    return result


# --- LLM judge biases --------------------------------------------------------------------------


def position_bias(
    verdicts: Iterable[OrderedVerdict], *, resamples: int = DEFAULT_RESAMPLES, confidence: float = 0.95, seed: int = 0
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
        answers: dict[str, dict[str, OrderedVerdict]] = {}
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


def _model_verdict(answer: OrderedVerdict) -> int:
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
        spearman = _safe_float(scipy_stats.spearmanr(difference, score).statistic)
        pearson = _safe_float(np.corrcoef(difference, score)[0, 1])
    return LengthBias(
        n=int(len(rows)), bins=length_bins, spearman=spearman, pearson=pearson, insufficient=False,
        message="Correlation is undefined: lengths or verdicts do not vary." if constant else "",
    )


def _opt(value: Any) -> float | None:
    return None if value is None else float(value)


# --- absolute ratings --------------------------------------------------------------------------


def rating_distribution(
    ratings: Iterable[Rating],
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


# --- the whole report --------------------------------------------------------------------------


def statistics_report(
    judgments: Iterable[PairwiseJudgment] | JudgmentTable,
    ratings: Iterable[Rating] = (),
    ordered_verdicts: Iterable[OrderedVerdict] = (),
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
    common = {"resamples": resamples, "confidence": confidence, "seed": seed}
    notes = []
    human_rows = table.group_mask(llm_groups, exclude=True)
    if not human_rows.any():
        notes.append("No human judgments.")
    if human_rows.all():
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
