"""Super-NaturalInstructions task files → LIMA candidates (no Django import).

Each task is one JSON file (`tasks/task1290_xsum_summarization.json`) with `Definition` (a list
of strings), `Categories`, `Input_language`, `Positive Examples` and `Instances`
(`{"id", "input", "output": [...]}`). LIMA took 50 natural-language-generation tasks
(summarisation, paraphrasing, style transfer, ...) and one random instance of each: the
definition plus the instance input is the prompt, its output the response.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path

from annotation import paper
from annotation.importers.batch import (Candidate, CandidateBatch, ImportReport, InputError, Progress, ProgressMeter,
                                        files_under, too_large)
from annotation.input_limits import InputLimits, JsonProblem, MalformedJson, load_json

DATASET_URL = "https://github.com/allenai/natural-instructions"
DEFAULT_LICENCE = "Apache-2.0 (Super-NaturalInstructions)"
GENERATION_CATEGORIES = (
    "Summarization", "Paraphrasing", "Text Simplification", "Style Transfer", "Title Generation",
    "Question Generation", "Story Composition", "Dialogue Generation", "Data to Text", "Sentence Composition",
    "Sentence Expansion", "Sentence Compression", "Poem Generation", "Question Rewriting", "Explanation",
    "Text Completion", "Grammar Error Correction",
)

NOT_GENERATION_TASK = "not_generation_task"
NOT_ENGLISH = "not_english"
NO_USABLE_INSTANCE = "no_usable_instance"
NOT_SAMPLED = "not_sampled"


@dataclass(frozen=True)
class NaturalInstructionsParams:
    seed: int = 0
    target: int = 50
    categories: tuple[str, ...] = field(default=GENERATION_CATEGORIES)
    english_only: bool = True
    strict: bool = False


def is_generation_task(categories: list[str], allowed: tuple[str, ...]) -> bool:
    wanted = {name.lower() for name in allowed}
    return any(str(category).lower() in wanted for category in categories)


def is_english(task: dict) -> bool:
    return all(
        [language.lower() for language in task.get(key) or ["English"]] == ["english"]
        for key in ("Input_language", "Output_language", "Instruction_language")
    )


def usable_instances(instances: list) -> list[dict]:
    return [
        instance for instance in instances
        if isinstance(instance, dict) and str(instance.get("input") or "").strip()
        and isinstance(instance.get("output"), list) and instance["output"] and str(instance["output"][0]).strip()
    ]


def pick_instance(instances: list[dict], *, seed: int, task: str) -> dict:
    """One random instance per task, seeded per task so adding task files does not change the others' pick."""
    return random.Random(f"{seed}:{task}").choice(instances)


def build_prompt(definition: list | str, instance_input: str) -> str:
    text = " ".join(definition) if isinstance(definition, list) else str(definition)
    return f"{text.strip()}\n\n{instance_input.strip()}"


def _load(path: Path, meter: ProgressMeter, limits: InputLimits) -> object:
    """A task file is one JSON document, read whole: only up to the size an upload may be."""
    try:
        with open(path, "rb") as stream:
            data = stream.read(limits.max_file_bytes + 1)
    except OSError as exc:
        raise InputError(path, None, f"cannot read: {exc}") from exc
    if len(data) > limits.max_file_bytes:
        raise too_large(path, limits)
    meter.add(len(data))
    try:
        return load_json(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(path, line, f"not UTF-8 ({exc.reason}); re-encode the file as UTF-8") from exc
    except MalformedJson as exc:
        raise InputError(path, exc.lineno, f"malformed JSON (truncated file?): {exc.msg}") from exc
    except JsonProblem as exc:
        raise InputError(path, None, str(exc)) from exc


def import_natural_instructions(path: str | Path, params: NaturalInstructionsParams | None = None, *,
                                progress: Progress | None = None, limits: InputLimits | None = None) -> CandidateBatch:
    params = params or NaturalInstructionsParams()
    limits = limits or InputLimits()
    report = ImportReport(importer="natural_instructions", strict=params.strict)
    files = [file for file in files_under(path, ("task*.json",)) if file.suffix == ".json"]
    report.files = [str(file) for file in files]
    meter = ProgressMeter(sum(file.stat().st_size for file in files), progress)
    eligible: dict[str, tuple[dict, dict, Path]] = {}
    for file in files:
        task = _load(file, meter, limits)
        name = file.stem
        if not isinstance(task, dict) or not isinstance(task.get("Definition"), (list, str)) \
                or not isinstance(task.get("Instances"), list) or not isinstance(task.get("Categories"), list):
            report.skip(file, None, "not a task file: needs Definition, Categories and Instances")
            continue
        report.read += 1
        if not is_generation_task(task["Categories"], params.categories):
            report.reject(NOT_GENERATION_TASK)
            continue
        if params.english_only and not is_english(task):
            report.reject(NOT_ENGLISH)
            continue
        instances = usable_instances(task["Instances"])
        if not instances:
            report.reject(NO_USABLE_INSTANCE)
            continue
        instance = pick_instance(instances, seed=params.seed, task=name)
        eligible[name] = ({key: task.get(key) for key in ("Definition", "Categories", "Source", "URL", "Instance License")},
                          instance, file)
    names = sorted(eligible)
    chosen = sorted(random.Random(f"{params.seed}:tasks").sample(names, min(params.target, len(names))))
    report.reject(NOT_SAMPLED, len(names) - len(chosen))
    candidates = []
    for name in chosen:
        task, instance, file = eligible[name]
        licence = task.get("Instance License") or []
        candidates.append(Candidate(
            source_key=f"natural_instructions:{name}",
            source="natural_instructions",
            split=paper.TRAIN,
            conversations=[build_prompt(task["Definition"], instance["input"]), str(instance["output"][0]).strip()],
            title=name[:200],
            community=", ".join(str(c) for c in task["Categories"]),
            provenance={
                "importer": "natural_instructions", "community": ", ".join(str(c) for c in task["Categories"]),
                "task": name, "instance_id": instance.get("id", ""), "url": f"{DATASET_URL}/blob/master/tasks/{file.name}",
                "original_sources": task.get("Source") or [], "licence": ", ".join(licence) if licence else DEFAULT_LICENCE,
                "author": "Super-NaturalInstructions contributors",
                "raw_prompt": json.dumps({"Definition": task["Definition"], "input": instance["input"]}, ensure_ascii=False),
                "raw_response": json.dumps(instance["output"], ensure_ascii=False),
            },
        ))
    report.kept = len(candidates)
    report.bytes_read = meter.done
    meter.finish()
    return CandidateBatch(candidates=candidates, report=report)
