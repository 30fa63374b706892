"""Where a verdict came from: judgment -> item -> both responses -> their generation runs -> checkpoint -> training
run -> snapshot -> examples. For researchers only (it names every model); annotators never reach it.

A bounded number of queries whatever the sizes: the verdict with its item, prompt, responses, runs and models in
one; the checkpoints behind both models (with their training runs and snapshots) in one; a page of each training
snapshot's examples in one per snapshot (at most two).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.shortcuts import get_object_or_404

from annotation.datasets.models import DatasetRow
from annotation.evaluation.models import Judgment, Rating
from generation.models import GenerationRun, Response
from training.models import Checkpoint

EXAMPLES_SHOWN = 20


@dataclass
class Side:
    """One response in the lineage, with everything upstream of it."""

    role: str  # "target" / "baseline" in a pairwise study, "first" / "second" in a tournament, "rated" otherwise
    shown_as: str  # "A" / "B" as the annotator saw it, or "" for a single response
    response: Response
    run: GenerationRun
    checkpoint: Checkpoint | None = None
    training_examples: list[DatasetRow] = field(default_factory=list)


@dataclass
class Lineage:
    kind: str  # "judgment" or "rating"
    verdict: Judgment | Rating
    sides: list[Side]

    @property
    def item(self):
        return self.verdict.item

    @property
    def study(self):
        return self.verdict.item.study


_ITEM = ("annotator", "item__study", "item__row__dataset", "item__row__example",
         "item__target_response__run__model", "item__target_response__run__dataset",
         "item__baseline_response__run__model", "item__baseline_response__run__dataset")


def lineage(*, kind: str, pk: int) -> Lineage:
    """The lineage of one stored verdict (404 when there is none)."""
    model = Judgment if kind == "judgment" else Rating
    verdict = get_object_or_404(model.objects.select_related(*_ITEM), pk=pk)
    item = verdict.item
    tournament = item.study.kind == item.study.Kind.TOURNAMENT
    if item.baseline_response_id:
        target_as, baseline_as = ("A", "B") if item.target_is_a else ("B", "A")
        sides = [Side("first" if tournament else "target", target_as, item.target_response, item.target_response.run),
                 Side("second" if tournament else "baseline", baseline_as, item.baseline_response, item.baseline_response.run)]
    else:
        sides = [Side("rated", "", item.target_response, item.target_response.run)]
    checkpoints = {c.model_id: c for c in Checkpoint.objects.filter(model_id__in={side.run.model_id for side in sides})
                   .select_related("run__dataset", "run__base_model")}
    snapshot_examples: dict[int, list[DatasetRow]] = {}
    for side in sides:
        side.checkpoint = checkpoints.get(side.run.model_id)
        if side.checkpoint is None:
            continue
        dataset_id = side.checkpoint.run.dataset_id
        if dataset_id not in snapshot_examples:
            snapshot_examples[dataset_id] = list(DatasetRow.objects.filter(dataset_id=dataset_id).order_by("position")[:EXAMPLES_SHOWN])
        side.training_examples = snapshot_examples[dataset_id]
    return Lineage(kind=kind, verdict=verdict, sides=sides)
