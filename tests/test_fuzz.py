"""Fuzzed inputs (hypothesis) for every importer and upload: the outcome is always a clean parse or a
clear error with its location — never another exception, never a partial result.

The generators mix well-formed records with damaged ones (truncation, random bytes, wrong types),
so most cases exercise the validation paths rather than random noise alone.
"""

from __future__ import annotations

import io
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz_targets import HOSTILE_VALUES, SEEDS, TARGETS, with_hostile_value

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=10,
)
good_row = st.fixed_dictionaries(
    {"conversations": st.lists(st.text(min_size=1, max_size=40), min_size=1, max_size=4),
     "source": st.sampled_from(["wikihow", "stackexchange_stem", "authored", "nowhere"])},
    optional={"split": st.sampled_from(["train", "dev", "test", "holdout", ""]), "is_refusal": json_values, "title": json_values},
)
lines = st.lists(st.one_of(good_row.map(json.dumps), json_values.map(json.dumps), st.text(max_size=60)), min_size=0, max_size=12)


def damaged(text: str, cut: int, noise: bytes) -> bytes:
    data = text.encode("utf-8", "surrogatepass")
    return data[: cut % (len(data) + 1)] + noise


@FUZZ
@given(lines=lines, cut=st.integers(0, 10_000), noise=st.binary(max_size=8))
def test_gair_jsonl_upload_parses_or_names_the_line(lines, cut, noise):
    TARGETS["gair_jsonl"](damaged("\n".join(lines), cut, noise))


@FUZZ
@given(records=st.lists(st.fixed_dictionaries({}, optional={
    "messages": st.lists(st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant", "system", "tool", ""]),
                                                "content": st.one_of(st.text(max_size=8), st.none(), st.integers())}),
                         max_size=4),
    "conversations": st.lists(st.one_of(st.text(max_size=8), st.fixed_dictionaries({"from": st.sampled_from(["human", "gpt"]),
                                                                                    "value": st.text(max_size=8)})), max_size=4),
    "instruction": st.text(max_size=8), "output": st.text(max_size=8),
    "history": st.lists(st.lists(st.text(max_size=4), max_size=3), max_size=2),
    "source": st.sampled_from(["wikihow", "unknown", "", "authored"]),
}), max_size=5), as_array=st.booleans(), cut=st.integers(0, 2000))
def test_any_dataset_upload_parses_or_names_the_record(records, as_array, cut):
    text = json.dumps(records) if as_array else "\n".join(json.dumps(record) for record in records)
    TARGETS["dataset_upload"](text[: cut % (len(text) + 1)].encode(), "upload.json")


@FUZZ
@given(cells=st.lists(st.lists(st.text(max_size=20), min_size=1, max_size=6), max_size=8), noise=st.binary(max_size=6))
def test_csv_upload_parses_or_names_the_line(cells, noise):
    import csv

    buffer = io.StringIO()
    csv.writer(buffer).writerows([["source", "split", "turn_1", "turn_2"], *cells])
    TARGETS["gair_csv"](buffer.getvalue().encode("utf-8", "surrogatepass") + noise)


@FUZZ
@given(rows=st.lists(st.fixed_dictionaries({
    "prompt_id": st.text(max_size=5), "model_a": st.sampled_from(["lima", "gpt-4", ""]), "model_b": st.sampled_from(["lima", "bard"]),
    "verdict": st.sampled_from(["a", "b", "tie", "lima", "maybe", ""]), "annotator": st.text(max_size=4),
    "annotator_group": st.sampled_from(["crowd", "author", ""])}), max_size=10), cut=st.integers(0, 5000))
def test_external_judgment_import_parses_or_names_the_line(rows, cut):
    text = "\n".join(json.dumps(row) for row in rows)
    TARGETS["judgments_jsonl"](text[: cut % (len(text) + 1)].encode())


@FUZZ
@given(posts=st.lists(st.fixed_dictionaries({
    "Id": st.integers(1, 50).map(str), "PostTypeId": st.sampled_from(["1", "2", "x"]), "Score": st.integers(-5, 50).map(str),
    "Title": st.text(max_size=30), "Body": st.text(max_size=80), "ParentId": st.integers(1, 50).map(str)}), max_size=15),
    cut=st.integers(0, 20_000), noise=st.binary(max_size=6))
def test_stackexchange_posts_xml_imports_or_names_the_file_and_line(posts, cut, noise):
    from xml.sax.saxutils import quoteattr

    def attr(value: str) -> str:
        return quoteattr("".join(c for c in value if c == "\n" or c == "\t" or ord(c) >= 0x20 and c not in "\ufffe\uffff"))

    rows = "".join("<row " + " ".join(f"{k}={attr(v)}" for k, v in post.items()) + " />\n" for post in posts)
    TARGETS["stackexchange_posts_xml"](damaged(f'<?xml version="1.0" encoding="utf-8"?>\n<posts>\n{rows}</posts>\n', cut, noise))


@FUZZ
@given(records=st.lists(st.one_of(json_values, st.fixed_dictionaries({
    "title": st.text(max_size=20), "text": st.text(max_size=60), "headline": st.text(max_size=20)})), max_size=8),
    cut=st.integers(0, 5000))
def test_wikihow_json_imports_or_names_the_line(records, cut):
    text = "\n".join(json.dumps(r) for r in records)
    TARGETS["wikihow"](text[: cut % (len(text) + 1)].encode())


@FUZZ
@given(records=st.lists(st.one_of(json_values, st.fixed_dictionaries({
    "id": st.text(max_size=6), "subreddit": st.sampled_from(["WritingPrompts", "AskReddit", "x"]), "title": st.text(max_size=30),
    "score": st.integers(-5, 5000), "link_id": st.text(max_size=8), "body": st.text(max_size=60)})), max_size=8),
    cut=st.integers(0, 5000))
def test_pushshift_ndjson_imports_or_names_the_line(records, cut):
    text = "\n".join(json.dumps(r) for r in records)
    TARGETS["pushshift_ndjson"](text[: cut % (len(text) + 1)].encode())


@FUZZ
@given(task=st.one_of(json_values, st.fixed_dictionaries({
    "Definition": st.one_of(st.lists(st.text(max_size=20), max_size=2), st.text(max_size=20)),
    "Categories": st.lists(st.sampled_from(["Summarization", "Paraphrasing", "Question Answering"]), max_size=2),
    "Instances": st.lists(st.fixed_dictionaries({"input": st.text(max_size=20), "output": st.one_of(st.lists(st.text(max_size=10), max_size=2), st.text(max_size=5))}), max_size=3),
})), cut=st.integers(0, 5000))
def test_natural_instructions_task_imports_or_names_the_file(task, cut):
    text = json.dumps(task)
    TARGETS["natural_instructions"](text[: cut % (len(text) + 1)].encode())


@FUZZ
@given(name=st.sampled_from(sorted(TARGETS)), value=st.sampled_from(HOSTILE_VALUES), nth=st.integers(0, 20))
def test_hostile_json_values_anywhere_get_a_located_error_or_a_clean_parse(name, value, nth):
    """A lone surrogate, 100,000 nested arrays, a 100,000-digit integer, NUL, NaN, 1e999 in place of any string."""
    TARGETS[name](with_hostile_value(SEEDS[name][0], value, nth))
