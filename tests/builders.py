"""Small builders for examples and GAIR/lima files (no large fixtures)."""

from __future__ import annotations

import json

from annotation.models import Example, Status
from annotation.services.examples import TurnInput, create_example
from annotation.datasets.services import import_examples
from annotation.datasets.lima_format import ParsedRow


def example(*, user, split="train", source="authored", status=Status.DRAFT, turns=("A prompt?", "A response."), **fields) -> Example:
    created = create_example(
        user=user, split=split, source=source,
        turns=[TurnInput("user" if i % 2 == 0 else "assistant", text) for i, text in enumerate(turns)], **fields,
    )
    if status != Status.DRAFT:
        Example.objects.filter(pk=created.pk).update(status=status)
        created.refresh_from_db()
    return created


def bulk_examples(n: int, *, user, split="train", source="authored", status=Status.APPROVED) -> None:
    rows = [
        ParsedRow(line=i + 1, split=split, source=source, conversations=[f"Prompt {i}?", f"Response {i}."])
        for i in range(n)
    ]
    last = Example.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    import_examples(rows=rows, user=user, status=status)
    # Imported rows have no author; these stand for examples `user` wrote.
    Example.objects.filter(pk__gt=last).update(created_by=user, text_edited_by=user)


# Table 1 of the paper: (split, source, examples), plus 30 multi-turn dialogues (10 authored, 20 Stack Exchange).
TABLE_1_MIX = [
    ("train", "stackexchange_stem", 200), ("train", "stackexchange_other", 200), ("train", "wikihow", 200),
    ("train", "reddit_writingprompts", 150), ("train", "natural_instructions", 50), ("train", "authored", 200),
    ("test", "reddit_askreddit", 70), ("test", "authored", 230),
]


def lima_1330_lines() -> list[str]:
    """A 1,330-row GAIR/lima JSONL file: 1,000 train (13 refusals) + 30 multi-turn + 300 test."""
    lines = []
    for split, source, count in TABLE_1_MIX:
        for i in range(count):
            if split == "train":
                record = {"conversations": [f"{source} question {i}?", f"Certainly: {source} answer {i}."], "source": source}
                if source == "authored" and i < 13:
                    record["is_refusal"] = True
            else:
                record = {"conversations": [f"{source} test prompt {i}?"], "source": source}
            lines.append(json.dumps(record))
    for i in range(30):
        source = "authored" if i < 10 else "stackexchange_stem"
        conversation = [f"Dialogue {i} opener?", "First answer.", "A follow-up?", "Second answer."]
        lines.append(json.dumps({"conversations": conversation, "source": source, "split": "train"}))
    assert len(lines) == 1330
    return lines


def prompt_snapshot(*, user, n: int, name: str = "test-prompts", prompts: list[list[str]] | None = None):
    """A frozen test-split snapshot of n prompts (or the given conversations)."""
    from annotation.datasets.services import freeze_dataset

    conversations = prompts or [[f"Test prompt number {i}: what should a visitor know?"] for i in range(n)]
    rows = [ParsedRow(line=i + 1, split="test", source="authored", conversations=c) for i, c in enumerate(conversations)]
    import_examples(rows=rows, user=user, status=Status.APPROVED)
    return freeze_dataset(name=name, split="test", user=user)


def tiny_model_spec(*, name: str = "tiny-llama", max_new_tokens: int = 16, location: str | None = None):
    from django.conf import settings

    from generation.models import ModelSpec

    return ModelSpec.objects.create(
        name=name, backend="transformers", location=location or str(settings.LIMA_MODEL_DIR), max_new_tokens=max_new_tokens
    )


def completed_run(*, dataset, model_name: str, text=lambda row: f"Answer to {row.position}"):
    """A finished run with one response per prompt (an imported baseline: no generation needed)."""
    from generation.models import GenerationRun, ModelSpec, Response, RunStatus

    model, _ = ModelSpec.objects.get_or_create(name=model_name, defaults={"backend": "imported"})
    rows = list(dataset.rows.order_by("position"))
    run = GenerationRun.objects.create(model=model, dataset=dataset, decoding={}, total=len(rows), status=RunStatus.COMPLETED)
    Response.objects.bulk_create(Response(run=run, row=row, text=text(row)) for row in rows)
    return run


def pairwise_study(*, researcher, annotators, prompts: int = 10, baselines=("alpaca-65b", "davinci-003"), overlap: int = 1,
                   agreement_subset: int = 2, open_it: bool = True, kind: str = "pairwise", name: str = "study",
                   one_prompt_per_annotator: bool = True):
    from annotation.evaluation.models import Study
    from annotation.evaluation.services.judging import open_study

    dataset = prompt_snapshot(user=researcher, n=prompts, name=f"{name}-prompts")
    target = completed_run(dataset=dataset, model_name="lima-65b", text=lambda row: f"Primary answer to prompt {row.position}.")
    study = Study.objects.create(name=name, kind=kind, dataset=dataset, target_run=target, overlap=overlap,
                                 agreement_subset=agreement_subset, absolute_sample=prompts, created_by=researcher, seed=11,
                                 one_prompt_per_annotator=one_prompt_per_annotator)
    for number, baseline in enumerate(baselines if kind == "pairwise" else ()):
        study.baseline_runs.add(completed_run(dataset=dataset, model_name=baseline,
                                              text=lambda row, n=number: f"Alternative {n} answer to prompt {row.position}."))
    study.annotators.set(annotators)
    if open_it:
        open_study(study=study)
    return study
