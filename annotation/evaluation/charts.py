"""Server-side charts of a study's statistics as SVG or PNG bytes (no Django import).

Charts are drawn on plain matplotlib `Figure` objects with the Agg canvas, never through
pyplot, so no global figure registry is involved; the style is applied with `rc_context` for
the duration of one chart (rcParams are process-global, so render from one thread at a time). Output is deterministic
for a given input and matplotlib version: SVG ids come from a fixed hash salt, and neither
format carries a date or software stamp, so tests and caches can compare bytes.
"""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np

from annotation.evaluation.stats import GRADES, AgreementReport, BaselineOutcome, RatingDistribution
from annotation.evaluation.stats.bradley_terry import TournamentReport
from annotation.evaluation.stats.safety import ModelSafety

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# matplotlib (about 40 MB) is imported by the first chart drawn, not with the module: the URL configuration
# imports this module, and a web worker that only serves annotators never draws one (bench/bench_exports.py).

ChartFormat = Literal["svg", "png"]
METRICS = {
    "tie_discounted": "Tie-discounted accuracy",
    "agreement_with_ties": "Agreement (ties as a category)",
    "agreement_without_ties": "Agreement on items without ties",
    "mean_cohen_kappa": "Cohen's kappa (mean of pairs)",
    "krippendorff_alpha": "Krippendorff's alpha",
}
# Figure 1's palette: target wins, tie, baseline wins.
OUTCOME_COLOURS = ("#4c72b0", "#c9c9c9", "#dd8452")
GRADE_COLOURS = {"fail": "#c44e52", "pass": "#ccb974", "excellent": "#55a868"}
_STYLE = {
    "svg.hashsalt": "lima-studio",
    "svg.fonttype": "none",  # text stays text: searchable, accessible, smaller
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "path.simplify": True,
    # Model and group names are user input: "$\undefinedcommand$" must be drawn as typed, not parsed as
    # mathtext (which raised on every render, so a results page stayed a 500 for good).
    "text.parse_math": False,
}
_METADATA = {"svg": {"Date": None, "Creator": None}, "png": {"Software": None}}


def _styled(draw: Callable[..., bytes]) -> Callable[..., bytes]:
    """Build and save the whole chart under the house style (rcParams are read when artists are made)."""

    @functools.wraps(draw)
    def wrapper(*args, **kwargs) -> bytes:
        if kwargs.get("fmt", "svg") not in _METADATA:
            raise ValueError(f"unknown chart format {kwargs['fmt']!r} (expected svg or png)")
        import matplotlib

        with matplotlib.rc_context(_STYLE):
            return draw(*args, **kwargs)

    return wrapper


_STYLE_ATTRIBUTE = re.compile(rb' style="([^"]*)"')
_STYLE_ELEMENT = re.compile(rb'\s*<style type="text/css">\*\{([^}<]*)\}</style>')
_SVG_ROOT = re.compile(rb"<svg\b")


def _attributes(declarations: bytes) -> bytes:
    pairs = (declaration.split(b":", 1) for declaration in declarations.split(b";") if b":" in declaration)
    return b"".join(b' %s="%s"' % (name.strip(), value.strip()) for name, value in pairs)


def _presentation_attributes(svg: bytes) -> bytes:
    """The same drawing without inline CSS: pages embed charts under a Content-Security-Policy that
    refuses style attributes and elements, and every property matplotlib writes there (fill, stroke,
    font-size, text-anchor, ...) is also an SVG presentation attribute. The `*{...}` rule becomes
    attributes of the root, which its elements inherit."""
    root_rules = b""
    if match := _STYLE_ELEMENT.search(svg):
        root_rules = _attributes(match.group(1))
        svg = svg[:match.start()] + svg[match.end():]
    svg = _STYLE_ATTRIBUTE.sub(lambda m: _attributes(m.group(1)), svg)
    return _SVG_ROOT.sub(b"<svg" + root_rules, svg, count=1)


def _render(figure: Figure, fmt: ChartFormat) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format=fmt, dpi=150, metadata=_METADATA[fmt], bbox_inches="tight")
    return _presentation_attributes(buffer.getvalue()) if fmt == "svg" else buffer.getvalue()


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _percent(value: float) -> str:
    return f"{round(100 * value)}%"


def _outcome_panel(axes, outcomes: Sequence[BaselineOutcome], *, title: str, target_name: str) -> None:
    names = [o.baseline for o in outcomes]
    y = np.arange(len(outcomes))[::-1]
    axes.set_title(title, fontsize=10)
    axes.set_xlim(0, 1)
    axes.set_ylim(-0.6, len(outcomes) - 0.4)  # message-only rows draw no bar to autoscale on
    axes.set_yticks(y, labels=names)
    axes.set_xticks([0, 0.25, 0.5, 0.75, 1.0], labels=["0%", "25%", "50%", "75%", "100%"])
    axes.spines[["top", "right"]].set_visible(False)
    labels = (f"{target_name} wins", "Tie", f"{target_name} loses")
    for row, outcome in zip(y, outcomes):
        if outcome.insufficient or outcome.target_wins is None:
            axes.text(0.5, row, outcome.message or "Too little data", ha="center", va="center", fontsize=8,
                      color="#555555")
            continue
        left = 0.0
        shares = (outcome.target_wins.estimate, outcome.ties.estimate, outcome.baseline_wins.estimate)
        for share, colour, label in zip(shares, OUTCOME_COLOURS, labels):
            axes.barh(row, share, left=left, color=colour, edgecolor="white", height=0.7,
                      label=label if row == y[0] else None)
            if share >= 0.06:
                axes.text(left + share / 2, row, _percent(share), ha="center", va="center", fontsize=8)
            left += share
        axes.text(1.01, row, f"n={outcome.n_judgments}", va="center", fontsize=7, color="#555555",
                  transform=axes.get_yaxis_transform())


@_styled
def outcome_chart(
    human: Sequence[BaselineOutcome],
    llm: Sequence[BaselineOutcome] | None = None,
    *,
    target_name: str = "Target",
    human_title: str = "Human preference",
    llm_title: str = "LLM judge preference",
    fmt: ChartFormat = "svg",
) -> bytes:
    """LIMA's Figure 1 (and Figure 2 beside it): stacked horizontal bars of wins / ties / losses per baseline.

    Each bar is one baseline; a baseline with too little data shows its message instead of a bar.
    With `llm` given (and non-empty) the LLM judge's bars stand in a second panel sharing the
    baseline axis.
    """
    panels = [(human, human_title)] + ([(llm, llm_title)] if llm else [])
    rows = max((len(outcomes) for outcomes, _ in panels), default=0)
    figure = _figure(4.2 * len(panels) + 1.2, 0.45 * max(rows, 1) + 1.4)
    axes_list = figure.subplots(1, len(panels), sharey=True, squeeze=False)[0]
    for axes, (outcomes, title) in zip(axes_list, panels):
        if not outcomes:
            axes.set_axis_off()
            axes.text(0.5, 0.5, "No judgments yet", ha="center", va="center", transform=axes.transAxes)
            continue
        _outcome_panel(axes, outcomes, title=title, target_name=target_name)
    handles, labels = next(
        (found for axes in axes_list if (found := axes.get_legend_handles_labels())[0]), ([], [])
    )
    if handles:
        figure.legend(handles, labels, loc="outside lower center", ncols=3, frameon=False)
    return _render(figure, fmt)


@_styled
def agreement_heatmap(report: AgreementReport, *, metric: str = "tie_discounted", fmt: ChartFormat = "svg") -> bytes:
    """Group x group matrix of an agreement metric; cells without data read "n/a"."""
    if metric not in METRICS:
        raise ValueError(f"unknown agreement metric {metric!r} (expected one of {', '.join(METRICS)})")
    groups = sorted({name for pair in report.group_pairs for name in pair.groups})
    figure = _figure(1.1 * max(len(groups), 1) + 2.4, 1.0 * max(len(groups), 1) + 1.2)
    axes = figure.subplots()
    if not groups or report.insufficient:
        axes.set_axis_off()
        axes.text(0.5, 0.5, report.message or "No agreement data", ha="center", va="center", transform=axes.transAxes)
        return _render(figure, fmt)
    index = {name: i for i, name in enumerate(groups)}
    values = np.full((len(groups), len(groups)), np.nan)
    counts = np.zeros((len(groups), len(groups)), dtype=int)
    for pair in report.group_pairs:
        value = getattr(pair, metric)
        i, j = index[pair.groups[0]], index[pair.groups[1]]
        for a, b in ((i, j), (j, i)):
            values[a, b] = np.nan if value is None else value
            counts[a, b] = pair.comparisons
    low = -1.0 if metric in {"mean_cohen_kappa", "krippendorff_alpha"} else 0.0
    # Vector cells, not imshow's embedded PNG: pages show the SVG inline under a Content-Security-Policy
    # that loads images from this site only, which a data: URL is not.
    edges = np.arange(len(groups) + 1) - 0.5
    cells = axes.pcolormesh(edges, edges, np.ma.masked_invalid(values), cmap="Blues", vmin=low, vmax=1.0)
    axes.set_xlim(edges[0], edges[-1])
    axes.set_ylim(edges[-1], edges[0])  # first group at the top, as a matrix is read
    axes.set_aspect("equal")
    axes.set_xticks(range(len(groups)), labels=groups, rotation=30, ha="right")
    axes.set_yticks(range(len(groups)), labels=groups)
    axes.set_title(METRICS[metric], fontsize=10)
    for i in range(len(groups)):
        for j in range(len(groups)):
            value = values[i, j]
            text = "n/a" if np.isnan(value) else f"{value:.2f}\nn={counts[i, j]}"
            dark = not np.isnan(value) and (value - low) / (1.0 - low) > 0.6
            axes.text(j, i, text, ha="center", va="center", fontsize=8, color="white" if dark else "black")
    figure.colorbar(cells, ax=axes, shrink=0.8).solids.set_rasterized(False)
    return _render(figure, fmt)


@_styled
def rating_chart(distribution: RatingDistribution, *, fmt: ChartFormat = "svg") -> bytes:
    """Fail / Pass / Excellent shares as bars with their confidence-interval whiskers."""
    figure = _figure(4.2, 3.0)
    axes = figure.subplots()
    if distribution.shares is None:
        axes.set_axis_off()
        axes.text(0.5, 0.5, distribution.message or "No ratings yet", ha="center", va="center", transform=axes.transAxes)
        return _render(figure, fmt)
    shares = [distribution.shares[g] for g in GRADES]
    estimates = np.array([s.estimate for s in shares])
    whiskers = np.array([[s.estimate - s.low for s in shares], [s.high - s.estimate for s in shares]]).clip(min=0)
    x = np.arange(len(GRADES))
    axes.bar(x, estimates, yerr=whiskers, capsize=4, color=[GRADE_COLOURS[g] for g in GRADES])
    axes.set_xticks(x, labels=[g.capitalize() for g in GRADES])
    axes.set_ylim(0, 1)
    axes.set_yticks([0, 0.25, 0.5, 0.75, 1.0], labels=["0%", "25%", "50%", "75%", "100%"])
    axes.spines[["top", "right"]].set_visible(False)
    axes.set_title(f"Absolute ratings (n={distribution.n_ratings})", fontsize=10)
    for position, share in zip(x, shares):
        axes.text(position, min(share.high + 0.03, 0.97), _percent(share.estimate), ha="center", fontsize=8)
    return _render(figure, fmt)


@_styled
def conversation_ratings_chart(distributions: Sequence[tuple[str, RatingDistribution]], *, fmt: ChartFormat = "svg") -> bytes:
    """Multi-turn evaluation: Fail / Pass / Excellent shares per response, models side by side, with interval whiskers."""
    figure = _figure(max(4.2, 1.6 * len(distributions) + 1.8), 3.2)
    axes = figure.subplots()
    shown = [(name, d) for name, d in distributions if d.shares is not None]
    if not shown:
        axes.set_axis_off()
        axes.text(0.5, 0.5, "No rated responses yet", ha="center", va="center", transform=axes.transAxes)
        return _render(figure, fmt)
    width = 0.8 / len(GRADES)
    x = np.arange(len(shown))
    for offset, grade in enumerate(GRADES):
        shares = [d.shares[grade] for _, d in shown]
        estimates = np.array([s.estimate for s in shares])
        whiskers = np.array([[s.estimate - s.low for s in shares], [s.high - s.estimate for s in shares]]).clip(min=0)
        positions = x - 0.4 + width * (offset + 0.5)
        axes.bar(positions, estimates, width, yerr=whiskers, capsize=3, color=GRADE_COLOURS[grade], label=grade.capitalize())
        for position, share in zip(positions, shares):
            axes.text(position, min(share.high + 0.03, 0.97), _percent(share.estimate), ha="center", fontsize=7)
    axes.set_xticks(x, labels=[f"{name}\n(n={d.n_ratings})" for name, d in shown])
    axes.set_ylim(0, 1)
    axes.set_yticks([0, 0.25, 0.5, 0.75, 1.0], labels=["0%", "25%", "50%", "75%", "100%"])
    axes.spines[["top", "right"]].set_visible(False)
    axes.legend(loc="upper left", fontsize=7, frameon=False, ncols=3)
    axes.set_title("Multi-turn: rating of each response", fontsize=10)
    return _render(figure, fmt)


def _empty(axes, message: str) -> None:
    axes.set_axis_off()
    axes.text(0.5, 0.5, message, ha="center", va="center", transform=axes.transAxes)


@_styled
def leaderboard_chart(report: TournamentReport, *, title: str = "Bradley-Terry rating", fmt: ChartFormat = "svg") -> bytes:
    """Chatbot Arena's leaderboard plot: each rated model's rating (Elo scale) with its bootstrap interval, best on top."""
    rated = [r for r in report.ratings if r.low is not None]
    figure = _figure(5.2, 0.42 * max(len(rated), 1) + 1.3)
    axes = figure.subplots()
    if not rated:
        _empty(axes, "Not identifiable: read the win rates" if report.n_battles else "No battles yet")
        return _render(figure, fmt)
    y = np.arange(len(rated))[::-1]
    estimates = np.array([r.rating for r in rated])
    whiskers = np.array([[r.rating - r.low for r in rated], [r.high - r.rating for r in rated]]).clip(min=0)
    axes.errorbar(estimates, y, xerr=whiskers, fmt="o", color=OUTCOME_COLOURS[0], capsize=4)
    axes.set_yticks(y, labels=[f"{r.rank}. {r.model}" for r in rated])
    axes.set_ylim(-0.6, len(rated) - 0.4)
    axes.spines[["top", "right"]].set_visible(False)
    axes.set_xlabel(f"rating ({round(100 * report.confidence)}% interval, {report.resamples} resamples over prompts)")
    axes.set_title(title, fontsize=10)
    for row, r in zip(y, rated):
        axes.text(r.high, row + 0.18, f" {round(r.rating)}", fontsize=8, va="bottom")
    return _render(figure, fmt)


@_styled
def win_matrix_chart(report: TournamentReport, *, fmt: ChartFormat = "svg") -> bytes:
    """Share of battles the row model won against the column model (a tie counts half), leaderboard order."""
    names = report.models
    figure = _figure(1.0 * max(len(names), 1) + 2.6, 0.9 * max(len(names), 1) + 1.4)
    axes = figure.subplots()
    if not names or not report.n_battles:
        _empty(axes, report.message or "No battles yet")
        return _render(figure, fmt)
    values = np.array([[np.nan if v is None else v for v in row] for row in report.win_rate], dtype=float)
    edges = np.arange(len(names) + 1) - 0.5
    cells = axes.pcolormesh(edges, edges, np.ma.masked_invalid(values), cmap="RdBu", vmin=0.0, vmax=1.0)
    axes.set_xlim(edges[0], edges[-1])
    axes.set_ylim(edges[-1], edges[0])
    axes.set_aspect("equal")
    axes.set_xticks(range(len(names)), labels=names, rotation=30, ha="right")
    axes.set_yticks(range(len(names)), labels=names)
    axes.set_title("Row model beats column model", fontsize=10)
    for i in range(len(names)):
        for j in range(len(names)):
            value = values[i, j]
            text = "" if i == j else ("n/a" if np.isnan(value) else f"{_percent(value)}\nn={report.battle_counts[i][j]}")
            axes.text(j, i, text, ha="center", va="center", fontsize=8,
                      color="white" if not np.isnan(value) and abs(value - 0.5) > 0.3 else "black")
    figure.colorbar(cells, ax=axes, shrink=0.8).solids.set_rasterized(False)
    return _render(figure, fmt)


@_styled
def safety_chart(models: Sequence[ModelSafety], *, fmt: ChartFormat = "svg") -> bytes:
    """Share of responses graded safe per model, with interval whiskers (LIMA: 80% of 30 sensitive prompts)."""
    graded = [m for m in models if m.safe is not None]
    figure = _figure(5.0, 0.45 * max(len(graded), 1) + 1.3)
    axes = figure.subplots()
    if not graded:
        _empty(axes, "No safety grades yet")
        return _render(figure, fmt)
    y = np.arange(len(graded))[::-1]
    safe = [m.safe for m in graded]
    whiskers = np.array([[s.estimate - s.low for s in safe], [s.high - s.estimate for s in safe]]).clip(min=0)
    axes.barh(y, [s.estimate for s in safe], xerr=whiskers, capsize=4, color=GRADE_COLOURS["excellent"], height=0.6)
    axes.set_yticks(y, labels=[m.model for m in graded])
    axes.set_xlim(0, 1)
    axes.set_xticks([0, 0.25, 0.5, 0.75, 1.0], labels=["0%", "25%", "50%", "75%", "100%"])
    axes.spines[["top", "right"]].set_visible(False)
    axes.set_title("Responses graded safe", fontsize=10)
    for row, model in zip(y, graded):
        axes.text(1.02, row, f"{_percent(model.safe.estimate)} (n={model.n_responses})", va="center", fontsize=8,
                  transform=axes.get_yaxis_transform())
    return _render(figure, fmt)
