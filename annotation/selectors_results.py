"""A study's results: its judgments read into the pure statistics module, and the charts drawn from them."""

from __future__ import annotations

from django.db.models import F
from django.db.models.functions import Length

from annotation import charts, statistics
from annotation.models import AuthorProfile, Judgment, OrderedVerdict, Rating, Study

LLM_PREFIX = "llm-judge:"


def _groups(usernames: set[str]) -> dict[str, str]:
    """LLM judges are 'llm', authors (who have an author profile) 'author', everyone else 'crowd'."""
    authors = set(AuthorProfile.objects.filter(user__username__in=usernames).values_list("user__username", flat=True))
    return {name: "llm" if name.startswith(LLM_PREFIX) else "author" if name in authors else "crowd" for name in usernames}


def study_report(study: Study, *, resamples: int = 2000) -> statistics.StatisticsReport:
    rows = list(
        Judgment.objects.filter(item__study=study)
        .annotate(target_len=Length("item__target_response__text"), baseline_len=Length("item__baseline_response__text"))
        .values_list("item__public_id", "item__row_id", "item__baseline_run__model__name", "annotator__username", "verdict",
                     "target_len", "baseline_len", "item__target_is_a")
    )
    ratings = list(Rating.objects.filter(item__study=study).values_list("item__public_id", "annotator__username", "grade"))
    groups = _groups({row[3] for row in rows} | {row[1] for row in ratings})
    table = statistics.JudgmentTable.from_columns(
        item=[str(r[0]) for r in rows], prompt=[str(r[1]) for r in rows], baseline=[r[2] or "" for r in rows],
        annotator=[r[3] for r in rows], group=[groups[r[3]] for r in rows], verdict=[r[4] for r in rows],
        target_len=[r[5] for r in rows], baseline_len=[r[6] for r in rows], target_on_left=[r[7] for r in rows],
    )
    ordered = [
        statistics.OrderedVerdict(item=str(item), judge=judge, order=order, verdict_side=side,
                                  target_is_a=target_is_a if order == "ab" else not target_is_a)
        for item, judge, order, side, target_is_a in OrderedVerdict.objects.filter(judge_run__study=study).exclude(side="")
        .values_list("item__public_id", "judge_run__model__name", "order", "side", "item__target_is_a")
    ]
    rating_records = [statistics.Rating(item=str(item), annotator=name, group=groups[name], rating=grade) for item, name, grade in ratings]
    return statistics.statistics_report(table, rating_records, ordered, resamples=resamples, seed=study.seed)


def study_chart(study: Study, name: str, fmt: str) -> bytes:
    report = study_report(study)
    target = study.target_run.model.name
    if name == "outcomes":
        return charts.outcome_chart(report.human, report.llm or None, target_name=target, fmt=fmt)
    if name == "agreement":
        return charts.agreement_heatmap(report.agreement, fmt=fmt)
    return charts.rating_chart(report.ratings, fmt=fmt)
