"""Reading GAIR/lima JSONL and CSV: every bad row is reported by line and field, nothing partial."""

import io
import json

import pytest

from annotation.datasets.lima_format import FormatError, parse_csv, parse_jsonl


def jsonl(*records) -> io.BytesIO:
    return io.BytesIO("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records).encode())


def test_reads_gair_rows_and_infers_the_split():
    rows = parse_jsonl(jsonl({"conversations": ["Q?", "A."], "source": "wikihow"}, {"conversations": ["P?"], "source": "AskReddit"}))
    assert [(r.split, r.source) for r in rows] == [("train", "wikihow"), ("test", "reddit_askreddit")]


def test_reports_line_and_field_of_each_error():
    with pytest.raises(FormatError) as caught:
        parse_jsonl(jsonl(
            {"conversations": ["Q?", "A."], "source": "wikihow"},
            "{not json",
            {"conversations": ["Q?", 3], "source": "wikihow"},
            {"conversations": ["Q?", "A."], "source": "myspace"},
            {"conversations": ["Q?"], "source": "wikihow", "split": "train"},
        ))
    messages = [str(e) for e in caught.value.errors]
    assert messages[0].startswith("line 2: invalid JSON")
    assert messages[1].startswith("line 3, field conversations[1]: expected a string")
    assert messages[2].startswith("line 4, field source: unknown source 'myspace'")
    assert messages[3].startswith("line 5, field conversations: a training example must end with an assistant turn")


def test_invalid_utf8_names_the_line():
    data = io.BytesIO(b'{"conversations": ["Q?", "A."], "source": "wikihow"}\n{"conversations": ["\xff"], "source": "wikihow"}\n')
    with pytest.raises(FormatError) as caught:
        parse_jsonl(data)
    assert caught.value.errors[0].line == 2


def test_empty_file_is_an_error():
    with pytest.raises(FormatError, match="no rows"):
        parse_jsonl(io.BytesIO(b"\n\n"))


def test_csv_with_multiline_cells_reports_the_starting_line():
    text = 'source,split,turn_1,turn_2\nwikihow,train,"How to?\nReally?","Like this."\nwikihow,train,"Q?",\n'
    with pytest.raises(FormatError) as caught:
        parse_csv(io.BytesIO(text.encode()))
    assert [e.line for e in caught.value.errors] == [4]


def test_csv_reads_prompt_and_response_columns():
    rows = parse_csv(io.BytesIO(b"source,prompt,response\nauthored,Hi?,Hello.\n"))
    assert rows[0].conversations == ["Hi?", "Hello."] and rows[0].split == "train"


def test_nul_characters_are_rejected_with_their_field():
    # PostgreSQL cannot store NUL in text or JSON; the file is rejected instead of failing mid-write.
    with pytest.raises(FormatError) as caught:
        parse_jsonl(jsonl({"conversations": ["Q?", "A\u0000"], "source": "wikihow"}))
    assert str(caught.value.errors[0]) == "line 1, field conversations[1]: contains a NUL character"


@pytest.mark.parametrize("split", [["\u2000", "train"], {"name": "train"}, 3])
def test_a_split_that_is_not_a_string_is_a_row_error_not_a_crash(split):
    # Found by `make fuzz`'s target in the suite (tests/test_fuzz_atheris.py): a list reached a set lookup, TypeError.
    with pytest.raises(FormatError) as caught:
        parse_jsonl(jsonl({"conversations": ["Hi?", "Hello."], "source": "authored"},
                          {"conversations": ["Hi?", "Hello."], "source": "authored", "split": split}))
    assert [(e.line, e.field) for e in caught.value.errors] == [(2, "split")]
    assert "expected a string" in str(caught.value.errors[0])
