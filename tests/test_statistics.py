"""Statistics of a study (LIMA section 3): hand-computed cases and cross-checks with the reference packages.

Independent truth (published figures, hand arithmetic, coverage that tells 95% from 90%) is in
tests/test_statistics_truth.py."""

from __future__ import annotations

import json
import math

import krippendorff
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score

from annotation.evaluation.stats import (
    GradeRecord,
    JudgeAnswer,
    JudgmentTable,
    PairwiseJudgment,
    agreement,
    annotator_summaries,
    length_bias,
    position_bias,
    rating_distribution,
    report_as_dict,
    side_preference,
    statistics_report,
    tie_discounted_accuracy,
    win_rates,
)

# LIMA Figure 1, human preference: (LIMA wins, tie, LIMA loses) in percent.
FIGURE_1 = {
    "Alpaca 65B": (53, 21, 26),
    "DaVinci003": (44, 21, 35),
    "Bard": (33, 25, 42),
    "Claude": (24, 22, 54),
    "GPT-4": (18, 25, 57),
}
CODES = {"target": 0, "tie": 1, "baseline": 2}


def judgment(item, annotator, verdict, *, group="crowd", baseline="Bard", prompt=None, **extra) -> PairwiseJudgment:
    return PairwiseJudgment(
        item=f"{item}", prompt=prompt or f"{item}", baseline=baseline, annotator=annotator, group=group,
        verdict=verdict, **extra,
    )


def figure_1_judgments(prompts: int = 300) -> list[PairwiseJudgment]:
    """One judgment per prompt and baseline, with exactly the paper's shares."""
    judgments = []
    for baseline, percents in FIGURE_1.items():
        counts = [p * prompts // 100 for p in percents]
        verdicts = ["target"] * counts[0] + ["tie"] * counts[1] + ["baseline"] * counts[2]
        judgments += [
            judgment(f"p{i}/{baseline}", "crowd-1", v, baseline=baseline, prompt=f"p{i}") for i, v in enumerate(verdicts)
        ]
    return judgments


def assert_no_nan(value) -> None:
    json.dumps(value, allow_nan=False)


def bernoulli_judgments(rng, n_prompts: int, p=(0.5, 0.2, 0.3), per_prompt: int = 1) -> list[PairwiseJudgment]:
    verdicts = rng.choice(["target", "tie", "baseline"], size=(n_prompts, per_prompt), p=p)
    return [
        judgment(f"p{i}", f"a{k}", str(verdicts[i, k])) for i in range(n_prompts) for k in range(per_prompt)
    ]


# --- Figure 1 ----------------------------------------------------------------------------------


def test_figure_1_counts_are_kept_per_baseline_in_the_order_given():
    # Figure 1 against the paper's figures, from side verdicts, is in tests/test_statistics_truth.py.
    outcomes = win_rates(figure_1_judgments(), resamples=500)
    assert [o.baseline for o in outcomes] == list(FIGURE_1)
    for outcome in outcomes:
        wins, ties, losses = FIGURE_1[outcome.baseline]
        assert outcome.n_judgments == outcome.n_prompts == 300
        assert outcome.counts == {"target": wins * 3, "tie": ties * 3, "baseline": losses * 3}
        assert round(100 * outcome.target_wins.estimate, 9) == wins
        assert round(100 * outcome.ties.estimate, 9) == ties
        assert round(100 * outcome.baseline_wins.estimate, 9) == losses
        assert not outcome.insufficient and outcome.message == ""
    # The paper's "equal or better" figures.
    at_least_tie = {o.baseline: round(100 * o.target_wins_or_ties.estimate) for o in outcomes}
    assert at_least_tie["GPT-4"] == 43 and at_least_tie["Bard"] == 58 and at_least_tie["DaVinci003"] == 65


def test_every_judgment_of_an_item_counts_and_prompts_are_the_resampled_unit():
    judgments = [
        judgment("p1", "a", "target"), judgment("p1", "b", "target"), judgment("p1", "c", "tie"),
        judgment("p2", "a", "baseline"),
    ]
    (outcome,) = win_rates(judgments, resamples=200)
    assert outcome.n_judgments == 4 and outcome.n_prompts == 2
    assert outcome.target_wins.estimate == pytest.approx(0.5)
    # Two prompts: a resample holds p1 twice, p2 twice or one of each, so the target share is 2/3, 0 or 1/2.
    assert outcome.target_wins.low == pytest.approx(0.0) and outcome.target_wins.high == pytest.approx(2 / 3)


def test_confidence_intervals_contain_the_estimate_and_narrow_with_more_prompts():
    rng = np.random.default_rng(7)
    widths = []
    for n in (50, 500, 5000):
        (outcome,) = win_rates(bernoulli_judgments(rng, n), resamples=1000)
        for share in (outcome.target_wins, outcome.ties, outcome.baseline_wins):
            assert 0.0 <= share.low <= share.estimate <= share.high <= 1.0
        widths.append(outcome.target_wins.high - outcome.target_wins.low)
    assert widths[0] > widths[1] > widths[2]
    # Roughly 1 / sqrt(n): ten times the prompts, about a third of the width.
    assert widths[1] / widths[0] == pytest.approx(10 ** -0.5, rel=0.3)


def test_bootstrap_is_reproducible_for_a_seed_and_independent_of_other_baselines():
    rng = np.random.default_rng(3)
    judgments = bernoulli_judgments(rng, 200)
    first = win_rates(judgments, seed=11, resamples=300)
    assert first == win_rates(judgments, seed=11, resamples=300)
    assert first != win_rates(judgments, seed=12, resamples=300)
    other = [judgment(f"q{i}", "a0", "tie", baseline="Claude") for i in range(50)]
    with_other = win_rates(judgments + other, seed=11, resamples=300)
    assert with_other[0] == first[0]


def test_pattern_bootstrap_matches_naive_prompt_resampling_in_distribution():
    """Drawing distinct per-prompt count vectors multinomially is the cluster bootstrap; compare with index draws."""
    rng = np.random.default_rng(5)
    judgments = bernoulli_judgments(rng, 120, per_prompt=3)
    (outcome,) = win_rates(judgments, resamples=20000, seed=1)
    per_prompt = np.zeros((120, 3))
    for j in judgments:
        per_prompt[int(j.prompt[1:]), CODES[j.verdict]] += 1
    draws = per_prompt[rng.integers(0, 120, size=(20000, 120))].sum(axis=1)
    naive = draws[:, 0] / draws.sum(axis=1)
    low, high = np.quantile(naive, [0.025, 0.975])
    assert outcome.target_wins.low == pytest.approx(low, abs=0.01)
    assert outcome.target_wins.high == pytest.approx(high, abs=0.01)


def test_a_baseline_without_judgments_says_so_instead_of_nan():
    outcomes = win_rates(figure_1_judgments(20), baselines=["GPT-4", "PaLM"], resamples=100)
    assert [o.baseline for o in outcomes] == ["GPT-4", "PaLM"]
    palm = outcomes[1]
    assert palm.insufficient and palm.n_judgments == 0 and palm.target_wins is None
    assert "No judgments against PaLM" in palm.message
    assert_no_nan(report_as_dict(palm))


def test_one_prompt_is_flagged_as_too_little_to_estimate_variation():
    (outcome,) = win_rates([judgment("p1", "a", "target"), judgment("p1", "b", "tie")], resamples=50)
    assert outcome.insufficient and "one prompt" in outcome.message
    assert outcome.target_wins.estimate == 0.5


def test_group_filters_split_humans_from_the_llm_judge():
    judgments = [judgment("p1", "h", "target"), judgment("p1", "gpt", "baseline", group="llm"),
                 judgment("p2", "h", "target"), judgment("p2", "gpt", "baseline", group="llm")]
    (human,) = win_rates(judgments, exclude_groups=["llm"], resamples=50)
    (llm,) = win_rates(judgments, groups=["llm"], resamples=50)
    assert human.counts == {"target": 2, "tie": 0, "baseline": 0}
    assert llm.counts == {"target": 0, "tie": 0, "baseline": 2}


def test_unknown_verdicts_and_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="unknown verdict 'win'"):
        win_rates([judgment("p1", "a", "win")])
    with pytest.raises(ValueError, match="resamples"):
        win_rates([judgment("p1", "a", "tie")], resamples=0)
    with pytest.raises(ValueError, match="confidence"):
        win_rates([judgment("p1", "a", "tie")], confidence=1.0)


# --- agreement ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "a, b, expected",
    [
        (["target"], ["target"], 1.0),       # both agree
        (["tie"], ["tie"], 1.0),             # both say tie: they agree
        (["tie"], ["baseline"], 0.5),        # exactly one says tie
        (["target"], ["tie"], 0.5),
        (["target"], ["baseline"], 0.0),     # opposite verdicts
        (["target", "tie", "target", "baseline"], ["target", "target", "baseline", "baseline"], 2.5 / 4),
    ],
)
def test_tie_discounted_accuracy_follows_lima_rule(a, b, expected):
    assert tie_discounted_accuracy(a, b) == pytest.approx(expected)
    assert tie_discounted_accuracy(b, a) == pytest.approx(expected)


def test_tie_discounted_accuracy_rejects_mismatched_or_empty_input():
    with pytest.raises(ValueError, match="differ in length"):
        tie_discounted_accuracy(["tie"], [])
    with pytest.raises(ValueError, match="no shared items"):
        tie_discounted_accuracy([], [])


def test_pair_agreement_is_hand_computed_over_shared_items_only():
    first = ["target", "tie", "target", "tie", "baseline"]
    second = ["target", "target", "baseline", "tie"]  # item 5 judged by the first annotator only
    judgments = [judgment(f"i{n}", "ann", v, group="author") for n, v in enumerate(first)]
    judgments += [judgment(f"i{n}", "bob", v, group="crowd") for n, v in enumerate(second)]
    report = agreement(judgments)
    (pair,) = report.pairs
    assert (pair.first, pair.second, pair.shared_items) == ("ann", "bob", 4)
    assert pair.tie_discounted == pytest.approx((1 + 0.5 + 0 + 1) / 4)
    assert pair.agreement_with_ties == pytest.approx(2 / 4)
    assert pair.items_without_ties == 2 and pair.agreement_without_ties == pytest.approx(1 / 2)
    assert pair.cohen_kappa == pytest.approx(cohen_kappa_score(first[:4], second))
    assert report.shared_items == 4 and not report.insufficient


def test_kappa_and_alpha_agree_with_the_reference_packages():
    rng = np.random.default_rng(0)
    annotators = ["a", "b", "c", "d"]
    judgments, reliability = [], np.full((4, 60), np.nan)
    for item in range(60):
        for k, name in enumerate(annotators):
            if rng.random() < 0.25:  # missing verdicts: not every annotator judges every item
                continue
            verdict = rng.choice(["target", "tie", "baseline"], p=[0.5, 0.2, 0.3])
            judgments.append(judgment(f"i{item}", name, str(verdict), group="crowd" if k < 2 else "author"))
            reliability[k, item] = CODES[str(verdict)]
    report = agreement(judgments)
    expected_alpha = krippendorff.alpha(reliability_data=reliability, level_of_measurement="nominal")
    assert report.krippendorff_alpha == pytest.approx(expected_alpha, abs=1e-12)
    for pair in report.pairs:
        u, v = annotators.index(pair.first), annotators.index(pair.second)
        both = ~np.isnan(reliability[u]) & ~np.isnan(reliability[v])
        assert pair.shared_items == both.sum()
        assert pair.cohen_kappa == pytest.approx(cohen_kappa_score(reliability[u, both], reliability[v, both]))
    crowd = next(g for g in report.group_pairs if g.label == "crowd-crowd")
    assert crowd.krippendorff_alpha == pytest.approx(
        krippendorff.alpha(reliability_data=reliability[:2], level_of_measurement="nominal"), abs=1e-12
    )


def test_group_pairs_pool_every_pair_of_verdicts():
    # Two authors and one crowd worker on two items; the LLM judge on one of them.
    judgments = [
        judgment("i1", "au1", "target", group="author"), judgment("i1", "au2", "tie", group="author"),
        judgment("i1", "cw1", "target", group="crowd"), judgment("i1", "gpt", "baseline", group="llm"),
        judgment("i2", "au1", "baseline", group="author"), judgment("i2", "au2", "baseline", group="author"),
        judgment("i2", "cw1", "tie", group="crowd"),
    ]
    by_label = {g.label: g for g in agreement(judgments).group_pairs}
    assert set(by_label) == {"author-author", "author-crowd", "author-llm", "crowd-crowd", "crowd-llm", "llm-llm"}
    assert by_label["author-author"].comparisons == 2
    assert by_label["author-author"].tie_discounted == pytest.approx((0.5 + 1) / 2)
    # author-crowd: i1 (au1 agree 1, au2 tie 0.5), i2 (both 0.5) -> 2.5 / 4
    assert by_label["author-crowd"].annotator_pairs == 2 and by_label["author-crowd"].comparisons == 4
    assert by_label["author-crowd"].tie_discounted == pytest.approx(2.5 / 4)
    assert by_label["author-llm"].tie_discounted == pytest.approx((0 + 0.5) / 2)
    assert by_label["crowd-llm"].tie_discounted == 0.0 and by_label["crowd-llm"].agreement_with_ties == 0.0
    for lonely in ("crowd-crowd", "llm-llm"):
        assert by_label[lonely].insufficient and by_label[lonely].tie_discounted is None
        assert "No " in by_label[lonely].message


def test_too_little_data_for_agreement_says_so():
    one_annotator = agreement([judgment("i1", "a", "tie"), judgment("i2", "a", "target")])
    assert one_annotator.insufficient and "at least two annotators" in one_annotator.message
    disjoint = agreement([judgment("i1", "a", "tie"), judgment("i2", "b", "target")])
    assert disjoint.insufficient and disjoint.pairs == [] and disjoint.krippendorff_alpha is None
    assert "No two annotators judged the same item" in disjoint.message
    for report in (one_annotator, disjoint):
        assert_no_nan(report_as_dict(report))


def test_kappa_and_alpha_are_none_when_every_verdict_is_the_same():
    report = agreement([judgment(f"i{n}", a, "target") for n in range(5) for a in ("a", "b")])
    (pair,) = report.pairs
    assert pair.tie_discounted == 1.0 and pair.cohen_kappa is None and "undefined" in pair.message
    assert report.krippendorff_alpha is None and "undefined" in report.message
    assert_no_nan(report_as_dict(report))


def test_repeated_verdicts_of_one_annotator_keep_the_first():
    judgments = [judgment("i1", "a", "target"), judgment("i1", "a", "baseline"), judgment("i1", "b", "target")]
    report = agreement(judgments)
    assert report.duplicates_ignored == 1
    assert report.pairs[0].tie_discounted == 1.0


def test_annotator_summary_reports_agreement_with_everyone_else():
    judgments = [
        judgment("i1", "a", "target"), judgment("i1", "b", "target"), judgment("i1", "c", "tie"),
        judgment("i2", "a", "baseline"), judgment("i2", "b", "target"),
        judgment("i3", "loner", "tie", group="author"),
    ]
    by_name = {s.annotator: s for s in annotator_summaries(judgments)}
    a = by_name["a"]
    assert (a.judgments, a.items, a.shared_items, a.partners) == (2, 2, 2, 2)
    # a vs b on i1 (1) and i2 (0); a vs c on i1 (0.5): 1.5 / 3
    assert a.tie_discounted_with_others == pytest.approx(1.5 / 3)
    assert a.agreement_with_others == pytest.approx(1 / 3)
    assert a.verdict_shares == {"target": 0.5, "tie": 0.0, "baseline": 0.5}
    loner = by_name["loner"]
    assert loner.insufficient and loner.tie_discounted_with_others is None and loner.group == "author"
    assert_no_nan(report_as_dict(loner))


# --- LLM judge biases --------------------------------------------------------------------------


def ordered(item, order, side, target_is_a, judge="gpt-4") -> JudgeAnswer:
    return JudgeAnswer(item=item, judge=judge, order=order, verdict_side=side, target_is_a=target_is_a)


def test_position_bias_counts_verdicts_that_flip_with_the_order():
    verdicts = []
    # Items 0-6: consistent (target wins whichever side it is on).
    for n in range(7):
        verdicts += [ordered(f"i{n}", "ab", "a", True), ordered(f"i{n}", "ba", "b", False)]
    # Items 7-9: the judge always picks A, so its model verdict flips.
    for n in range(7, 10):
        verdicts += [ordered(f"i{n}", "ab", "a", True), ordered(f"i{n}", "ba", "a", False)]
    verdicts.append(ordered("i10", "ab", "tie", True))  # never asked swapped
    verdicts += [ordered("i11", "ab", "a", True), ordered("i11", "ba", "a", True)]  # target on the same side twice
    (bias,) = position_bias(verdicts, resamples=500)
    assert (bias.pairs, bias.flips) == (10, 3)
    assert bias.flip_share.estimate == pytest.approx(0.3)
    assert bias.flip_share.low <= 0.3 <= bias.flip_share.high
    assert bias.incomplete_items == 1 and bias.inconsistent_items == 1
    # Decisive answers: 14 + 6 + 2 (i11); all chose A except the 7 swapped consistent ones.
    assert bias.first_position_share == pytest.approx(15 / 22)


def test_ties_flip_against_a_decisive_answer_but_not_against_a_tie():
    verdicts = [ordered("x", "ab", "tie", True), ordered("x", "ba", "tie", False),
                ordered("y", "ab", "tie", False), ordered("y", "ba", "a", True)]
    (bias,) = position_bias(verdicts, resamples=50)
    assert (bias.pairs, bias.flips) == (2, 1)


def test_position_bias_without_swapped_answers_is_insufficient():
    (bias,) = position_bias([ordered("i1", "ab", "a", True)])
    assert bias.insufficient and bias.flip_share is None and "both orders" in bias.message
    assert position_bias([]) == []
    with pytest.raises(ValueError, match="bad ordered verdict"):
        position_bias([ordered("i1", "ab", "left", True)])


def test_side_preference_counts_decisive_verdicts_for_the_left_response():
    judgments = [
        judgment("p1", "a", "target", target_on_left=True),     # left
        judgment("p2", "a", "baseline", target_on_left=True),   # right
        judgment("p3", "a", "baseline", target_on_left=False),  # left
        judgment("p4", "a", "target", target_on_left=False),    # right
        judgment("p5", "a", "tie", target_on_left=True),        # not decisive
        judgment("p6", "a", "target"),                          # side unknown
    ]
    preference = side_preference(judgments, resamples=100)
    assert preference.decisive == 4 and preference.left_share.estimate == 0.5
    empty = side_preference([judgment("p1", "a", "tie", target_on_left=True)])
    assert empty.insufficient and empty.left_share is None


def test_length_bias_bins_and_correlates_win_rate_with_length_difference():
    judgments = []
    for n in range(100):
        difference = n - 50
        verdict = "target" if difference > 10 else ("tie" if difference > -10 else "baseline")
        judgments.append(judgment(f"p{n}", "gpt", verdict, group="llm", target_len=200 + difference, baseline_len=200))
    bias = length_bias(judgments, edges=[-50, -10, 10, 49])
    assert [b.n for b in bias.bins] == [40, 20, 40]
    assert bias.bins[0].baseline_wins == 1.0 and bias.bins[-1].target_wins == pytest.approx(39 / 40)
    assert bias.spearman > 0.8 and bias.pearson > 0.8
    quantile = length_bias(judgments, bins=4)
    assert sum(b.n for b in quantile.bins) == 100 and len(quantile.bins) == 4


def test_length_bias_without_lengths_or_variation_says_so():
    missing = length_bias([judgment("p1", "a", "target"), judgment("p2", "a", "tie")])
    assert missing.insufficient and missing.bins == [] and "lengths" in missing.message
    flat = length_bias([judgment(f"p{n}", "a", "target", target_len=10, baseline_len=5) for n in range(5)])
    assert flat.spearman is None and flat.pearson is None and "undefined" in flat.message
    empty_bin = length_bias(
        [judgment(f"p{n}", "a", "target", target_len=n, baseline_len=0) for n in range(5)], edges=[0, 2, 100, 200]
    )
    assert empty_bin.bins[-1].n == 0 and empty_bin.bins[-1].target_wins is None
    for result in (missing, flat, empty_bin):
        assert_no_nan(report_as_dict(result))


# --- absolute ratings --------------------------------------------------------------------------


def test_rating_distribution_reproduces_the_paper_and_brackets_it():
    grades = ["excellent"] * 25 + ["pass"] * 19 + ["fail"] * 6  # LIMA: 50% / 38% / 12%
    distribution = rating_distribution(
        [GradeRecord(item=f"r{n}", annotator="au1", group="author", rating=g) for n, g in enumerate(grades)], resamples=1000
    )
    assert distribution.counts == {"fail": 6, "pass": 19, "excellent": 25}
    assert {g: s.estimate for g, s in distribution.shares.items()} == pytest.approx(
        {"fail": 0.12, "pass": 0.38, "excellent": 0.50}
    )
    for share in distribution.shares.values():
        assert share.low < share.estimate < share.high


def test_no_ratings_is_insufficient():
    distribution = rating_distribution([])
    assert distribution.insufficient and distribution.shares is None and distribution.message
    with pytest.raises(ValueError, match="unknown rating"):
        rating_distribution([GradeRecord("r1", "a", "author", "great")])


# --- the whole report --------------------------------------------------------------------------


def test_full_report_separates_the_llm_judge_and_serialises_to_json():
    judgments = figure_1_judgments(100) + [
        judgment(f"p{i}/GPT-4", "gpt", "target" if i % 2 else "tie", group="llm", baseline="GPT-4", prompt=f"p{i}")
        for i in range(100)
    ]
    report = statistics_report(judgments, resamples=200, baselines=list(FIGURE_1))
    assert [o.n_judgments for o in report.human] == [100] * 5
    assert [o.n_judgments for o in report.llm] == [0, 0, 0, 0, 100]
    assert report.llm[0].insufficient
    (crowd_llm,) = [g for g in report.agreement.group_pairs if g.label == "crowd-llm"]
    assert crowd_llm.comparisons == 100
    pooled = {g.label: g for g in report.human_llm_agreement.group_pairs}
    assert pooled["human-llm"].comparisons == 100
    assert pooled["human-llm"].tie_discounted == crowd_llm.tie_discounted
    payload = report_as_dict(report)
    assert json.loads(json.dumps(payload, allow_nan=False))["human"][0]["baseline"] == "Alpaca 65B"


def test_human_llm_agreement_pools_every_human_group():
    judgments = [
        judgment("i1", "au", "target", group="author"), judgment("i1", "cw", "tie", group="crowd"),
        judgment("i1", "gpt", "target", group="llm"),
    ]
    report = statistics_report(judgments, resamples=10)
    pooled = {g.label: g for g in report.human_llm_agreement.group_pairs}
    assert set(pooled) == {"human-human", "human-llm", "llm-llm"}
    assert pooled["human-human"].tie_discounted == 0.5
    assert pooled["human-llm"].comparisons == 2 and pooled["human-llm"].tie_discounted == pytest.approx(0.75)
    assert [s.group for s in report.annotators] == ["author", "crowd", "llm"]


def test_report_on_an_empty_study_is_all_messages_and_no_nan():
    report = statistics_report([], baselines=["GPT-4"], resamples=10)
    assert report.human[0].insufficient and report.llm[0].insufficient
    assert report.agreement.insufficient and report.ratings.insufficient and report.side_preference.insufficient
    assert report.length_bias["human"].insufficient and report.annotators == [] and report.position_bias == []
    assert "No human judgments." in report.notes
    assert_no_nan(report_as_dict(report))


def test_report_as_dict_refuses_a_nan():
    with pytest.raises(ValueError, match="not finite"):
        report_as_dict({"share": math.nan})


def test_columns_and_records_build_the_same_table():
    records = figure_1_judgments(20)
    from_columns = JudgmentTable.from_columns(
        item=[j.item for j in records], prompt=[j.prompt for j in records], baseline=[j.baseline for j in records],
        annotator=[j.annotator for j in records], group=[j.group for j in records], verdict=[j.verdict for j in records],
    )
    assert win_rates(from_columns, resamples=100) == win_rates(records, resamples=100)


# --- properties --------------------------------------------------------------------------------

verdict_lists = st.lists(st.sampled_from(["target", "tie", "baseline"]), min_size=1, max_size=60)


@settings(max_examples=60, deadline=None)
@given(verdict_lists)
def test_shares_sum_to_one_and_intervals_bracket_the_estimate(verdicts):
    (outcome,) = win_rates([judgment(f"p{n}", "a", v) for n, v in enumerate(verdicts)], resamples=300)
    shares = (outcome.target_wins, outcome.ties, outcome.baseline_wins)
    assert sum(s.estimate for s in shares) == pytest.approx(1.0)
    for share in shares:
        assert 0.0 <= share.low <= share.estimate <= share.high <= 1.0
    assert outcome.target_wins_or_ties.estimate == pytest.approx(shares[0].estimate + shares[1].estimate)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["target", "tie", "baseline", None]),
                          st.sampled_from(["target", "tie", "baseline", None])), min_size=1, max_size=40))
def test_matrix_agreement_equals_the_direct_rule_on_shared_items(rows):
    judgments = [judgment(f"i{n}", name, v) for n, pair in enumerate(rows) for name, v in zip("ab", pair) if v]
    both = [(a, b) for a, b in rows if a and b]
    report = agreement(judgments)
    if not both:
        assert report.insufficient and report.pairs == []
        return
    (pair,) = report.pairs
    first, second = zip(*both)
    assert pair.shared_items == len(both)
    assert pair.tie_discounted == pytest.approx(tie_discounted_accuracy(first, second))
    assert pair.agreement_with_ties <= pair.tie_discounted <= 1.0
