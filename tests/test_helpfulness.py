"""The 6-point helpfulness scale (pure): parsing the judge, mean scores with prompt-clustered intervals, variant plans."""

from __future__ import annotations

import pytest

from lima_site.orchestration import helpfulness


def test_the_score_is_the_last_lone_digit_not_a_number_in_the_reasoning():
    assert helpfulness.parse_score("Step 1: it is relevant.\nIt deserves 5 points.\n4\n4") == 4
    assert helpfulness.parse_score("First impression:\n2\nOn reflection it is clear and complete.\n4\n4") == 4
    assert helpfulness.parse_score("Reasoning mentions 6 bullet points.\n\n**3**\n") == 3
    assert helpfulness.parse_score("It is a 7 out of 10.\n7") is None
    assert helpfulness.parse_score("Clearly helpful, a 5.") is None
    assert helpfulness.parse_score("") is None


def test_the_template_keeps_braces_in_user_text_and_names_missing_placeholders():
    assert helpfulness.validate_template(helpfulness.DEFAULT_TEMPLATE) == []
    assert helpfulness.validate_template("{response} only") == ["{prompt}"]
    rendered = helpfulness.render_prompt("P={prompt} R={response}", prompt="a {response} b", response="{x}")
    assert rendered == "P=a {response} b R={x}"


def test_the_interval_resamples_prompts_not_samples():
    # Two prompts, five samples each: the samples within a prompt agree, so all variation is between prompts.
    score = helpfulness.mean_with_interval({"p1": [2] * 5, "p2": [6] * 5}, seed=1)
    assert score.mean == 4 and score.n_scores == 10 and score.n_prompts == 2
    assert score.low == 2 and score.high == 6  # resampling samples independently would give a far narrower interval
    single = helpfulness.mean_with_interval({"p1": [3, 5]})
    assert (single.mean, single.low, single.high) == (4, 4, 4)
    assert helpfulness.mean_with_interval({}) is None
    many = helpfulness.mean_with_interval({f"p{i}": [1 + i % 6] for i in range(60)}, seed=3)
    assert many.low < many.mean < many.high
    assert many == helpfulness.mean_with_interval({f"p{i}": [1 + i % 6] for i in range(60)}, seed=3)


def test_the_plan_holds_the_papers_three_ablations():
    plan = helpfulness.plan_variants(source_groups=[["stackexchange_stem", "stackexchange_other"], ["wikihow"]], size=2000,
                                     unfiltered=True, doublings=4, seeds=2)
    per_seed = [(s.sources, s.quality_filter, s.size) for s in plan if s.seed == 0]
    se = ("stackexchange_stem", "stackexchange_other")
    assert per_seed == [(se, True, 2000), (se, False, 2000), (("wikihow",), True, 2000), (("wikihow",), False, 2000),
                        (se, True, 4000), (se, True, 8000), (se, True, 16000), (se, True, 32000)]
    assert len(plan) == 16 and {s.seed for s in plan} == {0, 1}
    with pytest.raises(ValueError, match="starting size"):
        helpfulness.plan_variants(source_groups=[["wikihow"]], size=None, unfiltered=False, doublings=1, seeds=1)
    with pytest.raises(ValueError, match="at least one source"):
        helpfulness.plan_variants(source_groups=[], size=None, unfiltered=False, doublings=0, seeds=1)
