"""Small dump files in the real public formats, written by the tests (Stack Exchange XML, wikiHow CSV/JSON,
Pushshift NDJSON and .zst, Super-NaturalInstructions task JSON)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import zstandard
from lxml import etree

SENTENCE = "Shorter wavelengths scatter far more strongly than longer ones, which is why the daytime sky looks blue. "
GOOD_ANSWER = "<p>" + SENTENCE * 16 + "</p>"  # about 1,600 characters once cleaned


def question(post_id: int, title: str, *, score: int = 100, body: str = "<p>Why is that so?</p>", accepted: int | None = None,
             owner: str = "11") -> dict:
    row = {"Id": str(post_id), "PostTypeId": "1", "Score": str(score), "Title": title, "Body": body, "OwnerUserId": owner,
           "CreationDate": "2016-03-01T10:00:00.000", "Tags": "<optics>"}
    if accepted:
        row["AcceptedAnswerId"] = str(accepted)
    return row


def answer(post_id: int, parent: int, *, score: int = 25, body: str = GOOD_ANSWER, owner: str = "22",
           owner_name: str | None = None) -> dict:
    row = {"Id": str(post_id), "PostTypeId": "2", "ParentId": str(parent), "Score": str(score), "Body": body,
           "OwnerUserId": owner, "CreationDate": "2016-03-02T10:00:00.000"}
    if owner_name:
        row["OwnerDisplayName"] = owner_name
    return row


def write_rows(path: Path, root_tag: str, rows: list[dict]) -> Path:
    """An XML file as the dumps have it: one <row/> per record, attribute values escaped by lxml."""
    path.parent.mkdir(parents=True, exist_ok=True)
    root = etree.Element(root_tag)
    root.text = "\n  "
    for row in rows:
        element = etree.SubElement(root, "row", {key: value for key, value in row.items()})
        element.tail = "\n  "
    path.write_bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))
    return path


def write_site(root: Path, host: str, posts: list[dict], *, comments: list[dict] | None = None,
               users: list[dict] | None = None) -> Path:
    folder = root / host
    write_rows(folder / "Posts.xml", "posts", posts)
    if comments is not None:
        write_rows(folder / "Comments.xml", "comments", comments)
    if users is not None:
        write_rows(folder / "Users.xml", "users", users)
    return folder


def write_ndjson(path: Path, records: list[dict | str], *, compress: bool = False) -> Path:
    """Pushshift NDJSON; a str record is written as it is (to plant malformed lines)."""
    text = "".join((record if isinstance(record, str) else json.dumps(record)) + "\n" for record in records)
    data = text.encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(zstandard.ZstdCompressor(level=3).compress(data) if compress else data)
    return path


def write_wikihow_csv(path: Path, rows: list[dict], fields=("headline", "title", "text")) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(fields))
        writer.writeheader()
        writer.writerows(rows)
    return path


def ni_task(*, categories=("Summarization",), language="English", instances=None, definition="Summarize the text in one sentence.") -> dict:
    return {
        "Contributors": ["Test Author"], "Source": ["xsum"], "URL": ["https://example.org/xsum"], "Categories": list(categories),
        "Reasoning": [], "Definition": [definition], "Input_language": [language], "Output_language": [language],
        "Instruction_language": ["English"], "Domains": ["News"],
        "Positive Examples": [{"input": "A long article.", "output": "A summary.", "explanation": "It summarizes."}],
        "Negative Examples": [],
        "Instances": instances if instances is not None else [
            {"id": f"inst-{i}", "input": f"Article number {i} about the harbour festival.", "output": [f"Summary {i}."]}
            for i in range(5)
        ],
        "Instance License": ["CC BY 4.0"],
    }


def write_ni_task(folder: Path, name: str, task: dict | str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(task if isinstance(task, str) else json.dumps(task), encoding="utf-8")
    return path
