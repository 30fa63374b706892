"""Inter-annotator agreement: tie-discounted accuracy, Cohen's kappa, Krippendorff's alpha, per pair, group pair and annotator."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from scipy import sparse

from .tables import BASELINE, TARGET, TIE, VERDICTS, _VERDICT_CODE, JudgmentTable, PairwiseJudgment, VerdictName, _table

# Tie-discounted credit, indexed [verdict_a, verdict_b] with target=0, tie=1, baseline=2.
_TIE_DISCOUNTED_CREDIT = np.array([[1.0, 0.5, 0.0], [0.5, 1.0, 0.5], [0.0, 0.5, 1.0]])


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
    """Annotator pairs of two groups (or within one), pooled; `label` reads like the paper's "crowd-author".

    The pair statistics (tie-discounted agreement, Cohen's κ) count only pairs with one annotator in each
    group. `krippendorff_alpha` is not a between-group statistic: it is α over every annotator of both
    groups pooled (within-group pairs included), and pages and reports label it so.
    """

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
class AnnotatorAgreement:
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


def tie_discounted_accuracy(a: Sequence[VerdictName], b: Sequence[VerdictName]) -> float:
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
    from sklearn.metrics import cohen_kappa_score  # scikit-learn, scipy and krippendorff load when first used (charts.py)

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
    import krippendorff

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
        from scipy import sparse

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
    # VerdictName vectors per annotator, sorted by item, to pair them up for kappa.
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


def annotator_summaries(judgments: Iterable[PairwiseJudgment] | JudgmentTable) -> list[AnnotatorAgreement]:
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
        result.append(AnnotatorAgreement(
            annotator=name, group=table.groups[int(matrix.annotator_group[a])], judgments=int(judged[a]),
            items=int(items[a]), verdict_shares={v: float(c / judged[a]) for v, c in zip(VERDICTS, verdicts[a])},
            shared_items=int(shared_item_count[a]), partners=int(partners[a]),
            tie_discounted_with_others=_ratio(agree[a] + 0.5 * one_tie[a], shared[a]) if has_partner else None,
            agreement_with_others=_ratio(agree[a], shared[a]) if has_partner else None,
            insufficient=not has_partner,
            message="" if has_partner else "Shares no item with another annotator; agreement is unknown.",
        ))
    return result
