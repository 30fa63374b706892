"""Tournaments: Bradley–Terry ratings by maximum likelihood, as Chatbot Arena computes them, with cluster-bootstrap
intervals and the observed win-rate matrix (no Django import).

Under Bradley–Terry, model i beats model j with probability 1 / (1 + exp(-(θi - θj))). The maximum-likelihood θ is
the coefficient vector of a logistic regression without intercept on rows x = e_i - e_j (Arena's
`compute_mle_elo`), fitted here by scikit-learn's `LogisticRegression` without penalty on the aggregated win counts
(one weighted row per ordered pair, not one per battle: the same likelihood, at a cost independent of the number of
battles). The bootstrap's hundreds of refits use a batched Newton solver of the same likelihood
(`fit_bradley_terry_many`, checked against scikit-learn in the tests). A tie counts as half a win for each side, as Arena counts it. Strengths are shown on Arena's Elo-like
scale: rating = 1000 + 400 · log10(e) · θ, centred on 1000 (only differences are identified).

Intervals come from a cluster bootstrap over prompts (as every other interval here): a prompt's battles are
resampled together, each resample is refitted, and the percentile interval of each model's rating is reported.
The maximum-likelihood estimate exists only when the "beat or tied" graph is strongly connected (Zermelo, 1929;
Hunter, 2004): a model that never lost would have an infinite rating. Such a tournament is fitted anyway (the
solver stops at a large finite value) and flagged `insufficient` with the reason.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from .bootstrap import _check_bootstrap_args, _rng
from .tables import _factorize

BattleWinner = Literal["a", "b", "tie"]
ELO_INITIAL = 1000.0
ELO_SCALE = 400.0
# As Chatbot Arena's leaderboard (its first notebook drew 100); the batched refit makes 1,000 cheap.
DEFAULT_TOURNAMENT_RESAMPLES = 1000
_NATURAL_TO_ELO = ELO_SCALE / np.log(10.0)


@dataclass(frozen=True)
class Battle:
    """One verdict on one prompt between two models: a, b or tie (the prompt is the bootstrap's cluster)."""

    model_a: str
    model_b: str
    winner: BattleWinner
    prompt: str = ""


@dataclass(frozen=True)
class ModelRating:
    model: str
    rank: int  # 0 for a listed model without battles
    rating: float | None  # None without battles
    low: float | None
    high: float | None
    battles: int
    wins: int
    ties: int
    losses: int


@dataclass(frozen=True)
class TournamentReport:
    """The leaderboard (best first) and the win-rate matrix in the leaderboard's order.

    `win_rate[i][j]` is the share of battles between models i and j that i won, a tie counting half (None when the
    two never met); `battle_counts[i][j]` how many there were.
    """

    ratings: list[ModelRating]
    win_rate: list[list[float | None]]
    battle_counts: list[list[int]]
    n_battles: int
    n_prompts: int
    resamples: int
    confidence: float
    insufficient: bool
    message: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def models(self) -> list[str]:
        return [rating.model for rating in self.ratings]

    @property
    def matrix_rows(self) -> list[tuple[ModelRating, list[float | None]]]:
        """Each leaderboard row with its row of the win-rate matrix (for tables)."""
        return list(zip(self.ratings, self.win_rate))


def win_matrix(a: np.ndarray, b: np.ndarray, winner: np.ndarray, n_models: int, weights: np.ndarray | None = None) -> np.ndarray:
    """wins[i, j]: how often i beat j, a tie counting half for each side (winner codes: 0 = a, 1 = b, 2 = tie)."""
    weights = np.ones(len(a)) if weights is None else weights
    wins = np.zeros((n_models, n_models))
    a_share = np.where(winner == 0, 1.0, np.where(winner == 2, 0.5, 0.0)) * weights
    np.add.at(wins, (a, b), a_share)
    np.add.at(wins, (b, a), weights - a_share)
    return wins


def _design(n_models: int) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]:
    upper = np.triu_indices(n_models, 1)
    rows = np.zeros((len(upper[0]), n_models))
    rows[np.arange(len(upper[0])), upper[0]] = 1.0
    rows[np.arange(len(upper[0])), upper[1]] = -1.0
    return np.vstack([rows, rows]), np.r_[np.ones(len(rows)), np.zeros(len(rows))], upper


MAX_ITERATIONS = 1000
# A bootstrap resample in which some model never lost has no finite optimum: L-BFGS would wander to its iteration cap
# (a third of a second a fit). Such resamples are fitted with a weak ridge instead (sklearn's C: the penalty is
# ||θ||² / 2 against C times the log-likelihood), which keeps the estimate finite, far out, and is reported.
DISCONNECTED_RIDGE_C = 100.0


def fit_bradley_terry(wins: np.ndarray, *, tol: float = 1e-8, max_iter: int = MAX_ITERATIONS, ridge_c: float = np.inf) -> np.ndarray:
    """Natural-log strengths θ (mean 0) that maximise the Bradley–Terry likelihood of a win matrix.

    `wins[i, j]` is how often i beat j (fractions allowed: ties as halves). A model without any battle gets θ = 0.
    `ridge_c` below infinity adds the weak L2 penalty used for disconnected resamples.
    """
    n_models = wins.shape[0]
    if n_models < 2:
        return np.zeros(n_models)
    design, outcome, upper = _design(n_models)
    weights = np.r_[wins[upper], wins.T[upper]]
    if weights.sum() == 0:
        return np.zeros(n_models)
    from sklearn.exceptions import ConvergenceWarning  # scikit-learn and scipy load when first used (charts.py)
    from sklearn.linear_model import LogisticRegression

    with warnings.catch_warnings():
        # An unconnected tournament (a model that never lost) has no finite optimum: the caller flags it.
        warnings.simplefilter("ignore", ConvergenceWarning)
        fitted = LogisticRegression(fit_intercept=False, C=ridge_c, tol=tol, max_iter=max_iter).fit(design, outcome, sample_weight=weights)
    theta = fitted.coef_[0]
    return theta - theta.mean()


def fit_bradley_terry_many(wins: np.ndarray, *, ridge_c: np.ndarray | float = np.inf, tol: float = 1e-10,
                           max_iter: int = 100) -> np.ndarray:
    """The same maximum-likelihood fit for R win matrices at once (R x n x n -> R x n), by batched Newton steps.

    The bootstrap refits hundreds of resamples; one scikit-learn fit each costs milliseconds of Python overhead (tens
    on a loaded machine), this costs one batched linear solve per step. The log-likelihood is concave, so Newton's
    method from θ = 0 converges in a handful of steps (tests check it against `fit_bradley_terry`). `ridge_c` has
    scikit-learn's meaning (penalty ||θ||² / (2C)), per matrix or for all.
    """
    wins = np.asarray(wins, dtype=float)
    resamples, n_models, _ = wins.shape
    ridge = 1.0 / np.broadcast_to(np.asarray(ridge_c, dtype=float), (resamples,))
    games = wins + wins.transpose(0, 2, 1)
    won = wins.sum(axis=2)
    theta = np.zeros((resamples, n_models))
    diagonal = np.arange(n_models)
    # Only differences are identified: adding the mean direction (1 1ᵀ / n) to the Hessian fixes the gauge without
    # changing a step, whose gradient sums to zero without a ridge.
    gauge = np.full((n_models, n_models), 1.0 / n_models)
    for _ in range(max_iter):
        p = 1.0 / (1.0 + np.exp(theta[:, None, :] - theta[:, :, None]))
        gradient = won - (games * p).sum(axis=2) - ridge[:, None] * theta
        curvature = games * p * (1.0 - p)
        hessian = -curvature
        hessian[:, diagonal, diagonal] = curvature.sum(axis=2) + ridge[:, None]
        step = np.linalg.solve(hessian + gauge, gradient[..., None])[..., 0]
        step = np.clip(step, -3.0, 3.0)  # a damped first step when some probabilities start far from their optimum
        theta += step
        if np.abs(step).max() < tol:
            break
    return theta - theta.mean(axis=1, keepdims=True)


def to_elo(theta: np.ndarray) -> np.ndarray:
    return ELO_INITIAL + _NATURAL_TO_ELO * (theta - theta.mean(axis=-1, keepdims=True))


def strongly_connected(wins: np.ndarray) -> bool:
    """Whether every model can be reached from every other along "beat or tied" edges: the MLE is then finite."""
    if wins.shape[0] < 2:
        return True
    from scipy.sparse.csgraph import connected_components

    count, _ = connected_components(wins > 0, directed=True, connection="strong")
    return count == 1


def _cluster_patterns(clusters: np.ndarray, a: np.ndarray, b: np.ndarray, winner: np.ndarray, n_models: int):
    """Each prompt's win matrix (flattened), deduplicated, with how many prompts share it."""
    n_clusters = int(clusters.max()) + 1
    a_share = np.where(winner == 0, 1.0, np.where(winner == 2, 0.5, 0.0))
    per_cluster = np.zeros((n_clusters, n_models * n_models))
    np.add.at(per_cluster, (clusters, a * n_models + b), a_share)
    np.add.at(per_cluster, (clusters, b * n_models + a), 1.0 - a_share)
    patterns, frequency = np.unique(per_cluster, axis=0, return_counts=True)
    return n_clusters, patterns, frequency


def bradley_terry(
    battles: Iterable[Battle],
    *,
    models: Sequence[str] | None = None,
    resamples: int = DEFAULT_TOURNAMENT_RESAMPLES,
    confidence: float = 0.95,
    seed: int = 0,
) -> TournamentReport:
    """Leaderboard with bootstrap intervals and the win-rate matrix of a tournament.

    `models` fixes which models are listed (a model without battles is listed last, unrated); by default every model
    that appears in a battle.
    """
    _check_bootstrap_args(resamples, confidence)
    chosen = list(battles)
    for battle in chosen:
        if battle.winner not in ("a", "b", "tie"):
            raise ValueError(f"unknown winner {battle.winner!r} (expected a, b or tie)")
        if battle.model_a == battle.model_b:
            raise ValueError(f"a battle of {battle.model_a!r} against itself")
    names = list(dict.fromkeys(list(models or []) + [m for battle in chosen for m in (battle.model_a, battle.model_b)]))
    index = {name: i for i, name in enumerate(names)}
    n_models = len(names)
    a = np.fromiter((index[battle.model_a] for battle in chosen), dtype=np.int64, count=len(chosen))
    b = np.fromiter((index[battle.model_b] for battle in chosen), dtype=np.int64, count=len(chosen))
    winner = np.fromiter(({"a": 0, "b": 1, "tie": 2}[battle.winner] for battle in chosen), dtype=np.int64, count=len(chosen))
    wins = win_matrix(a, b, winner, n_models)
    counts = np.zeros((n_models, n_models), dtype=np.int64)
    np.add.at(counts, (a, b), 1)
    np.add.at(counts, (b, a), 1)
    if len(chosen) == 0 or n_models < 2:
        return TournamentReport(ratings=[], win_rate=[], battle_counts=[], n_battles=len(chosen), n_prompts=0, resamples=resamples,
                                confidence=confidence, insufficient=True, message="No battles between two models yet.")
    played = counts.sum(axis=1) > 0
    sub = np.ix_(played, played)
    connected = strongly_connected(wins[sub])
    theta = np.zeros(n_models)
    theta[played] = fit_bradley_terry(wins[sub], max_iter=MAX_ITERATIONS if connected else 100)
    rating = np.full(n_models, np.nan)
    rating[played] = to_elo(theta[played])

    clusters, _ = _factorize(battle.prompt for battle in chosen)
    n_clusters, patterns, frequency = _cluster_patterns(clusters, a, b, winner, n_models)
    low, high = np.full(n_models, np.nan), np.full(n_models, np.nan)
    if connected:  # without a finite estimate there is nothing for an interval to be around
        draws = _rng(seed, "bradley-terry").multinomial(n_clusters, frequency / n_clusters, size=resamples)
        boot_wins = (draws @ patterns).reshape(resamples, n_models, n_models)
        boot_wins = boot_wins[:, played][:, :, played]
        whole = np.array([strongly_connected(resampled) for resampled in boot_wins])
        disconnected = int((~whole).sum())
        boot = to_elo(fit_bradley_terry_many(boot_wins, ridge_c=np.where(whole, np.inf, DISCONNECTED_RIDGE_C)))
        tail = (1.0 - confidence) / 2.0
        low[played], high[played] = np.quantile(boot, [tail, 1.0 - tail], axis=0)

    order = sorted(range(n_models), key=lambda i: (not played[i], -(rating[i] if played[i] else 0.0), names[i]))
    ratings = []
    for rank, i in enumerate(order, start=1):
        won = int(np.sum(((a == i) & (winner == 0)) | ((b == i) & (winner == 1))))
        tied = int(np.sum(((a == i) | (b == i)) & (winner == 2)))
        total = int(np.sum((a == i) | (b == i)))
        ratings.append(ModelRating(
            model=names[i], rank=rank if played[i] else 0, rating=float(rating[i]) if played[i] else None,
            low=float(low[i]) if played[i] and connected else None, high=float(high[i]) if played[i] and connected else None,
            battles=total, wins=won, ties=tied, losses=total - won - tied,
        ))
    win_rate = [[float(wins[i, j] / counts[i, j]) if counts[i, j] else None for j in order] for i in order]
    battle_counts = [[int(counts[i, j]) for j in order] for i in order]
    message = ""
    if not connected:
        message = ("The ratings are not identifiable: some models never lost (or never won) against the rest, so their "
                   "maximum-likelihood rating is infinite; the ratings shown only order them, without intervals. Compare more "
                   "pairs, or read the win-rate matrix instead.")
    elif n_clusters < 2:
        message = "Only one prompt: the intervals cannot reflect variation between prompts."
    notes = []
    if connected and disconnected:
        notes.append(f"In {disconnected} of {resamples} bootstrap resamples some model never lost (or never won); those were "
                     "fitted with a weak ridge, so the intervals are wide where the data are thin.")
    if not played.all():
        notes.append("Without any battle (not rated): " + ", ".join(names[i] for i in range(n_models) if not played[i]) + ".")
    return TournamentReport(
        ratings=ratings, win_rate=win_rate, battle_counts=battle_counts, n_battles=len(chosen), n_prompts=n_clusters,
        resamples=resamples, confidence=confidence, insufficient=not connected or n_clusters < 2, message=message, notes=notes,
    )


def balanced_pairs(runs: Sequence, *, rounds: int = 1) -> list[tuple]:
    """Every unordered pair of `runs` once per round, each run first in as many pairs as second (±1), so a
    tournament of N runs is balanced: every run meets every other equally often."""
    pairs = []
    n = len(runs)
    for round_index in range(rounds):
        for i in range(n):
            for j in range(i + 1, n):
                # Circle rule: i leads against j when (j - i) is odd, flipped each round.
                first_is_i = ((j - i) % 2 == 1) != bool(round_index % 2)
                pairs.append((runs[i], runs[j]) if first_is_i else (runs[j], runs[i]))
    return pairs
