"""The study statistics against truth that does not come from the code's own libraries.

Three kinds of truth, none of them a call to scikit-learn or the krippendorff package (which the module uses):
- small cases computed by hand here, with the arithmetic written out;
- figures published by others, cited at each test (Krippendorff 2011, Newcombe 1998, the Cohen's kappa example
  of Wikipedia's article, the LIMA paper's own "equal or better" sums);
- simulations with fixed seeds whose tolerance is tight enough to tell a 95% interval from a 90% one.
"""

from __future__ import annotations

import csv
import io
import math
import secrets

import numpy as np
import pytest

from annotation.evaluation.judgment_import import parse_judgments
from annotation.evaluation.stats import PairwiseJudgment, agreement, rating_distribution, tie_discounted_accuracy, win_rates
from annotation.evaluation.stats import GradeRecord

LETTER = {"T": "target", "X": "tie", "B": "baseline"}


def pair_judgments(first: str, second: str) -> list[PairwiseJudgment]:
    """Two annotators' verdicts, one letter per item (T target better, X tie, B baseline better, . not judged)."""
    judgments = []
    for annotator, letters in (("first", first), ("second", second)):
        judgments += [PairwiseJudgment(item=f"i{n}", prompt=f"i{n}", baseline="base", annotator=annotator, group="crowd",
                                       verdict=LETTER[letter]) for n, letter in enumerate(letters) if letter != "."]
    return judgments


# --- hand-computed: a three-category case ------------------------------------------------------

def test_kappa_alpha_and_tie_discounted_agreement_of_a_hand_computed_three_category_case():
    first, second = "TTXBBT", "TXXBTT"
    (pair,) = agreement(pair_judgments(first, second)).pairs
    # Items: (T,T) (T,X) (X,X) (B,B) (B,T) (T,T).
    # Tie-discounted (LIMA): 1 + 0.5 + 1 + 1 + 0 + 1 = 4.5 over 6 items.
    assert pair.tie_discounted == pytest.approx(4.5 / 6)
    # Cohen's kappa: p_o = 4/6 agree. Marginals first T3 X1 B2, second T3 X2 B1:
    # p_e = (3*3 + 1*2 + 2*1) / 6^2 = 13/36; kappa = (24/36 - 13/36) / (1 - 13/36) = 11/23.
    assert pair.cohen_kappa == pytest.approx(11 / 23, abs=1e-12)
    # Krippendorff's alpha (nominal): n = 12 pairable values, T 6, X 3, B 3. Two units disagree, each adding
    # two ordered disagreeing pairs: D_o = 4/12. D_e = (12^2 - (6^2 + 3^2 + 3^2)) / (12 * 11) = 90/132.
    # alpha = 1 - (4/12) / (90/132) = 1 - 528/1080 = 23/45.
    assert agreement(pair_judgments(first, second)).krippendorff_alpha == pytest.approx(23 / 45, abs=1e-12)
    # Plain agreement without ties: items where neither said tie are 1, 4, 5, 6; three agree.
    assert pair.items_without_ties == 4 and pair.agreement_without_ties == pytest.approx(3 / 4)


def test_alpha_counts_every_pair_of_a_unit_judged_by_three():
    # Three annotators on 2 items: unit 1 (T, T, B), unit 2 (X, X, X).
    judgments = [PairwiseJudgment(item=item, prompt=item, baseline="base", annotator=who, group="crowd", verdict=LETTER[v])
                 for item, verdicts in (("u1", "TTB"), ("u2", "XXX")) for who, v in zip(("a", "b", "c"), verdicts)]
    # Coincidences of unit 1 (m = 3, weight 1/(m-1) = 1/2): ordered pairs T-T 2, T-B 2*2 = 4 -> o_TB = o_BT = 2 * 1/2 = 1.
    # n = 6 values: T 2, X 3, B 1. D_o = (o_TB + o_BT) / n = 2/6.
    # D_e = (6^2 - (2^2 + 3^2 + 1^2)) / (6 * 5) = 22/30.  alpha = 1 - (2/6) / (22/30) = 1 - 60/132 = 6/11.
    assert agreement(judgments).krippendorff_alpha == pytest.approx(6 / 11, abs=1e-12)


def test_tie_discounted_accuracy_written_out():
    # LIMA section 3: 1 when both agree, 0.5 when exactly one says tie, 0 otherwise.
    assert tie_discounted_accuracy(["target", "tie", "baseline", "tie"], ["baseline", "target", "baseline", "tie"]) == 2.5 / 4


# --- published figures -------------------------------------------------------------------------

def test_krippendorffs_binary_example_through_the_module():
    """Krippendorff, K. (2011). Computing Krippendorff's Alpha-Reliability. Annenberg School for Communication,
    University of Pennsylvania, https://repository.upenn.edu/asc_papers/43 , section A ("binary or dichotomous data,
    two observers, no missing data"): observer A 0100000010, observer B 1110010000, alpha = 0.095."""
    observer_a, observer_b = "0100000010", "1110010000"
    as_verdicts = str.maketrans({"0": "T", "1": "B"})
    report = agreement(pair_judgments(observer_a.translate(as_verdicts), observer_b.translate(as_verdicts)))
    # The paper: alpha = 1 - (n - 1) o_01 / (n_0 n_1) = 1 - 19 * 4 / (14 * 6) = 0.095.
    assert report.krippendorff_alpha == pytest.approx(1 - 19 * 4 / (14 * 6), abs=1e-12)
    assert round(report.krippendorff_alpha, 3) == 0.095


def test_cohens_kappa_on_the_textbook_two_by_two_table():
    """Wikipedia, "Cohen's kappa", section "Simple example" (https://en.wikipedia.org/wiki/Cohen%27s_kappa): 50
    proposals read by A and B; both yes 20, A yes B no 5, A no B yes 10, both no 15; p_o = 0.7, p_e = 0.5,
    kappa = 0.4."""
    first = "T" * 20 + "T" * 5 + "B" * 10 + "B" * 15
    second = "T" * 20 + "B" * 5 + "T" * 10 + "B" * 15
    (pair,) = agreement(pair_judgments(first, second)).pairs
    assert pair.shared_items == 50
    assert pair.agreement_with_ties == pytest.approx(0.7)
    assert pair.cohen_kappa == pytest.approx(0.4, abs=1e-12)


def one_verdict_per_prompt(successes: int, n: int) -> list[PairwiseJudgment]:
    return [PairwiseJudgment(item=f"p{i}", prompt=f"p{i}", baseline="base", annotator="a", group="crowd",
                             verdict="target" if i < successes else "baseline") for i in range(n)]


def test_a_95_percent_interval_matches_newcombes_published_intervals_and_a_90_percent_one_does_not():
    """Newcombe, R. G. (1998). Two-sided confidence intervals for the single proportion: comparison of seven
    methods. Statistics in Medicine 17, 857-872, Table II, example (a), 81/263: simple asymptotic (Wald) 95% interval
    0.2522-0.3638, score (Wilson) 0.2553-0.3662. With one verdict per prompt the cluster bootstrap is the ordinary
    bootstrap of a proportion, whose percentile interval lies between those two at this size."""
    wald, wilson = (0.2522, 0.3638), (0.2553, 0.3662)
    # The published figures, recomputed by hand from their formulas, so the cited numbers are read right.
    p, n, z = 81 / 263, 263, 1.959964
    half = z * math.sqrt(p * (1 - p) / n)
    assert (round(p - half, 4), round(p + half, 4)) == wald
    centre, spread = (81 + z * z / 2) / (n + z * z), z / (n + z * z) * math.sqrt(81 * 182 / n + z * z / 4)
    assert (round(centre - spread, 4), round(centre + spread, 4)) == wilson

    (outcome,) = win_rates(one_verdict_per_prompt(81, 263), resamples=20000, seed=0)
    share = outcome.target_wins
    assert share.estimate == pytest.approx(81 / 263)
    for published in (wald, wilson):
        assert share.low == pytest.approx(published[0], abs=0.005)
        assert share.high == pytest.approx(published[1], abs=0.005)
    # A 90% interval (Wald 0.2619-0.3541) is 0.01 narrower on each side: the tolerance above tells them apart.
    (ninety,) = win_rates(one_verdict_per_prompt(81, 263), resamples=20000, seed=0, confidence=0.90)
    assert abs(ninety.target_wins.low - wald[0]) > 0.005 and abs(ninety.target_wins.high - wald[1]) > 0.005


def test_coverage_of_the_95_percent_interval_is_95_not_90_percent():
    """2,000 simulated studies of 100 prompts (true target share 0.5, fixed seeds): a 95% interval covers the true
    share 95% of the time (binomial standard error of the count 0.5%); a 90% one covers about 90% and fails the
    0.935-0.965 band, as does a 99% one."""
    rng = np.random.default_rng(20240518)
    simulations, covered = 2000, 0
    for run in range(simulations):
        verdicts = rng.choice(["target", "tie", "baseline"], size=100, p=(0.5, 0.2, 0.3))
        judgments = [PairwiseJudgment(item=f"p{i}", prompt=f"p{i}", baseline="base", annotator="a", group="crowd",
                                      verdict=str(v)) for i, v in enumerate(verdicts)]
        (outcome,) = win_rates(judgments, resamples=1000, seed=run)
        covered += outcome.target_wins.low <= 0.5 <= outcome.target_wins.high
    assert 0.935 <= covered / simulations <= 0.965, covered / simulations


def test_rating_interval_of_the_paper_matches_a_hand_computed_wilson_interval():
    """LIMA section 4.3: of 50 responses, 50% excellent, 38% pass, 12% fail. The 95% Wilson interval of 25/50,
    computed by hand: centre (25 + 1.92) / 53.84 = 0.5, half-width 1.96/53.84 * sqrt(25*25/50 + 0.96) = 0.1339."""
    grades = ["excellent"] * 25 + ["pass"] * 19 + ["fail"] * 6
    distribution = rating_distribution(
        [GradeRecord(item=f"r{n}", annotator="au1", group="author", rating=g) for n, g in enumerate(grades)],
        resamples=20000,
    )
    z = 1.959964
    half = z / (50 + z * z) * math.sqrt(25 * 25 / 50 + z * z / 4)
    excellent = distribution.shares["excellent"]
    assert excellent.estimate == 0.5
    # The percentile bootstrap of a proportion at n = 50 is within 0.01 of Wilson's 0.366-0.634; a 90% interval,
    # 0.386-0.614, is not.
    assert excellent.low == pytest.approx(0.5 - half, abs=0.01) and excellent.high == pytest.approx(0.5 + half, abs=0.01)


# --- Figure 1 ----------------------------------------------------------------------------------

# LIMA (Zhou et al., 2023), Figure 1, human preference, LIMA wins / tie / LIMA loses in percent, and the "equal or
# better" shares the paper's text states separately (section 4.2: "LIMA's responses are either equivalent or
# strictly preferred to GPT-4 in 43% of cases ... Bard 58% ... DaVinci003 65%").
FIGURE_1 = {"Alpaca 65B": (53, 21, 26), "DaVinci003": (44, 21, 35), "Bard": (33, 25, 42), "Claude": (24, 22, 54),
            "GPT-4": (18, 25, 57)}
EQUAL_OR_BETTER = {"GPT-4": 43, "Bard": 58, "DaVinci003": 65}


def figure_1_as_an_uploaded_file() -> io.BytesIO:
    """300 prompts per baseline as annotators record them: sides A/B (LIMA on a random side), verdict a, b or tie."""
    side = secrets.SystemRandom(1)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["prompt_id", "model_a", "model_b", "verdict", "annotator", "annotator_group"])
    for baseline, (wins, ties, _) in FIGURE_1.items():
        for prompt in range(300):
            lima_is_a = side.random() < 0.5
            a, b = ("LIMA", baseline) if lima_is_a else (baseline, "LIMA")
            if prompt < wins * 3:
                verdict = "a" if lima_is_a else "b"
            elif prompt < (wins + ties) * 3:
                verdict = "tie"
            else:
                verdict = "b" if lima_is_a else "a"
            writer.writerow([f"{baseline}/{prompt}", a, b, verdict, "crowd-1", "crowd"])
    return io.BytesIO(buffer.getvalue().encode())


def test_figure_1_reproduced_from_side_verdicts_and_the_papers_equal_or_better_figures():
    imported = parse_judgments(figure_1_as_an_uploaded_file(), fmt="csv", target="LIMA")
    outcomes = {o.baseline: o for o in win_rates(imported.judgments, resamples=500)}
    assert list(outcomes) == list(FIGURE_1)
    for baseline, (wins, ties, losses) in FIGURE_1.items():
        outcome = outcomes[baseline]
        assert outcome.n_prompts == 300
        assert (round(100 * outcome.target_wins.estimate), round(100 * outcome.ties.estimate),
                round(100 * outcome.baseline_wins.estimate)) == (wins, ties, losses)
    # The paper's separately stated figures, not the sums of the tuples above.
    for baseline, percent in EQUAL_OR_BETTER.items():
        assert round(100 * outcomes[baseline].target_wins_or_ties.estimate) == percent
