"""Importing judgments collected elsewhere: one row per item x annotator, every bad row named, nothing partial."""

from __future__ import annotations

import csv
import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annotation.evaluation.judgment_import import parse_judgments, parse_judgments_csv, parse_judgments_jsonl
from annotation.datasets.lima_format import MAX_ERRORS, FormatError
from annotation.evaluation.stats import PairwiseJudgment, agreement, win_rates

HEADER = ["prompt_id", "model_a", "model_b", "verdict", "annotator", "annotator_group"]


def csv_file(rows, header=HEADER) -> io.BytesIO:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return io.BytesIO(buffer.getvalue().encode())


def jsonl_file(*records) -> io.BytesIO:
    return io.BytesIO("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records).encode())


def row(prompt, a, b, verdict, annotator="ann", group="crowd", **extra) -> dict:
    return {"prompt_id": prompt, "model_a": a, "model_b": b, "verdict": verdict, "annotator": annotator,
            "annotator_group": group, **extra}


def messages(caught) -> list[str]:
    return [str(e) for e in caught.value.errors]


def test_csv_rows_become_judgments_in_model_terms():
    imported = parse_judgments_csv(csv_file([
        ["1", "lima", "gpt-4", "a", "ann", "crowd"],       # LIMA on the left, chosen
        ["1", "gpt-4", "lima", "A", "bob", "crowd"],       # LIMA on the right; A = GPT-4 wins
        ["2", "lima", "bard", "tie", "ann", "crowd"],
        ["2", "bard", "lima", "lima", "gpt", "llm"],       # verdict given as a model name
    ]), target="lima")
    assert imported.target == "lima" and imported.baselines == ["gpt-4", "bard"]
    assert imported.judgments == [
        PairwiseJudgment("1::gpt-4", "1", "gpt-4", "ann", "crowd", "target", None, None, True),
        PairwiseJudgment("1::gpt-4", "1", "gpt-4", "bob", "crowd", "baseline", None, None, False),
        PairwiseJudgment("2::bard", "2", "bard", "ann", "crowd", "tie", None, None, True),
        PairwiseJudgment("2::bard", "2", "bard", "gpt", "llm", "target", None, None, False),
    ]


def test_jsonl_with_lengths_and_numeric_prompt_ids():
    imported = parse_judgments_jsonl(jsonl_file(
        row(7, "gpt-4", "lima", "b", length_a=120, length_b=80),
        row(8, "lima", "gpt-4", "tie", length_a="95"),
    ), target="lima")
    first, second = imported.judgments
    assert (first.prompt, first.verdict, first.target_len, first.baseline_len, first.target_on_left) == ("7", "target", 80, 120, False)
    assert (second.target_len, second.baseline_len) == (95, None)


def test_the_target_is_inferred_as_the_model_in_every_row():
    imported = parse_judgments(csv_file([["1", "lima", "gpt-4", "a", "x", "crowd"], ["2", "bard", "lima", "b", "x", "crowd"]]),
                               fmt="csv")
    assert imported.target == "lima" and [j.verdict for j in imported.judgments] == ["target", "target"]


def test_an_ambiguous_target_must_be_named():
    with pytest.raises(FormatError) as caught:
        parse_judgments_csv(csv_file([["1", "lima", "gpt-4", "a", "x", "crowd"]]))
    assert "every row compares gpt-4 and lima; name which one is the target" in messages(caught)[0]
    with pytest.raises(FormatError) as caught:
        parse_judgments_csv(csv_file([["1", "lima", "gpt-4", "a", "x", "crowd"], ["2", "bard", "claude", "a", "x", "crowd"]]))
    assert "no model appears in every row" in messages(caught)[0]


def test_every_bad_row_is_reported_with_its_line_and_nothing_is_returned():
    with pytest.raises(FormatError) as caught:
        parse_judgments_csv(csv_file([
            ["1", "lima", "gpt-4", "a", "ann", "crowd"],
            ["1", "lima", "gpt-4", "better", "bob", "crowd"],    # line 3: unknown verdict
            ["1", "gpt-4", "lima", "b", "ann", "crowd"],         # line 4: ann judged this item on line 2
            ["2", "lima", "", "tie", "ann", "crowd"],            # line 5: missing model_b
            ["3", "lima", "bard", "tie", "ann", "author"],       # line 6: ann was crowd on line 2
            ["4", "claude", "bard", "tie", "cy", "crowd"],       # line 7: no target model
            ["5", "lima", "lima", "tie", "cy", "crowd"],         # line 8: a model against itself
            ["6", "lima", "bard", "a", "", "crowd"],             # line 9: missing annotator
        ]), target="lima")
    assert messages(caught) == [
        "line 3, field verdict: unknown verdict 'better' (expected a, b, tie, 'lima' or 'gpt-4')",
        "line 4, field annotator: 'ann' already judged prompt '1' (gpt-4 vs lima) on line 2",
        "line 5, field model_b: missing",
        "line 6, field annotator_group: 'ann' is in group 'crowd' on line 2, here 'author'",
        "line 7, field model_a: neither 'claude' nor 'bard' is the target model 'lima'",
        "line 8, field model_b: model_a and model_b are both 'lima'",
        "line 9, field annotator: missing",
    ]


def test_jsonl_errors_name_lines_and_fields():
    with pytest.raises(FormatError) as caught:
        parse_judgments_jsonl(jsonl_file(
            row("1", "lima", "gpt-4", "a"),
            "{broken",
            ["not", "an", "object"],
            {"prompt_id": "2", "model_a": "lima", "model_b": "bard", "verdict": "a", "annotator": "x"},
            row("3", "lima", "bard", "a", annotator=["x"]),
            row("4", "lima", "bard", "a", length_a=-3),
        ), target="lima")
    assert messages(caught) == [
        "line 2: invalid JSON (Expecting property name enclosed in double quotes at column 2)",
        "line 3: expected a JSON object, got list",
        "line 4, field annotator_group: missing",
        "line 5, field annotator: expected a string, got list",
        "line 6, field length_a: expected a whole number from 0 to 2,147,483,647, got -3",
    ]


def test_a_missing_column_rejects_the_header():
    with pytest.raises(FormatError) as caught:
        parse_judgments_csv(csv_file([["1", "lima", "gpt-4", "a", "x"]], header=HEADER[:5]))
    assert messages(caught) == ["line 1, field header: missing column(s): annotator_group"]


def test_wrong_column_count_empty_and_blank_files():
    with pytest.raises(FormatError) as caught:
        parse_judgments_csv(io.BytesIO(b"prompt_id,model_a,model_b,verdict,annotator,annotator_group\n1,lima,gpt-4,a\n"))
    assert messages(caught) == ["line 2: expected 6 columns, got 4"]
    with pytest.raises(FormatError, match="the file is empty"):
        parse_judgments_csv(io.BytesIO(b""))
    with pytest.raises(FormatError, match="holds no judgments"):
        parse_judgments_jsonl(io.BytesIO(b"\n\n"))


def test_line_numbers_follow_quoted_fields_that_span_lines():
    data = ('prompt_id,model_a,model_b,verdict,annotator,annotator_group\n'
            '"multi\nline id",lima,gpt-4,a,x,crowd\n'
            '2,lima,gpt-4,nope,x,crowd\n')
    with pytest.raises(FormatError) as caught:
        parse_judgments_csv(io.StringIO(data), target="lima")
    assert caught.value.errors[0].line == 4


def test_errors_stop_at_the_cap_and_say_there_are_more():
    rows = [[str(n), "lima", "gpt-4", "??", "x", "crowd"] for n in range(MAX_ERRORS + 10)]
    with pytest.raises(FormatError) as caught:
        parse_judgments_csv(csv_file(rows), target="lima")
    assert len(caught.value.errors) == MAX_ERRORS and caught.value.truncated


def test_unknown_format_is_rejected():
    with pytest.raises(ValueError, match="unknown judgment format"):
        parse_judgments(io.BytesIO(b""), fmt="xlsx")


def test_imported_judgments_feed_the_statistics():
    rows = []
    for n in range(10):
        for annotator, group in (("au", "author"), ("cw", "crowd")):
            verdict = "a" if n < 6 else ("tie" if n < 8 else "b")
            rows.append([f"p{n}", "lima", "gpt-4", verdict if annotator == "au" or n != 0 else "b", annotator, group])
    imported = parse_judgments_csv(csv_file(rows), target="lima")
    (outcome,) = win_rates(imported.judgments, resamples=100)
    assert outcome.counts == {"target": 11, "tie": 4, "baseline": 5}
    (pair,) = agreement(imported.judgments).pairs
    assert pair.shared_items == 10 and pair.tie_discounted == pytest.approx(0.9)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 20), st.sampled_from(["gpt-4", "bard"]), st.booleans(),
                          st.sampled_from(["a", "b", "tie"]), st.sampled_from(["x", "y", "z"])), max_size=30))
def test_csv_and_jsonl_of_the_same_rows_import_identically(entries):
    seen, records = set(), []
    for prompt, baseline, target_left, side, annotator in entries:
        if (prompt, baseline, annotator) in seen:
            continue
        seen.add((prompt, baseline, annotator))
        a, b = ("lima", baseline) if target_left else (baseline, "lima")
        records.append(row(str(prompt), a, b, side, annotator=annotator))
    if not records:
        return
    from_csv = parse_judgments_csv(csv_file([[r[k] for k in HEADER] for r in records]), target="lima")
    from_jsonl = parse_judgments_jsonl(jsonl_file(*records), target="lima")
    assert from_csv == from_jsonl
    assert len(from_csv.judgments) == len(records)
    for record, judgment in zip(records, from_csv.judgments):
        shown_left = record["model_a"] == "lima"
        expected = "tie" if record["verdict"] == "tie" else ("target" if (record["verdict"] == "a") == shown_left else "baseline")
        assert judgment.verdict == expected and judgment.target_on_left == shown_left


def test_a_target_model_column_names_the_target_of_a_one_baseline_file():
    """A study's own export compares one target with one baseline: both models sit in every row."""
    rows = [row("1", "lima", "gpt-4", "a", target_model="lima"), row("2", "gpt-4", "lima", "a", target_model="lima")]
    imported = parse_judgments(jsonl_file(*rows), fmt="jsonl")
    assert imported.target == "lima" and [j.verdict for j in imported.judgments] == ["target", "baseline"]
    header = HEADER + ["target_model"]
    csv_rows = [["1", "lima", "gpt-4", "a", "x", "crowd", "gpt-4"], ["2", "gpt-4", "lima", "b", "x", "crowd", "lima"]]
    with pytest.raises(FormatError) as caught:
        parse_judgments(csv_file(csv_rows, header=header), fmt="csv")
    assert messages(caught) == ["line 3, field target_model: 'lima' here, 'gpt-4' on line 2; a file has one target model (or name it)"]
