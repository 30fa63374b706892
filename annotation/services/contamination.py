"""The contamination report over stored examples: dev and test prompts that duplicate training prompts.

A read (no writes), kept here beside the services that change examples because both the quota dashboard and
freezing a snapshot (annotation.datasets) ask for it. Computed once per state of the examples: the result is
cached under a fingerprint (how many examples, when one last changed), so the dashboard does not redo the MinHash
work on every load.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from django.core.cache import cache
from django.db.models import Count, Max

from annotation import paper
from annotation.contamination import DEFAULT_THRESHOLD, EXACT, NEAR, NORMALISED, Match, Prompt, find_contamination
from annotation.models import Example, Role, Status, Turn

# What may still reach a training snapshot, or a study: everything but rejected rows and uncurated candidates
# (mined dumps hold many thousands; they are checked when accepted).
CHECKED_STATUSES = (Status.DRAFT, Status.SUBMITTED, Status.APPROVED)
EVALUATION_SPLITS = (paper.DEV, paper.TEST)
CACHE_SECONDS = 3600


@dataclass(frozen=True)
class ContaminationReport:
    matches: list[Match]
    training_prompts: int  # user turns of training examples
    evaluated_prompts: int  # dev and test examples (each with one user turn or more)
    threshold: float
    by_kind: dict[str, int] = field(default_factory=dict)

    @property
    def flagged(self) -> int:
        """How many dev/test prompts have at least one duplicate in the training data."""
        return len({match.evaluated.example_id for match in self.matches})

    def kinds(self) -> list[tuple[str, int]]:
        return [(kind, self.by_kind.get(kind, 0)) for kind in (EXACT, NORMALISED, NEAR)]


def _prompts(splits) -> list[Prompt]:
    """Every user turn of every checked example of these splits (a dialogue's later questions are prompts too: a test
    prompt asked as the third turn of a training dialogue was trained on all the same), in one query (two with the
    fingerprint: the dashboard's query count stays constant with the number of examples)."""
    rows = (Turn.objects.filter(role=Role.USER, example__split__in=splits, example__status__in=CHECKED_STATUSES)
            .order_by("example_id", "position").values_list("example_id", "example__split", "text", "position"))
    return [Prompt(example_id=pk, split=split, text=text, position=position)
            for pk, split, text, position in rows.iterator(chunk_size=2000)]


def _fingerprint() -> str:
    state = Example.objects.aggregate(n=Count("id"), changed=Max("updated_at"))
    return f"{state['n']}:{state['changed'].isoformat() if state['changed'] else '-'}"


def contamination_report(*, threshold: float = DEFAULT_THRESHOLD, use_cache: bool = True) -> ContaminationReport:
    key = f"lima:contamination:{threshold}:{_fingerprint()}"
    if use_cache and (cached := cache.get(key)) is not None:
        return cached
    prompts = _prompts([paper.TRAIN, *EVALUATION_SPLITS])
    training = [prompt for prompt in prompts if prompt.split == paper.TRAIN]
    evaluated = [prompt for prompt in prompts if prompt.split != paper.TRAIN]
    matches = find_contamination(training, evaluated, threshold=threshold)
    report = ContaminationReport(matches=matches, training_prompts=len(training),
                                 evaluated_prompts=len({prompt.example_id for prompt in evaluated}),
                                 threshold=threshold, by_kind=dict(Counter(match.kind for match in matches)))
    cache.set(key, report, CACHE_SECONDS)
    return report


def matches_touching(report: ContaminationReport, example_ids: set[int]) -> list[Match]:
    """The report's pairs that involve any of these examples (on either side): what a snapshot of them would carry."""
    return [m for m in report.matches if m.evaluated.example_id in example_ids or m.training.example_id in example_ids]
