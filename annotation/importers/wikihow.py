"""wikiHow dumps → LIMA candidates (no Django import).

Reads the common public dumps: CSV (e.g. wikihowAll.csv: headline, title, text) or JSON/JSONL
records with a title, the article text (`text`/`body`), an optional summary
(`headline`/`summary`/`overview`) and an optional `category`. One record per article.

LIMA's rules: sample a category first (uniformly among the categories present), then an article
in it; the title, as "How to …?", is the prompt and the body the response; the "This article…"
opening becomes an assistant-style one; links, images and boilerplate sections are stripped.
"""

from __future__ import annotations

import csv
import io
import random
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator
from urllib.parse import quote

from annotation import paper
from annotation.importers.batch import (
    Candidate,
    CandidateBatch,
    CountingReader,
    ImportReport,
    InputError,
    Progress,
    ProgressMeter,
    files_under,
    too_large,
    utf8_lines,
)
from annotation.importers.cleaning import strip_links_and_images
from annotation.importers.sampling import Reservoir, category_first_sample
from annotation.input_limits import InputLimits, JsonProblem, MalformedJson, load_json

LICENCE = "CC BY-NC-SA 3.0"
UNCATEGORISED = "uncategorised"
TITLE_KEYS, TEXT_KEYS = ("title",), ("text", "body", "article")
SUMMARY_KEYS, CATEGORY_KEYS = ("headline", "summary", "overview"), ("category", "categories")

EMPTY_AFTER_CLEANING = "empty_after_cleaning"
NOT_SAMPLED = "not_sampled"

csv.field_size_limit(2**31 - 1)  # article bodies are far beyond csv's 128 KiB default


@dataclass(frozen=True)
class WikiHowParams:
    seed: int = 0
    target: int = 200
    min_response_chars: int = 200
    strict: bool = False


def title_to_prompt(title: str) -> str:
    """'How to Zip a Jacket1' (wikihowAll numbers duplicate titles) → 'How to Zip a Jacket?'."""
    title = re.sub(r"\d+$", "", title.strip()).strip().rstrip(".?!").strip()
    if not title.lower().startswith("how to "):
        title = f"How to {title[:1].lower()}{title[1:]}"
    return f"{title}?"


def task_of(prompt: str) -> str:
    """'How to Zip a Jacket?' → 'zip a Jacket' (for the rewritten opening)."""
    task = prompt.removesuffix("?")[len("How to "):].strip()
    return task[:1].lower() + task[1:]


_ARTICLE_OPENING = re.compile(r"^\s*this (?:article|wikihow|guide|page|post)\b[^.!?\n]*[.!?]?[ \t]*\n*", re.IGNORECASE)
_TEACHES = re.compile(r"\b(?:teaches|shows|tells|explains|will (?:teach|show|tell|explain))(?: you)? (how to [^.!?\n]+)", re.IGNORECASE)


def rewrite_article_opening(body: str, *, task: str) -> str:
    """LIMA replaces wikiHow's "This article…" opening with an assistant-style one."""
    match = _ARTICLE_OPENING.match(body)
    if not match:
        return body
    teaches = _TEACHES.search(match.group(0))
    how = teaches.group(1).strip() if teaches else f"how to {task}"
    rest = body[match.end():].lstrip()
    return f"Here is {how}." + (f"\n\n{rest}" if rest else "")


_BOILERPLATE = re.compile(
    r"^\s*(?:#+|=+)?\s*(?:tips|warnings|things you'?ll need|references|sources and citations|video|related wikihows|"
    r"community q&a|quick summary|expert q&a)\s*(?:=+)?\s*:?\s*$",
    re.IGNORECASE,
)
_HEADING = re.compile(r"^\s*(?:#+\s+\S|==+.*==+\s*$)")


def strip_boilerplate_sections(text: str) -> str:
    """Drop 'Tips', 'Warnings', 'Things You'll Need', 'References', ... up to the next heading."""
    kept, skipping = [], False
    for line in text.splitlines():
        if _BOILERPLATE.match(line):
            skipping = True
            continue
        if skipping and _HEADING.match(line):
            skipping = False
        if not skipping:
            kept.append(line)
    return "\n".join(kept)


def clean_body(text: str, *, task: str) -> str:
    """The article body as a response: no links, images, boilerplate or stray dump punctuation."""
    # wikihowAll.csv joins each step's bold headline to its text with a leading comma.
    lines = [re.sub(r"^[,;]\s*", "", line.strip()) for line in text.replace("\r\n", "\n").split("\n")]
    body = strip_boilerplate_sections("\n".join(lines))
    body = strip_links_and_images(body)
    body = re.sub(r"\n{3,}", "\n\n", body).strip()
    return rewrite_article_opening(body, task=task)


def article_url(title: str) -> str:
    name = re.sub(r"\d+$", "", title.strip()).strip().rstrip("?")
    name = re.sub(r"^how to ", "", name, flags=re.IGNORECASE)
    return "https://www.wikihow.com/" + quote(name.replace(" ", "-"))


def _pick(record: dict, keys: tuple[str, ...]) -> str:
    for key in keys:
        for candidate in (key, key.capitalize(), key.upper()):
            value = record.get(candidate)
            if isinstance(value, list):
                value = value[0] if value else ""
            if isinstance(value, str) and value.strip():
                return value
    return ""


def top_category(raw: str) -> str:
    """'Home and Garden » Gardening' → 'Home and Garden' (LIMA samples among wikiHow's 19 top categories)."""
    return re.split(r"\s*(?:»|>|/|\|)\s*", raw.strip())[0].strip() or UNCATEGORISED


def _csv_text(stream, path: Path, limits: InputLimits) -> Iterator[str]:
    for number, line in utf8_lines(stream, path, limits):
        yield line.removeprefix("\ufeff") if number == 1 else line


def _records(path: Path, meter: ProgressMeter, limits: InputLimits) -> Iterator[tuple[int, dict | None, str]]:
    """(line or row number, record or None, problem) for every record of a CSV, JSON or JSONL file."""
    with open(path, "rb") as raw:
        stream = io.BufferedReader(CountingReader(raw, meter))
        if path.suffix.lower() == ".csv":
            # Read line by line (at most LIMA_MAX_LINE_BYTES each); csv follows the physical lines for its numbers.
            reader = csv.DictReader(_csv_text(stream, path, limits))
            try:
                header = reader.fieldnames or []
                lowered = {name.strip().lower() for name in header}
                if not lowered & set(TITLE_KEYS) or not lowered & set(TEXT_KEYS):
                    raise InputError(path, 1, f"a wikiHow CSV needs a title and a text column; the header has {header}")
                for row in reader:
                    yield reader.line_num, {key.strip().lower(): value for key, value in row.items() if key}, ""
            except csv.Error as exc:
                raise InputError(path, reader.line_num, f"malformed CSV: {exc}") from exc
            return
        first = stream.peek(64).lstrip()[:1]
        if first == b"[":
            # One JSON array is read whole: only up to the size an upload may be.
            data = stream.read(limits.max_file_bytes + 1)
            if len(data) > limits.max_file_bytes:
                raise too_large(path, limits)
            try:
                records = load_json(data.decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise InputError(path, None, f"not UTF-8 ({exc.reason}); re-encode the file as UTF-8") from exc
            except MalformedJson as exc:
                raise InputError(path, exc.lineno, f"malformed JSON: {exc.msg}") from exc
            except JsonProblem as exc:
                raise InputError(path, None, str(exc)) from exc
            for index, record in enumerate(records, start=1):
                yield index, record if isinstance(record, dict) else None, "" if isinstance(record, dict) else "not an object"
            return
        yield from _json_lines(path, stream, limits)


def _json_lines(path: Path, stream, limits: InputLimits) -> Iterator[tuple[int, dict | None, str]]:
    """NDJSON records; a bad line is skipped, but a bad last line without a newline means a truncated file."""
    for number, line in utf8_lines(stream, path, limits):
        if not line.strip():
            continue
        try:
            record = load_json(line)
        except MalformedJson as exc:
            if not line.endswith("\n") and stream.peek(1) == b"":
                raise InputError(path, number, f"the file ends in the middle of a record (truncated?): {exc.msg}") from exc
            yield number, None, f"malformed JSON: {exc.msg}"
            continue
        except JsonProblem as exc:
            yield number, None, str(exc)
            continue
        yield number, record if isinstance(record, dict) else None, "" if isinstance(record, dict) else "not a JSON object"


def import_wikihow(path: str | Path, params: WikiHowParams | None = None, *, progress: Progress | None = None,
                   limits: InputLimits | None = None) -> CandidateBatch:
    params = params or WikiHowParams()
    limits = limits or InputLimits()
    report = ImportReport(importer="wikihow", strict=params.strict)
    files = files_under(path, ("*.csv", "*.json", "*.jsonl", "*.ndjson"))
    report.files = [str(file) for file in files]
    meter = ProgressMeter(sum(file.stat().st_size for file in files), progress)
    rng = random.Random(f"{params.seed}:wikihow")
    reservoirs: dict[str, Reservoir] = {}
    seen_titles: set[str] = set()
    eligible = 0
    for file in files:
        for line, record, problem in _records(file, meter, limits):
            if record is None:
                report.skip(file, line, problem)
                continue
            title, text = _pick(record, TITLE_KEYS), _pick(record, TEXT_KEYS)
            if not title or not text:
                report.skip(file, line, "record without a title or a text")
                continue
            report.read += 1
            prompt = title_to_prompt(title)
            key = prompt.lower()
            if key in seen_titles:
                report.reject("duplicate_title")
                continue
            body = clean_body(text, task=task_of(prompt))
            if len(body) < params.min_response_chars:
                report.reject(EMPTY_AFTER_CLEANING)
                continue
            seen_titles.add(key)
            eligible += 1
            category = top_category(_pick(record, CATEGORY_KEYS) or UNCATEGORISED)
            reservoir = reservoirs.setdefault(category, Reservoir(params.target, rng))
            reservoir.offer({"title": title, "prompt": prompt, "body": body, "raw": text, "category": category,
                             "summary": _pick(record, SUMMARY_KEYS), "file": file.name, "line": line})
    pools = {name: reservoir.items for name, reservoir in reservoirs.items()}
    for items in pools.values():
        rng.shuffle(items)
    chosen = category_first_sample(pools, params.target, rng=rng)
    report.reject(NOT_SAMPLED, eligible - len(chosen))
    candidates = [
        Candidate(
            source_key=f"wikihow:{article['prompt'].lower()}"[:255],
            source="wikihow",
            split=paper.TRAIN,
            conversations=[article["prompt"], article["body"]],
            title=article["prompt"][:200],
            community=category,
            provenance={
                "importer": "wikihow", "community": category, "category": category, "url": article_url(article["title"]),
                "licence": LICENCE, "author": "wikiHow contributors", "file": article["file"], "line": article["line"],
                "summary": article["summary"], "raw_prompt": article["title"], "raw_response": article["raw"],
            },
        )
        for category, article in chosen
    ]
    report.kept = len(candidates)
    report.bytes_read = meter.done
    meter.finish()
    return CandidateBatch(candidates=candidates, report=report)
