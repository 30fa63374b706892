"""One oracle per importer and upload, shared by the hypothesis tests (structured inputs, tests/test_fuzz.py)
and the atheris harness (coverage-guided raw bytes, tests/fuzz_atheris.py).

Each target takes the bytes of one uploaded file. The only acceptable outcomes are a clean parse or the
importer's own error naming where the input is wrong; any other exception propagates and is a crash.
Pure modules only: no Django, no database, so atheris can run them at full speed.
"""

from __future__ import annotations

import io
import re
import tempfile
from pathlib import Path

from annotation.datasets import lima_format
from annotation.importers import natural_instructions, reddit, stackexchange, wikihow
from annotation.importers.batch import InputError
from annotation.evaluation.judgment_import import parse_judgments
from annotation.datasets.lima_format import FormatError


def _located(error: FormatError, data: bytes) -> None:
    """Each error says where it is: a line that exists in the input (1 to its number of lines), a record or row from 1,
    or the whole file ("the file: ...", never "line 0"), and says so in its text."""
    assert error.errors, "a FormatError without any row error"
    last_line = data.count(b"\n") + data.count(b"\r") + 1
    for row_error in error.errors:
        if row_error.line is None:
            assert str(row_error).startswith("the file"), f"a whole-file error that does not say so: {row_error}"
            continue
        assert row_error.line >= 1 and str(row_error).startswith(f"{row_error.unit} {row_error.line}"), \
            f"error without its line: {row_error}"
        if row_error.unit == "line":
            assert row_error.line <= last_line, f"error on line {row_error.line} of a {last_line}-line input: {row_error}"


def gair_jsonl(data: bytes) -> None:
    try:
        rows = lima_format.parse_jsonl(io.BytesIO(data))
    except FormatError as error:
        _located(error, data)
    else:
        assert rows and all(row.conversations and row.source for row in rows)


def gair_csv(data: bytes) -> None:
    try:
        rows = lima_format.parse_csv(io.BytesIO(data))
    except FormatError as error:
        _located(error, data)
    else:
        assert rows and all(row.conversations for row in rows)


def dataset_upload(data: bytes, filename: str = "upload.json") -> None:
    """The upload page's reader: any container and record shape, detected."""
    from annotation.datasets import formats

    try:
        parsed = formats.read_dataset(io.BytesIO(data), filename=filename)
    except FormatError as error:
        _located(error, data)
    else:
        assert parsed.rows and all(row.conversations and row.source for row in parsed.rows)


def _judgments(fmt: str):
    def target(data: bytes) -> None:
        try:
            imported = parse_judgments(io.BytesIO(data), fmt=fmt, target="lima")
        except FormatError as error:
            _located(error, data)
        else:
            assert imported.judgments

    target.__name__ = f"judgments_{fmt}"
    return target


def _in_file(importer, relative: str, *, pass_dir: bool = False):
    """Write the bytes where the importer expects its dump, run it, accept a result or an InputError naming the file."""

    def target(data: bytes) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            try:
                batch = importer(path.parent if pass_dir else path)
            except InputError as error:
                assert error.file and error.message, f"an InputError without file or message: {error!r}"
                assert tmp in error.file, f"the error names another file: {error.file}"
            else:
                # A finished import read the whole file and kept exactly the candidates it returns, out of what it read.
                report = batch.report
                assert report.bytes_read == len(data), f"read {report.bytes_read} of {len(data)} bytes"
                assert report.kept == len(batch.candidates) <= report.read, (report.kept, len(batch.candidates), report.read)

    target.__name__ = importer.__name__
    return target


TARGETS = {
    "gair_jsonl": gair_jsonl,
    "gair_csv": gair_csv,
    "dataset_upload": dataset_upload,
    "judgments_jsonl": _judgments("jsonl"),
    "judgments_csv": _judgments("csv"),
    "stackexchange_posts_xml": _in_file(stackexchange.import_stackexchange, "cooking.stackexchange.com/Posts.xml", pass_dir=True),
    "wikihow": _in_file(wikihow.import_wikihow, "wikihow.jsonl"),
    "pushshift_ndjson": _in_file(reddit.import_reddit, "RS_2023.ndjson"),
    "natural_instructions": _in_file(natural_instructions.import_natural_instructions, "tasks/task001_fuzz.json", pass_dir=True),
}

# Valid inputs for atheris to start from (it mutates these; an empty corpus finds little in structured formats).
SEEDS: dict[str, list[bytes]] = {
    "gair_jsonl": [b'{"conversations": ["How do I brew tea?", "Steep it for 3 minutes."], "source": "wikihow", "split": "train"}\n'
                   b'{"conversations": ["Hi?"], "source": "authored", "split": "test"}\n'],
    "gair_csv": [b"source,split,turn_1,turn_2\nwikihow,train,How do I brew tea?,Steep it.\nauthored,test,Hi?,\n"],
    "dataset_upload": [b'[{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi?"}, '
                       b'{"role": "assistant", "content": "Hello."}], "source": "authored"}]',
                       b'[{"conversations": [{"from": "human", "value": "Hi?"}, {"from": "gpt", "value": "Hello."}], "source": "other"}]',
                       b'{"instruction": "Say hi.", "input": "", "output": "Hi.", "history": [["A?", "B."]], "source": "authored"}\n'],
    "judgments_jsonl": [b'{"prompt_id": "1", "model_a": "lima", "model_b": "gpt-4", "verdict": "a", "annotator": "x", '
                        b'"annotator_group": "crowd"}\n'],
    "judgments_csv": [b"prompt_id,model_a,model_b,verdict,annotator,annotator_group\n1,lima,bard,tie,x,author\n"],
    "stackexchange_posts_xml": [b'<?xml version="1.0" encoding="utf-8"?>\n<posts>\n'
                                b'<row Id="1" PostTypeId="1" Score="20" Title="Why boil?" Body="&lt;p&gt;Why?&lt;/p&gt;" AcceptedAnswerId="2" />\n'
                                b'<row Id="2" PostTypeId="2" ParentId="1" Score="30" Body="&lt;p&gt;Because it is hot enough to kill germs in the water.&lt;/p&gt;" />\n'
                                b"</posts>\n"],
    "wikihow": [b'{"title": "How to Brew Tea", "headline": "Boil water.", "text": "Boil water. Steep the leaves for three minutes."}\n'],
    "pushshift_ndjson": [b'{"id": "abc", "subreddit": "WritingPrompts", "title": "[WP] A dragon", "score": 500, "selftext": ""}\n'
                         b'{"id": "c1", "link_id": "t3_abc", "subreddit": "WritingPrompts", "score": 300, "body": "Once upon a time."}\n'],
    "natural_instructions": [b'{"Definition": ["Summarise the text."], "Categories": ["Summarization"], '
                             b'"Instances": [{"input": "A long text.", "output": ["Short."]}]}'],
}

# The hardening issue's payloads: JSON that parses (or nearly) but crashed a parser, or the database after it.
HOSTILE_VALUES = ['"\\ud800"', "[" * 100_000 + "]" * 100_000, "9" * 100_000, '"\\u0000"', "NaN", "1e999", '"\\udfff\\ud800"']
_STRING_LITERAL = re.compile(rb'"(?:[^"\\]|\\.)*"')


def with_hostile_value(seed: bytes, value: str, nth: int) -> bytes:
    """The seed with its nth quoted literal (counting round) replaced by `value`."""
    literals = list(_STRING_LITERAL.finditer(seed))
    if not literals:
        return value.encode() + b"\n" + seed
    target = literals[nth % len(literals)]
    return seed[: target.start()] + value.encode() + seed[target.end():]


for _name, _seeds in SEEDS.items():
    _seeds.extend(with_hostile_value(_seeds[0], value, 1) for value in HOSTILE_VALUES)
