"""An external judgment set's results: its stored rows read into the same statistics and charts as a study's."""

from __future__ import annotations

from annotation import charts, statistics
from annotation.models import ExternalJudgmentSet


def external_report(judgment_set: ExternalJudgmentSet, *, resamples: int = statistics.DEFAULT_RESAMPLES) -> statistics.StatisticsReport:
    rows = judgment_set.judgments.order_by("id").values_list(
        "item", "prompt", "baseline", "annotator", "group", "verdict", "target_len", "baseline_len", "target_on_left"
    )
    columns = list(zip(*rows.iterator(chunk_size=5000))) or [()] * 9
    item, prompt, baseline, annotator, group, verdict, target_len, baseline_len, target_on_left = columns
    table = statistics.JudgmentTable.from_columns(
        item=list(item), prompt=list(prompt), baseline=list(baseline), annotator=list(annotator), group=list(group),
        verdict=list(verdict), target_len=list(target_len), baseline_len=list(baseline_len), target_on_left=list(target_on_left),
    )
    return statistics.statistics_report(table, baselines=judgment_set.baselines, resamples=resamples, seed=judgment_set.seed)


def external_chart(judgment_set: ExternalJudgmentSet, name: str, fmt: str, report: statistics.StatisticsReport | None = None) -> bytes:
    report = report or external_report(judgment_set)
    if name == "outcomes":
        return charts.outcome_chart(report.human, report.llm or None, target_name=judgment_set.target, fmt=fmt)
    if name == "agreement":
        return charts.agreement_heatmap(report.agreement, fmt=fmt)
    raise ValueError(f"external judgment sets have no {name!r} chart")
