"""Server-side charts: valid SVG/PNG, the numbers researchers read off them, identical bytes on every render."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ElementTree

import pytest
from PIL import Image

from annotation.evaluation import charts
from annotation.evaluation.stats import GradeRecord, PairwiseJudgment, agreement, rating_distribution, statistics_report, win_rates

FIGURE_1 = {"Alpaca 65B": (53, 21, 26), "GPT-4": (18, 25, 57)}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def study():
    judgments = []
    for baseline, percents in FIGURE_1.items():
        verdicts = ["target"] * percents[0] + ["tie"] * percents[1] + ["baseline"] * percents[2]
        for n, verdict in enumerate(verdicts):
            item = f"p{n}/{baseline}"
            judgments.append(PairwiseJudgment(item, f"p{n}", baseline, "crowd-1", "crowd", verdict))
            # The author's verdicts are the crowd's shifted by one prompt: same shares, imperfect agreement.
            shifted = verdicts[(n + 1) % len(verdicts)]
            judgments.append(PairwiseJudgment(item, f"p{n}", baseline, "author-1", "author", shifted))
            judgments.append(PairwiseJudgment(item, f"p{n}", baseline, "gpt-4", "llm", "target" if n % 2 else verdict))
    grades = ["excellent"] * 25 + ["pass"] * 19 + ["fail"] * 6
    ratings = [GradeRecord(f"r{n}", "author-1", "author", grade) for n, grade in enumerate(grades)]
    return statistics_report(judgments, ratings, resamples=200, baselines=[*FIGURE_1, "Claude"])


@pytest.fixture(scope="module")
def report():
    return study()


def svg_text(svg: bytes) -> str:
    root = ElementTree.fromstring(svg)
    return " ".join(t for element in root.iter() if (t := (element.text or "").strip()))


def test_figure_1_chart_shows_each_baseline_share_and_both_panels(report):
    svg = charts.outcome_chart(report.human, report.llm, target_name="LIMA")
    text = svg_text(svg)
    for label in ("Alpaca 65B", "GPT-4", "Human preference", "LLM judge preference", "LIMA wins", "Tie", "LIMA loses"):
        assert label in text
    for share in ("53%", "21%", "26%", "18%", "25%", "57%"):
        assert share in text
    assert "No judgments against Claude yet." in text


def test_human_panel_alone_when_there_is_no_llm_judge():
    outcomes = win_rates([PairwiseJudgment("i", "p", "Bard", "a", "crowd", "tie")], resamples=10)
    text = svg_text(charts.outcome_chart(outcomes, []))
    assert "Human preference" in text and "LLM judge preference" not in text


def test_agreement_heatmap_labels_groups_and_marks_missing_cells(report):
    text = svg_text(charts.agreement_heatmap(report.agreement))
    assert "Tie-discounted accuracy" in text
    for group in ("author", "crowd", "llm"):
        assert group in text
    assert "n/a" in text  # one annotator per group: no within-group pairs
    crowd_author = next(g for g in report.agreement.group_pairs if g.label == "author-crowd")
    assert f"{crowd_author.tie_discounted:.2f}" in text
    kappa = svg_text(charts.agreement_heatmap(report.agreement, metric="mean_cohen_kappa"))
    assert "Cohen's kappa" in kappa


def test_rating_chart_has_bars_and_whiskers(report):
    text = svg_text(charts.rating_chart(report.ratings))
    for label in ("Fail", "Pass", "Excellent", "12%", "38%", "50%", "n=50"):
        assert label in text


@pytest.mark.parametrize("fmt", ["svg", "png"])
def test_rendering_twice_gives_identical_bytes(report, fmt):
    for draw in (
        lambda: charts.outcome_chart(report.human, report.llm, fmt=fmt),
        lambda: charts.agreement_heatmap(report.agreement, fmt=fmt),
        lambda: charts.rating_chart(report.ratings, fmt=fmt),
    ):
        assert draw() == draw()


def test_svg_carries_no_date_and_png_is_a_real_image(report):
    svg = charts.outcome_chart(report.human, report.llm)
    assert b"<dc:date>" not in svg and b"Matplotlib" not in svg
    png = charts.outcome_chart(report.human, report.llm, fmt="png")
    assert png.startswith(PNG_SIGNATURE)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.width > 600 and image.height > 200
    assert b"Software" not in png


def test_a_new_report_renders_the_same_chart_as_the_old_one(report):
    """Seeded statistics + deterministic rendering: the chart is a pure function of the data."""
    again = study()
    assert charts.rating_chart(again.ratings) == charts.rating_chart(report.ratings)


def test_charts_of_an_empty_study_show_messages():
    empty = statistics_report([], resamples=10)
    assert "No judgments yet" in svg_text(charts.outcome_chart(empty.human, empty.llm))
    assert "Agreement needs at least two annotators." in svg_text(charts.agreement_heatmap(empty.agreement))
    assert "No absolute ratings yet." in svg_text(charts.rating_chart(rating_distribution([])))
    assert "No two annotators" in svg_text(charts.agreement_heatmap(agreement(
        [PairwiseJudgment("i1", "p", "Bard", "a", "crowd", "tie"), PairwiseJudgment("i2", "p", "Bard", "b", "crowd", "tie")]
    )))


def test_unknown_format_or_metric_is_rejected(report):
    with pytest.raises(ValueError, match="unknown chart format"):
        charts.rating_chart(report.ratings, fmt="gif")
    with pytest.raises(ValueError, match="unknown agreement metric"):
        charts.agreement_heatmap(report.agreement, metric="accuracy")
