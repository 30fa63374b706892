"""Reads: who sees which examples, list pages, the quota dashboard. Query counts are constant per page."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Substr

from annotation import paper
from annotation.models import AuthorProfile, Example, Quota, Status, Turn
from lima_site.roles import AUTHOR, RESEARCHER, can, user_roles

PREVIEW_CHARS = 160


def author_group(user) -> str:
    """The user's LIMA author group ('A', 'B') or '' if none is set."""
    if not user.is_authenticated:
        return ""
    if not hasattr(user, "_lima_author_group"):
        user._lima_author_group = (
            AuthorProfile.objects.filter(user=user).values_list("group", flat=True).first() or ""
        )
    return user._lima_author_group


def writable_splits(user) -> tuple[str, ...]:
    """Splits a person may write for: their group's (LIMA: A wrote train + dev, B the test prompts)."""
    group = author_group(user)
    if group and not (user.is_staff or RESEARCHER in user_roles(user)):
        return paper.GROUP_SPLITS[group]
    return tuple(key for key, _ in paper.SPLITS)


def is_unrestricted(user) -> bool:
    return user.is_staff or RESEARCHER in user_roles(user)


def visible_examples(user) -> QuerySet[Example]:
    """Examples this person may read. With blind authoring on, an author sees only their group's
    splits (group B never sees training responses, group A never sees test prompts), plus their own."""
    examples = Example.objects.all()
    if is_unrestricted(user):
        return examples
    if AUTHOR not in user_roles(user):
        return examples.none()
    if not settings.LIMA_BLIND_TEST_AUTHORS:
        return examples
    group = author_group(user)
    own = Q(created_by=user)
    if not group:
        return examples.filter(own)
    return examples.filter(own | Q(split__in=paper.GROUP_SPLITS[group]))


def can_edit_example(user, example: Example) -> bool:
    if is_unrestricted(user):
        return True
    if example.created_by_id == user.pk and example.status in (Status.DRAFT, Status.REJECTED):
        return can(user, "author_examples")
    return example.status == Status.SUBMITTED and can_review_example(user, example)


def can_review_example(user, example: Example) -> bool:
    """Four eyes: a reviewer never approves their own example (staff excepted) and must be able to see it."""
    if not can(user, "review_examples") or example.status != Status.SUBMITTED:
        return False
    if user.is_staff:
        return True
    if example.created_by_id == user.pk:
        return False
    return visible_examples(user).filter(pk=example.pk).exists()


def can_approve_example(user, example: Example) -> bool:
    """Four eyes on the text as it stands: the person who last changed it (its author, or a reviewer
    who edited the submission) cannot approve it; staff excepted, as for review."""
    if not can_review_example(user, example):
        return False
    return user.is_staff or example.text_edited_by_id != user.pk


def turn_writers(example: Example) -> list:
    """Who wrote each turn as it stands: the person whose revision last changed its text (one query)."""
    writers: list = []
    previous: list[str] = []
    for revision in example.revisions.select_related("user").order_by("version", "id"):
        texts = [turn["text"] for turn in revision.snapshot.get("turns", [])]
        writers = [writers[i] if i < len(previous) and previous[i] == text else revision.user for i, text in enumerate(texts)]
        previous = texts
    return writers


def with_prompt_preview(examples: QuerySet[Example]) -> QuerySet[Example]:
    """First prompt and turn count as correlated subqueries: evaluated only for the rows of the page."""
    first_turn = Turn.objects.filter(example=OuterRef("pk"), position=0).values("text")[:1]
    turn_count = Turn.objects.filter(example=OuterRef("pk")).order_by().values("example").annotate(n=Count("id")).values("n")
    return examples.annotate(prompt_preview=Substr(Subquery(first_turn), 1, PREVIEW_CHARS), turn_count=Subquery(turn_count))


def examples_by_author(user) -> QuerySet[Example]:
    return with_prompt_preview(Example.objects.filter(created_by=user)).select_related("reviewed_by").order_by("-updated_at", "-id")


def review_queue(user, *, split: str = "", source: str = "") -> QuerySet[Example]:
    examples = visible_examples(user).filter(status=Status.SUBMITTED)
    if not user.is_staff:
        examples = examples.exclude(created_by=user)
    if split:
        examples = examples.filter(split=split)
    if source:
        examples = examples.filter(source=source)
    return with_prompt_preview(examples).select_related("created_by", "text_edited_by").order_by("updated_at", "id")


@dataclass
class QuotaCell:
    quota: Quota
    label: str
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def approved(self) -> int:
        return self.counts.get(Status.APPROVED, 0)

    @property
    def percent(self) -> int:
        return min(100, round(100 * self.approved / self.quota.target)) if self.quota.target else 100


@dataclass(frozen=True)
class UnplannedCell:
    """A (split, source) that has examples but no quota, shown with its labels, never its raw keys."""

    split: str
    source: str
    label: str
    counts: dict[str, int]


@dataclass
class QuotaDashboard:
    cells: list[QuotaCell]
    unplanned: list[UnplannedCell]
    statuses: tuple[str, ...]


def quota_dashboard() -> QuotaDashboard:
    """Counts per (split, source, status) and the flagged subsets: three queries in all.

    Where a split has a multi-turn target (LIMA's extension of the training set from 1,000 to
    1,030), its dialogues count in that row and not in their source's cell, so the source cells
    match Table 1; in other splits a dialogue counts under its source.
    """
    quotas = list(Quota.objects.all())
    multi_turn_splits = {quota.split for quota in quotas if quota.flag == Quota.Flag.MULTI_TURN}
    by_cell: dict[tuple[str, str], dict[str, int]] = {}
    cell_rows = Example.objects.values("split", "source", "status", "is_multi_turn").annotate(n=Count("id")).order_by()
    for row in cell_rows:
        if row["is_multi_turn"] and row["split"] in multi_turn_splits:
            continue
        counts = by_cell.setdefault((row["split"], row["source"]), {})
        counts[row["status"]] = counts.get(row["status"], 0) + row["n"]
    flagged: dict[tuple[str, str], dict[str, int]] = {}
    flag_rows = (
        Example.objects.filter(Q(is_refusal=True) | Q(is_multi_turn=True))
        .values("split", "status", "is_refusal", "is_multi_turn").annotate(n=Count("id")).order_by()
    )
    for row in flag_rows:
        for flag, on in ((Quota.Flag.REFUSAL, row["is_refusal"]), (Quota.Flag.MULTI_TURN, row["is_multi_turn"])):
            if on:
                counts = flagged.setdefault((row["split"], flag), {})
                counts[row["status"]] = counts.get(row["status"], 0) + row["n"]
    source_labels = dict(paper.SOURCES)
    cells = []
    planned = set()
    for quota in quotas:
        if quota.flag:
            counts = flagged.get((quota.split, quota.flag), {})
            label = quota.get_flag_display()
        elif quota.source:
            counts = by_cell.get((quota.split, quota.source), {})
            planned.add((quota.split, quota.source))
            label = source_labels.get(quota.source, quota.source)
        else:
            counts = {}
            for (split, _), cell_counts in by_cell.items():
                if split == quota.split:
                    for status, n in cell_counts.items():
                        counts[status] = counts.get(status, 0) + n
            label = "All sources"
        cells.append(QuotaCell(quota=quota, label=label, counts=counts))
    unplanned = [UnplannedCell(split=split, source=source, label=source_labels.get(source, source), counts=counts)
                 for (split, source), counts in sorted(by_cell.items()) if (split, source) not in planned]
    statuses = (Status.CANDIDATE, Status.DRAFT, Status.SUBMITTED, Status.APPROVED, Status.REJECTED)
    return QuotaDashboard(cells=cells, unplanned=unplanned, statuses=statuses)



def candidate_queue(*, source: str = "", community: str = "") -> QuerySet[Example]:
    """Imported candidates awaiting a curator, best-scored first within the import order."""
    candidates = Example.objects.filter(status=Status.CANDIDATE)
    if source:
        candidates = candidates.filter(source=source)
    if community:
        candidates = candidates.filter(provenance__community=community)
    return candidates.order_by("id")


def candidate_facets() -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """(source, count) and (community, count) of the waiting candidates, for the queue's filters; two queries."""
    candidates = Example.objects.filter(status=Status.CANDIDATE).order_by()
    sources = [(row["source"], row["n"]) for row in candidates.values("source").annotate(n=Count("id")).order_by("source")]
    communities = [
        (row["community"], row["n"])
        for row in candidates.values(community=KeyTextTransform("community", "provenance")).annotate(n=Count("id")).order_by("community")
        if row["community"]
    ]
    return sources, communities


# --- every example, for researchers ------------------------------------------------------------

YES_NO = ("yes", "no")


@dataclass(frozen=True)
class ExampleFilters:
    """The example list's filters, as a researcher sets them in the page's form (unknown values are ignored)."""

    q: str = ""
    split: str = ""
    source: str = ""
    status: str = ""
    author: str = ""  # a username, or "import" for imported rows (no author)
    refusal: str = ""  # "yes", "no" or "" (either)
    multi_turn: str = ""

    @classmethod
    def from_query(cls, data) -> "ExampleFilters":
        def pick(name: str, allowed) -> str:
            value = data.get(name, "")
            return value if value in allowed else ""

        return cls(
            q=" ".join(data.get("q", "").split())[:200], split=pick("split", [key for key, _ in paper.SPLITS]),
            source=pick("source", paper.SOURCE_KEYS), status=pick("status", Status.values), author=data.get("author", "").strip()[:150],
            refusal=pick("refusal", YES_NO), multi_turn=pick("multi_turn", YES_NO),
        )

    def as_query(self) -> dict[str, str]:
        return {key: value for key, value in self.__dict__.items() if value}


def _text_search(examples: QuerySet[Example], q: str) -> QuerySet[Example]:
    """Full-text search (PostgreSQL: English stemming, web-search syntax: "quoted phrases", -excluded, or) over the
    turns and the title; elsewhere (the embedded SQLite) a case-insensitive substring match."""
    from django.db import connection

    if connection.vendor == "postgresql":
        from django.contrib.postgres.aggregates import StringAgg
        from django.contrib.postgres.search import SearchQuery, SearchVector

        # One document per example (its title and every turn), so "pack -hiking" excludes an example whose prompt
        # says hiking even when its answer does not. The turns are aggregated by a correlated subquery, once per
        # example the other filters left: a `pk IN (GROUP BY ... HAVING ...)` over every example was planned as a
        # subplan re-run per outer row (a 2,000-example list with a status filter took over 7 minutes).
        from django.db.models import OuterRef, Subquery, TextField, Value
        from django.db.models.functions import Coalesce

        query = SearchQuery(q, config="english", search_type="websearch")
        turns = (Turn.objects.filter(example=OuterRef("pk")).order_by().values("example")
                 .annotate(joined=StringAgg("text", delimiter="\n")).values("joined"))
        return (examples.annotate(search_turns=Coalesce(Subquery(turns, output_field=TextField()), Value(""),
                                                        output_field=TextField()))
                .annotate(search_document=SearchVector("title", "search_turns", config="english"))
                .filter(search_document=query))
    return examples.filter(Q(pk__in=Turn.objects.filter(text__icontains=q).values("example_id")) | Q(title__icontains=q))


def search_examples(user, filters: ExampleFilters) -> QuerySet[Example]:
    """The researcher's example list: every example they may see but the uncurated candidates (curation has those),
    filtered, newest change first. Each row's prompt preview and turn count are subqueries, so a page costs the
    same queries for 100 examples or 100,000."""
    examples = visible_examples(user)
    examples = examples.filter(status=filters.status) if filters.status else examples.exclude(status=Status.CANDIDATE)
    for name in ("split", "source"):
        if getattr(filters, name):
            examples = examples.filter(**{name: getattr(filters, name)})
    if filters.author == "import":
        examples = examples.filter(created_by__isnull=True)
    elif filters.author:
        examples = examples.filter(created_by__username=filters.author)
    if filters.refusal:
        examples = examples.filter(is_refusal=filters.refusal == "yes")
    if filters.multi_turn:
        examples = examples.filter(is_multi_turn=filters.multi_turn == "yes")
    if filters.q:
        examples = _text_search(examples, filters.q)
    return with_prompt_preview(examples).select_related("created_by", "text_edited_by", "reviewed_by").order_by("-updated_at", "-id")


def next_in_review_queue(user, *, after: Example | None = None, split: str = "", source: str = "") -> Example | None:
    """The next example this reviewer can act on (oldest first), skipping the one just decided."""
    queue = review_queue(user, split=split, source=source)
    if after is not None:
        queue = queue.exclude(pk=after.pk)
    return queue.first()
