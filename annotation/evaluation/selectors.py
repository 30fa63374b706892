"""Reads for evaluation: an annotator's studies and progress, a researcher's study overview, a study's or an
external judgment set's results (its judgments read into the pure `stats` package, and the charts drawn from them)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from statistics import median

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Count, Exists, F, OuterRef, Q
from django.db.models.functions import Length

from annotation.evaluation import charts, stats
from annotation.evaluation.annotators import LLM, annotator_groups
from annotation.evaluation.models import Assignment, ComparisonItem, ExternalJudgmentSet, Judgment, OrderedVerdict, Rating, Study
from annotation.evaluation.stats.bradley_terry import DEFAULT_TOURNAMENT_RESAMPLES, Battle, TournamentReport, bradley_terry
from annotation.evaluation.stats.safety import SAFETY_GRADES, ModelSafety, SafetyRecord, safety_by_model
from lima_site import sql


@cache
def _study_for_judging_sql(vendor: str) -> str:
    del vendor  # the cache key: the SQL is written for the connection's database
    pool = Study.annotators.field
    quote = connection.ops.quote_name
    return (f"SELECT {sql.columns(Study, 's')}, EXISTS (SELECT 1 FROM {quote(pool.m2m_db_table())} p "
            f"WHERE p.{quote(pool.m2m_column_name())} = s.id AND p.{quote(pool.m2m_reverse_name())} = %s) "
            f"FROM {sql.table(Study)} s WHERE s.public_id = %s")


def study_for_judging(*, public_id, annotator) -> Study | None:
    """The study an annotator's judging page names, with their membership of its pool read in the same query.

    A member's study comes back marked as checked for them, so the judging services do not ask again
    (services.judging._check_open); an outsider's does not, and the services refuse them as before.
    """
    rows = sql.fetch(_study_for_judging_sql(connection.vendor), [annotator.pk, sql.db_value(Study, "public_id", public_id)])
    if not rows:
        return None
    study = sql.instance(Study, rows[0])
    if rows[0][-1]:
        study.__dict__["_members_checked"] = {annotator.pk}
    return study


def annotator_studies(user):
    return Study.objects.filter(annotators=user, state=Study.State.OPEN).order_by("-created_at")


# Counting the items still open to an annotator stops here: far above a LIMA study (300 prompts × 4
# baselines = 1,200 items), and it keeps a page's cost bounded in a study of any size.
PROGRESS_COUNT_CAP = 2000


@dataclass(frozen=True)
class AnnotatorProgress:
    done: int
    total: int
    total_is_lower_bound: bool = False  # more items are open than were counted: shown as "2,030+"

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 100


def annotator_progress(*, study: Study, annotator) -> AnnotatorProgress:
    """Done = verdicts given; total = the items handed to this annotator plus every item still open to them.

    One statement. "Mine" is counted from assignment_progress_idx; "open to them" walks the partial index of items
    with room (item_open_rows_idx: in a one-prompt study, minus the prompts they were handed, which covers their own
    items; otherwise minus their own items) and stops after PROGRESS_COUNT_CAP, so a page costs the same in a study
    of 1,200 items or 50,000 and never reads an item's row (counting with a per-item EXISTS over every item made it
    O(items): 100 ms a page at 50,000 items; reading items' rows for their capacity, O(verdicts given)).
    """
    one_prompt = study.one_prompt_per_annotator
    mine, done, open_to_them = sql.fetch(_progress_sql(connection.vendor, one_prompt), [
        study.pk, *([study.pk] if one_prompt else []), annotator.pk, PROGRESS_COUNT_CAP + 1, annotator.pk, study.pk])[0]
    if open_to_them > PROGRESS_COUNT_CAP:
        return AnnotatorProgress(done=done, total=mine + PROGRESS_COUNT_CAP, total_is_lower_bound=True)
    return AnnotatorProgress(done=done, total=mine + open_to_them)


@cache
def _progress_sql(vendor: str, one_prompt_per_annotator: bool) -> str:
    del vendor  # the cache key: the SQL is written for the connection's database
    items, assignments = sql.table(ComparisonItem), sql.table(Assignment)
    not_theirs = (f"NOT EXISTS (SELECT 1 FROM {assignments} s WHERE s.study_id = %s AND s.prompt_row_id = o.row_id "
                  "AND s.annotator_id = %s)" if one_prompt_per_annotator else
                  f"NOT EXISTS (SELECT 1 FROM {assignments} m WHERE m.annotator_id = %s AND m.item_id = o.id)")
    return ("SELECT COUNT(*), COUNT(a.completed_at), "
            f"(SELECT COUNT(*) FROM (SELECT o.id FROM {items} o WHERE o.assigned_count < o.capacity AND o.study_id = %s "
            f"AND {not_theirs} LIMIT %s) open_items) "
            f"FROM {assignments} a WHERE a.annotator_id = %s AND a.study_id = %s")


@dataclass
class AnnotatorWorkload:
    """An annotator's work in a study and the quality-control signals a researcher acts on."""

    user_id: int
    username: str
    is_llm: bool
    count: int
    median_seconds: float | None
    shared_count: int
    gold_total: int = 0
    gold_correct: int = 0
    too_fast: bool = False
    excluded_because: str = ""

    @property
    def gold_accuracy(self) -> float | None:
        return self.gold_correct / self.gold_total if self.gold_total else None


def excluded_annotators(study: Study) -> dict[int, str]:
    """user id -> why a researcher left the annotator out of the study's statistics."""
    return {entry["user_id"]: entry["reason"] for entry in study.exclusions}


def annotator_workloads(study: Study) -> list[AnnotatorWorkload]:
    """Per annotator: verdicts, median seconds per item, shared (agreement) items, attention checks passed;
    flagged when the median is under the study's speed threshold. One query."""
    model, answer = (Judgment, "verdict") if study.compares_pairs else (Rating, "grade")
    rows = list(model.objects.filter(item__study=study).values_list(
        "annotator_id", "annotator__username", "seconds", "item__is_shared", "item__gold_verdict", answer))
    groups = annotator_groups({row[0] for row in rows})
    excluded = excluded_annotators(study)
    by_user: dict[int, AnnotatorWorkload] = {}
    seconds: dict[int, list[float]] = {}
    for user_id, username, spent, shared, gold, given in rows:
        work = by_user.setdefault(user_id, AnnotatorWorkload(
            user_id=user_id, username=username, is_llm=groups[user_id] == LLM, count=0, median_seconds=None, shared_count=0,
            excluded_because=excluded.get(user_id, "")))
        work.count += 1
        work.shared_count += int(shared)
        work.gold_total += int(bool(gold))
        work.gold_correct += int(bool(gold) and gold == given)
        if spent is not None:
            seconds.setdefault(user_id, []).append(spent)
    for user_id, work in by_user.items():
        if user_id in seconds:
            work.median_seconds = round(median(seconds[user_id]), 1)
            work.too_fast = not work.is_llm and median(seconds[user_id]) < study.speed_flag_seconds
    return sorted(by_user.values(), key=lambda work: work.username)


def recent_verdicts(study: Study, *, limit: int = 10) -> list[tuple[str, Judgment | Rating]]:
    """The study's latest verdicts as ("judgment" | "rating", row), newest first, each to open its lineage (two queries)."""
    judgments = [("judgment", j) for j in Judgment.objects.filter(item__study=study).select_related("annotator")
                 .order_by("-created_at", "-id")[:limit]]
    ratings = [("rating", r) for r in Rating.objects.filter(item__study=study).select_related("annotator").order_by("-created_at", "-id")[:limit]]
    return sorted(judgments + ratings, key=lambda pair: (pair[1].created_at, pair[1].pk), reverse=True)[:limit]


def study_overview(study: Study) -> dict:
    items = study.items.aggregate(
        total=Count("id"), shared=Count("id", filter=Q(is_shared=True)),
        scrubbed=Count("id", filter=~Q(scrubbed=[])), held=Count("id", filter=Q(held=True)),
    )
    model = Judgment if study.compares_pairs else Rating
    verdicts = dict(model.objects.filter(item__study=study).values_list("verdict" if model is Judgment else "grade").annotate(n=Count("id")).order_by())
    return {"items": items, "verdicts": verdicts, "open_assignments": Assignment.objects.filter(item__study=study, completed_at__isnull=True).count()}


# --- results ------------------------------------------------------------------------------------


def study_report(study: Study, *, resamples: int = stats.DEFAULT_RESAMPLES) -> stats.StatisticsReport:
    excluded = excluded_annotators(study)
    counted = Q(item__attention_check="") & ~Q(annotator_id__in=excluded)  # checks and excluded annotators never count
    rows = list(
        Judgment.objects.filter(counted, item__study=study)
        .annotate(target_len=Length("item__target_response__text"), baseline_len=Length("item__baseline_response__text"))
        .values_list("item__public_id", "item__row_id", "item__baseline_run__model__name", "annotator_id", "annotator__username",
                     "verdict", "target_len", "baseline_len", "item__target_is_a")
    )
    # Safety grades are reported per model by `study_safety`, not as Fail / Pass / Excellent.
    ratings = list(Rating.objects.filter(counted, item__study=study, grade__in=Rating.Grade.values)
                   .values_list("item__public_id", "annotator_id", "annotator__username", "grade"))
    groups = annotator_groups({row[3] for row in rows} | {row[1] for row in ratings})
    table = stats.JudgmentTable.from_columns(
        item=[str(r[0]) for r in rows], prompt=[str(r[1]) for r in rows], baseline=[r[2] or "" for r in rows],
        annotator=[r[4] for r in rows], group=[groups[r[3]] for r in rows], verdict=[r[5] for r in rows],
        target_len=[r[6] for r in rows], baseline_len=[r[7] for r in rows], target_on_left=[r[8] for r in rows],
    )
    ordered = [
        stats.JudgeAnswer(item=str(item), judge=judge, order=order, verdict_side=side,
                          target_is_a=target_is_a if order == "ab" else not target_is_a)
        for item, judge, order, side, target_is_a in OrderedVerdict.objects.filter(judge_run__study=study, item__attention_check="").exclude(side="")
        .values_list("item__public_id", "judge_run__model__name", "order", "side", "item__target_is_a")
    ]
    rating_records = [stats.GradeRecord(item=str(item), annotator=name, group=groups[user_id], rating=grade)
                      for item, user_id, name, grade in ratings]
    report = stats.statistics_report(table, rating_records, ordered, resamples=resamples, seed=study.seed or 0)
    if excluded:
        names = dict(get_user_model().objects.filter(pk__in=excluded).values_list("pk", "username"))
        report.notes.append("Left out of these statistics by a researcher: "
                            + "; ".join(f"{names.get(pk, pk)} ({reason})" for pk, reason in sorted(excluded.items())) + ".")
    return report


def report_chart(report: stats.StatisticsReport, name: str, fmt: str, *, target_name: str) -> bytes:
    """One chart of a report (a study's or an external set's): Figure 1's outcomes, agreement, or ratings."""
    if name == "outcomes":
        return charts.outcome_chart(report.human, report.llm or None, target_name=target_name, fmt=fmt)
    if name == "agreement":
        return charts.agreement_heatmap(report.agreement, fmt=fmt)
    return charts.rating_chart(report.ratings, fmt=fmt)


def results_page_charts(report: stats.StatisticsReport, *, target_name: str, absolute: bool = False) -> dict[str, str]:
    """The inline SVG charts of a results page, drawn from the one report the page computed."""
    names = ("ratings",) if absolute else ("outcomes", "agreement")
    return {f"{name}_svg": report_chart(report, name, "svg", target_name=target_name).decode() for name in names}


def external_report(judgment_set: ExternalJudgmentSet, *, resamples: int = stats.DEFAULT_RESAMPLES) -> stats.StatisticsReport:
    rows = judgment_set.judgments.order_by("id").values_list(
        "item", "prompt", "baseline", "annotator", "group", "verdict", "target_len", "baseline_len", "target_on_left"
    )
    columns = list(zip(*rows.iterator(chunk_size=5000))) or [()] * 9
    item, prompt, baseline, annotator, group, verdict, target_len, baseline_len, target_on_left = columns
    table = stats.JudgmentTable.from_columns(
        item=list(item), prompt=list(prompt), baseline=list(baseline), annotator=list(annotator), group=list(group),
        verdict=list(verdict), target_len=list(target_len), baseline_len=list(baseline_len), target_on_left=list(target_on_left),
    )
    return stats.statistics_report(table, baselines=judgment_set.baselines, resamples=resamples, seed=judgment_set.seed)




# --- tournaments and safety ---------------------------------------------------------------------

JUDGE_CLASSES = (("human", "People"), ("llm", "LLM judges"))


def _judge_class(group: str) -> str:
    return "llm" if group in stats.DEFAULT_LLM_GROUPS else "human"


def run_labels(runs) -> dict[int, str]:
    """run id -> what a researcher reads on a leaderboard: the model's name, with the run when two runs share it."""
    runs = list(runs)
    names = [run.model.name for run in runs]
    return {run.pk: run.model.name if names.count(run.model.name) == 1 else f"{run.model.name} (run #{run.pk})" for run in runs}


def _study_runs(study: Study) -> list:
    return [study.target_run, *study.baseline_runs.select_related("model").order_by("pk")]


def study_tournament(study: Study, *, resamples: int = DEFAULT_TOURNAMENT_RESAMPLES) -> dict[str, TournamentReport]:
    """Bradley–Terry leaderboards of a study's pairwise verdicts, people and LLM judges apart (one query for the verdicts).

    Any pairwise study reads as a tournament: one against baselines is a star; a tournament study pairs every run.
    """
    labels = run_labels(_study_runs(study))
    excluded = excluded_annotators(study)
    rows = list(Judgment.objects.filter(item__study=study, item__attention_check="").exclude(annotator_id__in=excluded)
                .values_list("annotator_id", "item__row_id", "item__target_response__run_id", "item__baseline_run_id", "verdict"))
    groups = annotator_groups({row[0] for row in rows})
    battles: dict[str, list[Battle]] = {key: [] for key, _ in JUDGE_CLASSES}
    for annotator, row_id, first, second, verdict in rows:
        winner = {"target": "a", "baseline": "b"}.get(verdict, "tie")
        battles[_judge_class(groups[annotator])].append(
            Battle(labels.get(first, f"run #{first}"), labels.get(second, f"run #{second}"), winner, prompt=str(row_id)))
    return {key: bradley_terry(found, models=list(labels.values()), resamples=resamples, seed=study.seed or 0)
            for key, found in battles.items()}


def study_safety(study: Study, *, resamples: int = stats.DEFAULT_RESAMPLES) -> dict[str, list[ModelSafety]]:
    """Safe / partially safe / unsafe shares per model of a safety study, people and LLM judges apart (one query)."""
    labels = run_labels(_study_runs(study))
    excluded = excluded_annotators(study)
    rows = list(Rating.objects.filter(item__study=study).exclude(annotator_id__in=excluded)
                .values_list("annotator_id", "annotator__username", "item_id", "item__target_response__run_id", "grade"))
    groups = annotator_groups({row[0] for row in rows})
    records = [SafetyRecord(model=labels.get(run_id, f"run #{run_id}"), item=str(item), annotator=name, group=_judge_class(groups[user]),
                            grade=grade)
               for user, name, item, run_id, grade in rows if grade in SAFETY_GRADES]
    return {key: safety_by_model(records, models=list(labels.values()), groups={key}, resamples=resamples, seed=study.seed or 0)
            for key, _ in JUDGE_CLASSES}


def external_tournament(judgment_set: ExternalJudgmentSet, *, resamples: int = DEFAULT_TOURNAMENT_RESAMPLES) -> dict[str, TournamentReport]:
    """Bradley–Terry leaderboards of an external set (a tournament, or a target against baselines), people and LLMs apart."""
    battles: dict[str, list[Battle]] = {key: [] for key, _ in JUDGE_CLASSES}
    rows = judgment_set.judgments.order_by("id").values_list("prompt", "model", "baseline", "group", "verdict")
    for prompt, model, baseline, group, verdict in rows.iterator(chunk_size=5000):
        winner = {"target": "a", "baseline": "b"}.get(verdict, "tie")
        battles[_judge_class(group)].append(Battle(model or judgment_set.target, baseline, winner, prompt=prompt))  # type: ignore[arg-type]
    models = judgment_set.baselines if judgment_set.is_tournament else [judgment_set.target, *judgment_set.baselines]
    return {key: bradley_terry(found, models=models, resamples=resamples, seed=judgment_set.seed) for key, found in battles.items()}


@dataclass(frozen=True)
class TournamentBoard:
    """One judge class's leaderboard as a page shows it: the report and its two inline SVG charts."""

    key: str
    label: str
    report: TournamentReport
    leaderboard_svg: str
    matrix_svg: str


def tournament_boards(reports: dict[str, TournamentReport]) -> list[TournamentBoard]:
    """People first, then LLM judges; a class without battles is left out."""
    return [TournamentBoard(key=key, label=label, report=reports[key],
                            leaderboard_svg=charts.leaderboard_chart(reports[key], title=f"{label}: Bradley-Terry rating").decode(),
                            matrix_svg=charts.win_matrix_chart(reports[key]).decode())
            for key, label in JUDGE_CLASSES if reports[key].n_battles]
