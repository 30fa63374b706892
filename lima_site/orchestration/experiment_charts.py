"""The ablation chart: mean helpfulness per variant with its 95% interval, each point a link (no Django import).

Drawn with the house style of the study charts (annotation.evaluation.charts), so the SVG carries no inline CSS
and can sit inside a page under the Content-Security-Policy; a point's marker and whisker are wrapped in an SVG
link (matplotlib's `set_url`) to the variant's page, which links the training run, snapshot and responses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from annotation.evaluation import charts


@dataclass(frozen=True)
class ChartPoint:
    label: str
    mean: float | None
    low: float | None
    high: float | None
    url: str


@charts._styled
def helpfulness_chart(points: Sequence[ChartPoint], *, title: str, fmt: charts.ChartFormat = "svg") -> bytes:
    figure = charts._figure(max(4.0, 1.1 * len(points) + 1.5), 3.6)
    axes = figure.subplots()
    scored = [(index, point) for index, point in enumerate(points) if point.mean is not None]
    for index, point in scored:
        whisker = [[max(point.mean - point.low, 0)], [max(point.high - point.mean, 0)]]
        container = axes.errorbar([index], [point.mean], yerr=whisker, fmt="o", color="#4c72b0", capsize=5, markersize=7)
        for artist in (container.lines[0], *container.lines[1], *container.lines[2]):
            artist.set_url(point.url)
        axes.annotate(f"{point.mean:.2f}", (index, point.mean), textcoords="offset points", xytext=(9, -3), fontsize=8)
    for index, point in enumerate(points):
        if point.mean is None:
            axes.text(index, 1.2, "no scores", ha="center", fontsize=8, color="#888888")
    axes.set_xlim(-0.6, len(points) - 0.4)
    axes.set_ylim(1, 6)
    axes.set_yticks([1, 2, 3, 4, 5, 6])
    axes.set_ylabel("Mean helpfulness (1-6)")
    axes.set_xticks(range(len(points)), labels=[p.label.replace(" · ", "\n") for p in points], fontsize=7)
    axes.spines[["top", "right"]].set_visible(False)
    axes.grid(axis="y", color="#eeeeee")
    axes.set_title(title, fontsize=10)
    return charts._render(figure, fmt)
