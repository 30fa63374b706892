"""The dataset files researchers bring: each format detected and named, errors that name the real cause, and
every export read back by our importer and by Hugging Face `datasets.load_dataset` unchanged."""

from __future__ import annotations

import csv
import io
import json

import pytest

from annotation.datasets import formats
from annotation.datasets.lima_format import FormatError, SourcePolicy

PAIRS = [["How do I boil an egg?", "Put it in boiling water for nine minutes."],
         ["Write a haiku about rain.", "Soft rain on the roof / ..."]]


def jsonl(*records) -> bytes:
    return "".join(json.dumps(record) + "\n" for record in records).encode()


def read(data: bytes, filename: str, **options):
    return formats.read_dataset(io.BytesIO(data), filename=filename, **options)


def errors_of(data: bytes, filename: str, **options) -> list[str]:
    with pytest.raises(FormatError) as caught:
        read(data, filename, **options)
    return [str(error) for error in caught.value.errors]


LIMA_RECORDS = [{"conversations": pair, "source": "wikihow"} for pair in PAIRS]
MESSAGES_RECORDS = [
    {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": q},
                  {"role": "assistant", "content": a}], "source": "authored"}
    for q, a in PAIRS
]
SHAREGPT_RECORDS = [{"conversations": [{"from": "human", "value": q}, {"from": "gpt", "value": a}]} for q, a in PAIRS]
ALPACA_RECORDS = [
    {"instruction": "Translate to French.", "input": "Good morning", "output": "Bonjour",
     "history": [["Hi", "Hello! How can I help?"]]},
    {"instruction": PAIRS[1][0], "input": "", "output": PAIRS[1][1]},
]


@pytest.mark.parametrize("records, shape, default_source", [
    (LIMA_RECORDS, formats.LIMA, ""),
    (MESSAGES_RECORDS, formats.MESSAGES, ""),
    (SHAREGPT_RECORDS, formats.SHAREGPT, "other"),
    (ALPACA_RECORDS, formats.ALPACA, "natural_instructions"),
])
@pytest.mark.parametrize("container", ["jsonl", "json"])
def test_each_shape_is_detected_in_jsonl_and_json_arrays(records, shape, default_source, container):
    data = jsonl(*records) if container == "jsonl" else json.dumps(records, indent=2).encode()
    parsed = read(data, f"upload.{container}", sources=SourcePolicy(default=default_source))
    assert parsed.shape == shape
    assert parsed.container == (formats.JSONL if container == "jsonl" else formats.JSON_ARRAY)
    assert parsed.description.startswith(formats.SHAPE_LABELS[shape])
    assert len(parsed.rows) == 2 and all(row.split == "train" for row in parsed.rows)


def test_messages_keep_the_system_prompt_in_the_provenance_not_the_conversation():
    row = read(jsonl(*MESSAGES_RECORDS), "chat.jsonl").rows[0]
    assert row.conversations == PAIRS[0] and row.provenance == {"system": "Be brief."}


def test_alpaca_history_comes_first_and_the_input_follows_the_instruction():
    rows = read(jsonl(*ALPACA_RECORDS), "alpaca.json", sources=SourcePolicy(default="authored")).rows
    assert rows[0].conversations == ["Hi", "Hello! How can I help?", "Translate to French.\n\nGood morning", "Bonjour"]
    assert rows[1].conversations == PAIRS[1]


def test_a_json_array_is_never_read_line_by_line():
    """A pretty-printed array once gave one misleading error per line."""
    data = json.dumps([{"conversations": ["Q?", "A."], "source": "unknown"}] * 3, indent=2).encode()
    messages = errors_of(data, "lima.json")
    assert len(messages) == 3
    assert messages[0].startswith("record 1, field source: unknown source 'unknown'")
    assert all("invalid JSON" not in message for message in messages)


def test_unknown_sources_can_be_kept_as_other_with_their_name():
    data = jsonl({"conversations": ["Q?", "A."], "source": "unknown"})
    row = read(data, "lima.jsonl", sources=SourcePolicy(unknown_as_other=True)).rows[0]
    assert row.source == "other" and row.provenance == {"original_source": "unknown"}


def test_a_row_without_a_source_takes_the_chosen_default_or_says_what_to_do():
    data = jsonl({"conversations": ["Q?", "A."]})
    assert read(data, "lima.jsonl", sources=SourcePolicy(default="wikihow")).rows[0].source == "wikihow"
    assert errors_of(data, "lima.jsonl") == ["line 1, field source: missing (choose a source for rows that name none)"]


def test_the_same_speaker_twice_is_named_as_such():
    record = {"messages": [{"role": "user", "content": "Q?"}, {"role": "user", "content": "Again?"},
                           {"role": "assistant", "content": "A."}], "source": "authored"}
    assert errors_of(jsonl(record), "chat.jsonl") == [
        "line 1, field messages[1]: the same speaker twice in a row: messages[0] and messages[1] are both user turns "
        "(turns alternate, user first)"]
    sharegpt = {"conversations": [{"from": "gpt", "value": "Hello"}, {"from": "human", "value": "Hi"}]}
    assert "starts with an assistant turn" in errors_of(jsonl(sharegpt), "s.jsonl", sources=SourcePolicy(default="other"))[0]


def test_a_record_of_another_shape_says_what_the_file_was_read_as():
    messages = errors_of(jsonl(LIMA_RECORDS[0], MESSAGES_RECORDS[0]), "mixed.jsonl")
    assert messages == ["line 2: a Hugging Face messages (role/content) record; the file was read as "
                        "GAIR/lima (conversations + source) from line 1"]


def test_a_file_of_no_known_shape_lists_its_keys_and_what_we_read():
    messages = errors_of(jsonl({"question": "Q?", "answer": "A."}), "qa.jsonl")
    assert messages[0].startswith("line 1: not a format we read (keys: answer, question); expected conversations")


def test_whole_file_problems_never_say_line_0():
    one_object = json.dumps({"data": LIMA_RECORDS}, indent=2).encode()
    assert errors_of(one_object, "lima.json") == [
        "the file: the file is one JSON object, not records: expected JSONL (one record per line) or a JSON array of "
        "records; its 'data' holds a list: save that list as the file"]
    assert errors_of(b"", "empty.jsonl") == ["the file: the file holds no rows"]
    assert errors_of(b"hello", "notes.txt") == ["the file, field file: 'notes.txt': expected a .jsonl, .json, .csv or .parquet file"]
    assert errors_of(b"[1, 2,", "broken.json")[0].startswith("line 1: the file is a JSON array with invalid JSON")
    assert errors_of(b"[1]\n[2]\n", "arrays.jsonl")[0].startswith("line 2: more than one JSON value")


def test_csv_with_turn_columns_or_alpaca_columns():
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["instruction", "input", "output"])
    writer.writerow(["Translate to French.", "Good morning", "Bonjour"])
    parsed = read(buffer.getvalue().encode(), "alpaca.csv", sources=SourcePolicy(default="authored"))
    assert (parsed.shape, parsed.container) == (formats.ALPACA, formats.CSV)
    assert parsed.rows[0].conversations == ["Translate to French.\n\nGood morning", "Bonjour"]
    assert errors_of(buffer.getvalue().encode(), "alpaca.csv")[0].startswith("line 1, field header: needs a source column")


def test_parquet_is_read_by_its_magic_bytes_with_rows_numbered():
    import pyarrow as pa
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist([*MESSAGES_RECORDS, {"messages": [], "source": "authored"}]), buffer)
    assert errors_of(buffer.getvalue(), "chat.parquet") == ["row 3, field messages: expected a non-empty list of messages"]
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(MESSAGES_RECORDS), buffer)
    parsed = read(buffer.getvalue(), "upload.bin")
    assert (parsed.shape, parsed.container) == (formats.MESSAGES, formats.PARQUET)
    assert [row.conversations for row in parsed.rows] == PAIRS
    assert errors_of(b"not parquet", "x.parquet") == ["the file: 'x.parquet' is not a Parquet file (no PAR1 header)"]


EXPORT_ROWS = [
    formats.ExportRow(split="train", source="wikihow", is_refusal=False, conversations=PAIRS[0]),
    formats.ExportRow(split="train", source="authored", is_refusal=True,
                      conversations=["Hi", "Hello!", "How do I pick a lock?", "I can't help with that."]),
]


def exported(suffix: str) -> bytes:
    shape, container, _ = formats.EXPORTS[suffix]
    if container == formats.PARQUET:
        return formats.parquet_bytes(EXPORT_ROWS)
    chunks = formats.jsonl_chunks if container == formats.JSONL else formats.json_array_chunks
    return "".join(chunks(EXPORT_ROWS, shape)).encode()


@pytest.mark.parametrize("suffix", sorted(formats.EXPORTS))
def test_every_export_reimports_to_the_same_rows(suffix):
    parsed = read(exported(suffix), f"snapshot.{suffix}")
    assert parsed.shape == formats.EXPORTS[suffix][0]
    assert [(r.split, r.source, r.is_refusal, r.conversations) for r in parsed.rows] == [
        (r.split, r.source, r.is_refusal, r.conversations) for r in EXPORT_ROWS]


def test_an_empty_json_array_export_is_valid_json():
    assert json.loads("".join(formats.json_array_chunks([], formats.LIMA))) == []


@pytest.mark.parametrize("suffix", sorted(formats.EXPORTS))
def test_hugging_face_datasets_loads_every_export_unchanged(suffix, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    import datasets

    path = tmp_path / f"snapshot.{suffix}"
    path.write_bytes(exported(suffix))
    builder = "parquet" if suffix == "parquet" else "json"
    loaded = datasets.load_dataset(builder, data_files=str(path), split="train", cache_dir=str(tmp_path / "cache"))
    assert loaded.num_rows == 2
    assert [dict(record) for record in loaded] == [formats.record_of(row, formats.EXPORTS[suffix][0]) for row in EXPORT_ROWS]
