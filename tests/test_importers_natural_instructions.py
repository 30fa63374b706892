"""Super-NaturalInstructions importer: generation tasks only, one seeded instance each (no database)."""

from __future__ import annotations

import pytest

from annotation.importers import natural_instructions as ni
from annotation.importers.batch import InputError
from annotation.importers.natural_instructions import NaturalInstructionsParams, import_natural_instructions
from tests.dumps import ni_task, write_ni_task


def test_generation_task_gives_definition_plus_input_and_its_output(tmp_path):
    write_ni_task(tmp_path, "task1290_xsum_summarization", ni_task())
    [candidate] = import_natural_instructions(tmp_path).candidates
    prompt, response = candidate.conversations
    assert prompt.startswith("Summarize the text in one sentence.\n\nArticle number ")
    number = prompt.rsplit("number ", 1)[1].split(" ")[0]
    assert response == f"Summary {number}."
    assert candidate.source == "natural_instructions" and candidate.source_key == "natural_instructions:task1290_xsum_summarization"
    assert candidate.provenance["licence"] == "CC BY 4.0" and candidate.provenance["instance_id"] == f"inst-{number}"


def test_only_generation_tasks_in_english_are_kept(tmp_path):
    write_ni_task(tmp_path, "task001_summary", ni_task())
    write_ni_task(tmp_path, "task002_sentiment", ni_task(categories=("Sentiment Analysis",)))
    write_ni_task(tmp_path, "task003_paraphrase_de", ni_task(categories=("Paraphrasing",), language="German"))
    batch = import_natural_instructions(tmp_path)
    assert [c.provenance["task"] for c in batch.candidates] == ["task001_summary"]
    assert batch.report.rejected[ni.NOT_GENERATION_TASK] == 1 and batch.report.rejected[ni.NOT_ENGLISH] == 1
    wider = import_natural_instructions(tmp_path, NaturalInstructionsParams(categories=("Sentiment Analysis",)))
    assert [c.provenance["task"] for c in wider.candidates] == ["task002_sentiment"]


def test_one_random_instance_per_task_reproducible_by_seed(tmp_path):
    instances = [{"id": f"i{i}", "input": f"Input {i}", "output": [f"Output {i}"]} for i in range(40)]
    write_ni_task(tmp_path, "task001_summary", ni_task(instances=instances))
    picks = {seed: import_natural_instructions(tmp_path, NaturalInstructionsParams(seed=seed)).candidates[0].provenance["instance_id"]
             for seed in range(6)}
    assert picks[0] == import_natural_instructions(tmp_path, NaturalInstructionsParams(seed=0)).candidates[0].provenance["instance_id"]
    assert len(set(picks.values())) > 1


def test_target_number_of_tasks_is_sampled(tmp_path):
    for i in range(8):
        write_ni_task(tmp_path, f"task{i:03d}_summary", ni_task())
    batch = import_natural_instructions(tmp_path, NaturalInstructionsParams(target=3))
    assert len(batch.candidates) == 3 and batch.report.rejected[ni.NOT_SAMPLED] == 5


def test_tasks_without_usable_instances_or_fields_are_rejected_or_skipped(tmp_path):
    write_ni_task(tmp_path, "task001_empty", ni_task(instances=[{"id": "x", "input": "", "output": ["y"]}]))
    write_ni_task(tmp_path, "task002_not_a_task", {"Definition": ["x"]})
    batch = import_natural_instructions(tmp_path)
    assert batch.candidates == [] and batch.report.rejected[ni.NO_USABLE_INSTANCE] == 1
    assert batch.report.skipped_count == 1 and "task002" in batch.report.skipped[0].file


def test_truncated_task_file_stops_with_its_line(tmp_path):
    write_ni_task(tmp_path, "task001_summary", ni_task())
    write_ni_task(tmp_path, "task002_summary", '{\n "Definition": ["x"],\n "Instances": [')
    with pytest.raises(InputError) as stopped:
        import_natural_instructions(tmp_path)
    assert stopped.value.file.endswith("task002_summary.json") and stopped.value.line == 3
