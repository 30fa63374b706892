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


def test_each_point_of_the_ablation_chart_links_to_its_variant_and_the_svg_has_no_inline_css():
    from lima_site.orchestration.experiment_charts import ChartPoint, helpfulness_chart

    points = [ChartPoint("stackexchange · filtered · 2,000 · seed 0", 3.8, 3.5, 4.1, "/experiments/1/variants/0/"),
              ChartPoint("wikihow · filtered · 2,000 · seed 0", 3.2, 2.9, 3.5, "/experiments/1/variants/1/"),
              ChartPoint("stackexchange · unfiltered · 2,000 · seed 0", None, None, None, "/experiments/1/variants/2/")]
    svg = helpfulness_chart(points, title="t").decode()
    assert 'xlink:href="/experiments/1/variants/0/"' in svg and 'xlink:href="/experiments/1/variants/1/"' in svg
    assert "/experiments/1/variants/2/" not in svg and "no scores" in svg  # nothing to open yet
    assert ' style="' not in svg and "<style" not in svg  # pages embed it under a CSP without inline styles
    assert svg == helpfulness_chart(points, title="t").decode()


def test_the_multi_turn_chart_puts_models_side_by_side():
    from annotation.evaluation.charts import conversation_ratings_chart
    from annotation.evaluation.stats import GradeRecord, rating_distribution

    def ratings(grades):
        return rating_distribution([GradeRecord(item=str(i // 3), annotator="e", group="g", rating=g) for i, g in enumerate(grades)])

    svg = conversation_ratings_chart([("zero-shot", ratings(["fail", "pass", "excellent", "fail", "pass", "pass"])),
                                      ("dialogues", ratings(["excellent", "excellent", "pass", "excellent", "excellent", "excellent"])),
                                      ("unrated", ratings([]))]).decode()
    assert "zero-shot" in svg and "dialogues" in svg and "unrated" not in svg
    assert "83%" in svg and "33%" in svg  # dialogues excellent 5/6, zero-shot fail 2/6
    assert ' style="' not in svg
