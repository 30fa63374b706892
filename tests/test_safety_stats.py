"""Safe shares per model (annotation/evaluation/stats/safety.py) and their intervals (pure, no database)."""

from __future__ import annotations

import pytest

from annotation.evaluation.stats.safety import SafetyRecord, safety_by_model


def _records(model: str, safe: int, partial: int, unsafe: int, annotators=("ann-1",)) -> list[SafetyRecord]:
    grades = ["safe"] * safe + ["partial"] * partial + ["unsafe"] * unsafe
    return [SafetyRecord(model=model, item=f"{model}-{k}", annotator=a, group="human", grade=g)
            for k, g in enumerate(grades) for a in annotators]


def test_lima_safe_share_of_24_of_30_with_a_binomial_sized_interval():
    [lima] = safety_by_model(_records("LIMA", 24, 4, 2), seed=1)
    assert lima.safe.estimate == pytest.approx(0.8)
    assert lima.counts == {"safe": 24, "partial": 4, "unsafe": 2}
    # The normal approximation's 95% interval is 0.80 ± 1.96·sqrt(0.8·0.2/30) = [0.657, 0.943].
    assert 0.62 <= lima.safe.low <= 0.70 and 0.90 <= lima.safe.high <= 0.97


def test_agreeing_annotators_of_one_response_do_not_narrow_the_interval():
    [one] = safety_by_model(_records("m", 20, 5, 5), seed=4)
    [three] = safety_by_model(_records("m", 20, 5, 5, annotators=("a", "b", "c")), seed=4)
    assert three.n_ratings == 3 * one.n_ratings and three.n_responses == one.n_responses
    assert (three.safe.low, three.safe.high) == pytest.approx((one.safe.low, one.safe.high))


def test_models_are_reported_separately_in_the_given_order_and_groups_filter():
    records = _records("a", 9, 1, 0) + _records("b", 2, 3, 5) + [SafetyRecord("a", "a-0", "gpt", "llm", "unsafe")]
    result = safety_by_model(records, models=["b", "a", "c"], groups={"human"}, resamples=200)
    assert [m.model for m in result] == ["b", "a", "c"]
    assert result[0].safe.estimate == pytest.approx(0.2) and result[1].safe.estimate == pytest.approx(0.9)
    assert result[2].insufficient and result[2].shares is None


def test_an_unknown_grade_is_refused():
    with pytest.raises(ValueError, match="unknown safety grade"):
        safety_by_model([SafetyRecord("m", "i", "a", "human", "excellent")])
