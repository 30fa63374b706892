"""Bradley–Terry ratings (annotation/evaluation/stats/bradley_terry.py) against truth found independently of it:
the two-player closed form, Zermelo's / Hunter's MM iteration written out here, Agresti's published baseball fit,
and synthetic tournaments with known strengths (recovered order, interval coverage over seeds)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from annotation.evaluation.stats.bradley_terry import (
    ELO_INITIAL,
    Battle,
    balanced_pairs,
    bradley_terry,
    fit_bradley_terry,
    fit_bradley_terry_many,
    strongly_connected,
    to_elo,
)

ELO_PER_NAT = 400 / math.log(10)


def _battles(a: str, b: str, a_wins: int, b_wins: int, ties: int = 0, prompt_prefix: str = "") -> list[Battle]:
    outcomes = ["a"] * a_wins + ["b"] * b_wins + ["tie"] * ties
    return [Battle(a, b, winner, prompt=f"{prompt_prefix}{a}-{b}-{k}") for k, winner in enumerate(outcomes)]  # type: ignore[arg-type]


def test_two_players_match_the_closed_form_log_odds():
    # With two players the likelihood is binomial: the MLE of θa − θb is log(wins / losses), here log(7/3).
    report = bradley_terry(_battles("x", "y", 7, 3), resamples=20)
    ratings = {r.model: r.rating for r in report.ratings}
    assert ratings["x"] - ratings["y"] == pytest.approx(ELO_PER_NAT * math.log(7 / 3), abs=1e-3)
    assert (ratings["x"] + ratings["y"]) / 2 == pytest.approx(ELO_INITIAL)


def test_a_tie_counts_half_a_win_for_each_side():
    # 6 wins, 2 losses, 4 ties: 8 wins to 4 in half-win terms, log(8/4).
    report = bradley_terry(_battles("x", "y", 6, 2, ties=4), resamples=20)
    ratings = {r.model: r for r in report.ratings}
    assert ratings["x"].rating - ratings["y"].rating == pytest.approx(ELO_PER_NAT * math.log(2), abs=1e-3)
    assert (ratings["x"].wins, ratings["x"].ties, ratings["x"].losses) == (6, 4, 2)
    assert report.win_rate[0][1] == pytest.approx(8 / 12)


def _mm_strengths(wins: np.ndarray, iterations: int = 20000) -> np.ndarray:
    """Zermelo's iteration (Hunter 2004, eq. 3): p_i ← W_i / Σ_j n_ij / (p_i + p_j), then log and centre."""
    n = wins.shape[0]
    games = wins + wins.T
    p = np.ones(n)
    for _ in range(iterations):
        p = wins.sum(axis=1) / np.array([sum(games[i, j] / (p[i] + p[j]) for j in range(n) if j != i) for i in range(n)])
        p /= np.exp(np.log(p).mean())
    return np.log(p)


def test_three_players_match_the_mm_iteration():
    wins = np.array([[0, 6, 8], [4, 0, 5], [2, 5, 0]], dtype=float)
    assert np.allclose(fit_bradley_terry(wins), _mm_strengths(wins, 3000), atol=1e-4)


# Agresti, Categorical Data Analysis (2nd ed., 2002), section 10.6: the 1987 American League East, wins of the row
# team against the column team (home and away together), as shipped in the R package BradleyTerry2 (data/baseball.csv).
TEAMS = ["Milwaukee", "Detroit", "Toronto", "New York", "Boston", "Cleveland", "Baltimore"]
BASEBALL = np.array([
    [0, 7, 9, 7, 7, 9, 11],
    [6, 0, 7, 5, 11, 9, 9],
    [4, 6, 0, 7, 7, 8, 12],
    [6, 8, 6, 0, 6, 7, 10],
    [6, 2, 6, 7, 0, 7, 12],
    [4, 4, 5, 6, 6, 0, 6],
    [2, 4, 1, 3, 1, 7, 0],
], dtype=float)
# BTm(cbind(home.wins, away.wins), home.team, away.team) in BradleyTerry2's tests/baseball.Rout.save (Baltimore = 0).
PUBLISHED = {"Milwaukee": 1.5814, "Detroit": 1.4364, "Toronto": 1.2945, "New York": 1.2476, "Boston": 1.1077,
             "Cleveland": 0.6839, "Baltimore": 0.0}


def test_the_published_baseball_fit_is_reproduced():
    theta = fit_bradley_terry(BASEBALL)
    relative = theta - theta[TEAMS.index("Baltimore")]
    assert {team: round(float(value), 4) for team, value in zip(TEAMS, relative)} == pytest.approx(PUBLISHED, abs=2e-4)


def test_the_baseball_leaderboard_through_battles_orders_the_teams_as_published():
    battles = [Battle(TEAMS[i], TEAMS[j], "a", prompt=f"{i}-{j}-{k}")
               for i in range(7) for j in range(7) for k in range(int(BASEBALL[i, j]))]
    report = bradley_terry(battles, resamples=50, seed=3)
    assert report.models == sorted(PUBLISHED, key=PUBLISHED.get, reverse=True)
    assert not report.insufficient
    milwaukee = report.ratings[0]
    assert milwaukee.low < milwaukee.rating < milwaukee.high


def test_the_batched_bootstrap_fit_equals_scikit_learns_fit():
    rng = np.random.default_rng(7)
    matrices = rng.integers(0, 12, (6, 5, 5)).astype(float) * (1 - np.eye(5))
    matrices[0] = BASEBALL[:5, :5]
    assert np.allclose(fit_bradley_terry_many(matrices), [fit_bradley_terry(m) for m in matrices], atol=1e-6)
    never_lost = np.array([[[0, 8, 0], [0, 0, 1], [0, 3, 0]]], dtype=float)  # model 0 never lost: only the ridge is finite
    assert np.allclose(fit_bradley_terry_many(never_lost, ridge_c=100.0)[0], fit_bradley_terry(never_lost[0], ridge_c=100.0), atol=1e-6)


def test_resamples_where_a_model_never_lost_are_counted_in_a_note():
    # x lost once, on one prompt of six: many prompt resamples leave x unbeaten.
    battles = [Battle("x", "y", "a", prompt=str(i % 5)) for i in range(8)] + [Battle("y", "x", "a", prompt="lost")]
    battles += [Battle("y", "z", "b", prompt=f"z{i}") for i in range(3)] + [Battle("y", "z", "a", prompt="z-won")]
    report = bradley_terry(battles, resamples=200)
    assert not report.insufficient and "bootstrap resamples some model never lost" in report.notes[0]
    top = report.ratings[0]
    assert top.model == "x" and top.low < top.rating < top.high


def test_a_model_that_never_lost_is_flagged_not_rated_silently():
    report = bradley_terry(_battles("x", "y", 5, 0) + _battles("y", "z", 3, 2), resamples=10)
    assert report.insufficient and "never lost" in report.message
    assert report.models[0] == "x" and all(r.low is None for r in report.ratings)  # no interval around an infinite estimate
    assert not strongly_connected(np.array([[0, 5, 0], [0, 0, 3], [0, 2, 0]], dtype=float))
    assert strongly_connected(np.array([[0, 5, 0], [1, 0, 3], [0, 2, 0]], dtype=float))


def test_win_rate_matrix_is_in_leaderboard_order_and_complementary():
    battles = _battles("weak", "strong", 2, 8) + _battles("strong", "mid", 6, 4) + _battles("mid", "weak", 7, 3)
    report = bradley_terry(battles, resamples=20)
    assert report.models == ["strong", "mid", "weak"]
    assert report.win_rate[0][0] is None
    for i in range(3):
        for j in range(3):
            if i != j:
                assert report.win_rate[i][j] + report.win_rate[j][i] == pytest.approx(1.0)
                assert report.battle_counts[i][j] == 10
    assert report.win_rate[0][2] == pytest.approx(0.8)


def test_listed_models_without_battles_come_last_unrated():
    report = bradley_terry(_battles("x", "y", 3, 2), models=["z", "x", "y"], resamples=10)
    assert report.models[-1] == "z" and report.ratings[-1].rank == 0 and report.ratings[-1].low is None
    assert "z" in report.notes[0]


def test_bad_battles_are_refused():
    with pytest.raises(ValueError, match="against itself"):
        bradley_terry([Battle("x", "x", "a")])
    with pytest.raises(ValueError, match="unknown winner"):
        bradley_terry([Battle("x", "y", "draw")])  # type: ignore[arg-type]
    assert bradley_terry([]).insufficient


def test_balanced_pairs_meet_every_opponent_once_per_round_and_lead_evenly():
    runs = ["r1", "r2", "r3", "r4", "r5"]
    pairs = balanced_pairs(runs, rounds=2)
    assert len(pairs) == 2 * 10
    for run in runs:
        opponents = [b if a == run else a for a, b in pairs if run in (a, b)]
        assert sorted(opponents) == sorted([r for r in runs if r != run] * 2)
        assert sum(a == run for a, b in pairs) == 4  # leads in half its 8 pairs over two rounds
    assert len({frozenset(pair) for pair in balanced_pairs(runs)}) == 10


def synthetic_tournament(strengths: np.ndarray, *, prompts: int, rng: np.random.Generator, tie_band: float = 0.0) -> list[Battle]:
    """Every pair of models on every prompt; i beats j with the Bradley–Terry probability of the true strengths."""
    battles = []
    n = len(strengths)
    for prompt in range(prompts):
        for i in range(n):
            for j in range(i + 1, n):
                p = 1 / (1 + math.exp(strengths[j] - strengths[i]))
                u = rng.random()
                winner = "a" if u < p else "b"
                battles.append(Battle(f"m{i}", f"m{j}", winner, prompt=str(prompt)))  # type: ignore[arg-type]
    return battles


def coverage_experiment(*, seeds: int, prompts: int, resamples: int) -> dict:
    """Fraction of seeds recovering the true order exactly, and of (seed, model) intervals covering the true rating."""
    strengths = np.array([0.0, 0.4, 0.8, 1.2, 1.6])
    true = to_elo(strengths)
    exact_order, covered, total = 0, 0, 0
    for seed in range(seeds):
        report = bradley_terry(synthetic_tournament(strengths, prompts=prompts, rng=np.random.default_rng(seed)),
                               resamples=resamples, seed=seed)
        exact_order += report.models == ["m4", "m3", "m2", "m1", "m0"]
        for rating in report.ratings:
            total += 1
            covered += rating.low <= true[int(rating.model[1:])] <= rating.high
    return {"seeds": seeds, "exact_order": exact_order / seeds, "coverage": covered / total}


def test_synthetic_tournament_recovers_the_order_and_intervals_cover_the_truth():
    # 5 models 0.4 nats apart, 60 prompts x 10 pairs. Measured over 40 seeds x 200 resamples (bench_tournament has more).
    result = coverage_experiment(seeds=40, prompts=60, resamples=200)
    assert result["exact_order"] >= 0.8
    assert 0.85 <= result["coverage"] <= 0.99
