"""Pushshift Reddit dumps → LIMA candidates (no Django import).

Reads Pushshift NDJSON, plain or zstandard-compressed (.zst, as the dumps ship): submissions
(`id`, `subreddit`, `title`, `selftext`, `score`, `author`, `permalink`, `over_18`) and comments
(`id`, `link_id` "t3_<submission>", `parent_id`, `body`, `score`, `author`). Submission files are
read before comment files; which is which is told by the name (RS_/…submissions, RC_/…comments)
or else by the first record.

LIMA took only two subreddits, from the most upvoted posts: r/WritingPrompts prompts with their
best story (training candidates, 150) and r/AskReddit questions (test prompts, 70, no responses).
Memory stays bounded: only the `pool_size` highest-scoring submissions per subreddit are kept.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator

import zstandard

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
    utf8_lines,
)
from annotation.importers.cleaning import strip_links_and_images
from annotation.importers.sampling import TopK
from annotation.input_limits import InputLimits, JsonProblem, MalformedJson, human_size, load_json

LICENCE = "Reddit User Agreement (authors keep copyright; no open licence)"
WRITINGPROMPTS, ASKREDDIT = "writingprompts", "askreddit"
REMOVED_TEXTS = frozenset({"[removed]", "[deleted]"})
BOT_AUTHORS = frozenset({"automoderator", "[deleted]"})

NSFW = "nsfw"
REMOVED = "removed"
NOT_A_WRITING_PROMPT = "not_a_writing_prompt"
NOT_TOP_VOTED = "not_top_voted"
NO_STORY = "no_story"
STORY_TOO_SHORT = "story_too_short"
STORY_TOO_LONG = "story_too_long"
NOT_SAMPLED = "not_sampled"


@dataclass(frozen=True)
class RedditParams:
    writingprompts_target: int = 150
    askreddit_target: int = 70
    pool_size: int = 2000
    prompt_tags: tuple[str, ...] = ("WP",)
    # Not in the paper (its stories were hand-picked): bounds around Table 1's 274-token average story.
    min_story_chars: int = 600
    max_story_chars: int = 6000
    include_nsfw: bool = False
    strict: bool = False


# --- the rules -------------------------------------------------------------------------------


def is_nsfw(submission: dict) -> bool:
    return bool(submission.get("over_18"))


def is_removed(submission: dict) -> bool:
    return (submission.get("selftext") or "").strip() in REMOVED_TEXTS or bool(submission.get("removed_by_category"))


def writing_prompt_text(title: str, tags: tuple[str, ...]) -> str | None:
    """'[WP] A dragon learns to knit' → 'A dragon learns to knit'; None if the title carries none of the tags."""
    match = re.match(r"^\s*[\[(]\s*([A-Za-z]{2,3})\s*[\])]\s*", title)
    if not match or match.group(1).upper() not in {tag.upper() for tag in tags}:
        return None
    return title[match.end():].strip()


def story_length_verdict(text: str, *, low: int, high: int) -> str | None:
    if len(text) < low:
        return STORY_TOO_SHORT
    if len(text) > high:
        return STORY_TOO_LONG
    return None


def is_usable_story(comment: dict, submission_id: str) -> bool:
    """A top-level reply to the prompt by a person, not removed."""
    link = f"t3_{submission_id}"
    return (
        comment.get("parent_id") == link
        and (comment.get("author") or "").lower() not in BOT_AUTHORS
        and (comment.get("body") or "").strip() not in REMOVED_TEXTS
    )


# --- reading ---------------------------------------------------------------------------------


# Compressed bytes handed to the decompressor at a time. zstd expands a byte to at most ~32 KiB (an RLE
# block), so one step yields at most ~32 MiB however the file was crafted (a 9 KB file can hold a 300 MB
# line); on real dumps the small steps cost nothing measurable.
ZSTD_STEP = 1024


class DecompressionBomb(Exception):
    pass


class ZstdStream(io.RawIOBase):
    """Decompressed bytes of a .zst file, frame after frame. Unlike zstandard's stream_reader it notices a
    file that ends inside a frame (an interrupted download), which would otherwise pass for a shorter dump.
    Output is bounded twice: per step (ZSTD_STEP), and in total to `max_output` bytes (DecompressionBomb)."""

    def __init__(self, source: IO[bytes], *, max_output: int):
        # Pushshift compresses with a 2 GiB window; the decompressor must be allowed as much.
        self._context = zstandard.ZstdDecompressor(max_window_size=2**31)
        self._frame = self._context.decompressobj()
        self._frame_open = False
        self._source = source
        # Offsets into the last read and the last output, not slices: slicing copies the rest every time.
        self._input, self._input_at = memoryview(b""), 0
        self._pending, self._pending_at = b"", 0
        self._produced = 0
        self._max_output = max_output

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while self._pending_at >= len(self._pending):
            if self._input_at >= len(self._input):
                self._input, self._input_at = memoryview(self._source.read(1 << 20)), 0
            data = self._input[self._input_at:self._input_at + ZSTD_STEP]
            self._input_at += len(data)
            if not data:
                if self._frame_open:
                    raise zstandard.ZstdError("the file ends inside a zstd frame (truncated download?)")
                return 0
            output = []
            while data:
                output.append(self._frame.decompress(data))
                self._frame_open = True
                if not self._frame.eof:
                    break
                data = self._frame.unused_data
                self._frame = self._context.decompressobj()
                self._frame_open = False
            self._pending, self._pending_at = b"".join(output), 0
            self._produced += len(self._pending)
            if self._produced > self._max_output:
                raise DecompressionBomb()
        size = min(len(buffer), len(self._pending) - self._pending_at)
        buffer[:size] = self._pending[self._pending_at:self._pending_at + size]
        self._pending_at += size
        return size


def _open_lines(path: Path, meter: ProgressMeter, limits: InputLimits) -> tuple[IO, Iterator[tuple[int, str]]]:
    raw = open(path, "rb")
    counted = CountingReader(raw, meter)
    if path.suffix.lower() == ".zst":
        max_output = max(path.stat().st_size, 1) * limits.max_decompression_ratio
        source = ZstdStream(counted, max_output=max_output)
    else:
        source = counted
    return raw, utf8_lines(io.BufferedReader(source, buffer_size=1 << 20), path, limits)


def records(path: Path, meter: ProgressMeter, report: ImportReport, limits: InputLimits) -> Iterator[tuple[int, dict]]:
    """The JSON objects of one dump file; malformed lines are skipped and reported, a truncated file stops."""
    raw, lines = _open_lines(path, meter, limits)
    number = 0
    try:
        for number, line in lines:
            if not line.strip():
                continue
            try:
                record = load_json(line)
            except MalformedJson as exc:
                if not line.endswith("\n"):
                    raise InputError(path, number, f"the file ends in the middle of a record (truncated?): {exc.msg}") from exc
                report.skip(path, number, f"malformed JSON: {exc.msg}")
                continue
            except JsonProblem as exc:
                report.skip(path, number, str(exc))
                continue
            if not isinstance(record, dict):
                report.skip(path, number, "not a JSON object")
                continue
            yield number, record
    except zstandard.ZstdError as exc:
        raise InputError(path, number + 1, f"corrupt or truncated zstd stream: {exc}") from exc
    except DecompressionBomb:
        raise InputError(path, number + 1, f"decompresses to more than {limits.max_decompression_ratio:,} times its size "
                                           f"({human_size(path.stat().st_size)}; LIMA_MAX_DECOMPRESSION_RATIO)") from None
    finally:
        raw.close()


def file_kind(path: Path, report: ImportReport, limits: InputLimits) -> str:
    """'submissions' or 'comments', from the name (RS_/RC_, *_submissions/*_comments) or the first record."""
    name = path.name.lower()
    if name.startswith("rs_") or "submission" in name:
        return "submissions"
    if name.startswith("rc_") or "comment" in name:
        return "comments"
    probe = ImportReport(importer="reddit")
    for _, record in records(path, ProgressMeter(0, None), probe, limits):
        return "submissions" if "title" in record else "comments"
    return "comments"


def _int(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# --- the import ------------------------------------------------------------------------------


def _submission_url(submission: dict) -> str:
    permalink = submission.get("permalink") or f"/r/{submission.get('subreddit')}/comments/{submission.get('id')}/"
    return f"https://www.reddit.com{permalink}"


def import_reddit(path: str | Path, params: RedditParams | None = None, *, progress: Progress | None = None,
                  limits: InputLimits | None = None) -> CandidateBatch:
    params = params or RedditParams()
    limits = limits or InputLimits()
    report = ImportReport(importer="reddit", strict=params.strict)
    files = files_under(path, ("*.zst", "*.ndjson", "*.jsonl", "*.json"))
    kinds = {file: file_kind(file, report, limits) for file in files}
    ordered = [f for f in files if kinds[f] == "submissions"] + [f for f in files if kinds[f] == "comments"]
    report.files = [str(file) for file in ordered]
    meter = ProgressMeter(sum(file.stat().st_size for file in files), progress)
    pools = {WRITINGPROMPTS: TopK(params.pool_size), ASKREDDIT: TopK(params.pool_size)}
    for file in ordered:
        if kinds[file] == "submissions":
            _read_submissions(file, pools, params, report, meter, limits)
        else:
            _read_comments(file, pools[WRITINGPROMPTS], report, meter, limits)
    candidates = _writingprompts(pools[WRITINGPROMPTS], params, report) + _askreddit(pools[ASKREDDIT], params, report)
    report.kept = len(candidates)
    report.bytes_read = meter.done
    meter.finish()
    return CandidateBatch(candidates=candidates, report=report)


def _read_submissions(file: Path, pools: dict[str, TopK], params: RedditParams, report: ImportReport, meter: ProgressMeter,
                      limits: InputLimits) -> None:
    for line, record in records(file, meter, report, limits):
        subreddit = (record.get("subreddit") or "").lower()
        if subreddit not in pools:
            continue
        post_id, score, title = record.get("id"), _int(record.get("score")), record.get("title")
        if not isinstance(post_id, str) or score is None or not isinstance(title, str):
            report.skip(file, line, "submission without an id, a numeric score or a title")
            continue
        report.read += 1
        if is_nsfw(record) and not params.include_nsfw:
            report.reject(NSFW)
            continue
        if is_removed(record):
            report.reject(REMOVED)
            continue
        if subreddit == WRITINGPROMPTS:
            prompt = writing_prompt_text(title, params.prompt_tags)
            if prompt is None:
                report.reject(NOT_A_WRITING_PROMPT)
                continue
        else:
            prompt = title.strip()
        payload = [prompt, title, record.get("author") or "", _submission_url(record), line, -(10**9), None]
        if pools[subreddit].offer(post_id, score, payload) is not None:
            report.reject(NOT_TOP_VOTED)


# Payload slots of a pooled submission: prompt, raw title, author, url, line, best story score, best story.
_PROMPT, _TITLE, _AUTHOR, _URL, _LINE, _STORY_SCORE, _STORY = range(7)


def _read_comments(file: Path, pool: TopK, report: ImportReport, meter: ProgressMeter, limits: InputLimits) -> None:
    for line, record in records(file, meter, report, limits):
        link = record.get("link_id")
        if not isinstance(link, str) or not link.startswith("t3_"):
            continue
        entry = pool.payloads.get(link[3:])
        if entry is None:
            continue
        score, body = _int(record.get("score")), record.get("body")
        if score is None or not isinstance(body, str):
            report.skip(file, line, "comment without a numeric score or a body")
            continue
        if is_usable_story(record, link[3:]) and score > entry[_STORY_SCORE]:
            entry[_STORY_SCORE] = score
            entry[_STORY] = {"id": record.get("id") or "", "author": record.get("author") or "", "body": body, "score": score}


def _writingprompts(pool: TopK, params: RedditParams, report: ImportReport) -> list[Candidate]:
    candidates = []
    for post_id, score, entry in pool.ranked():
        story = entry[_STORY]
        if story is None:
            report.reject(NO_STORY)
            continue
        text = strip_links_and_images(story["body"])
        verdict = story_length_verdict(text, low=params.min_story_chars, high=params.max_story_chars)
        if verdict:
            report.reject(verdict)
            continue
        if len(candidates) >= params.writingprompts_target:
            report.reject(NOT_SAMPLED)
            continue
        candidates.append(Candidate(
            source_key=f"reddit:writingprompts:{post_id}", source="reddit_writingprompts", split=paper.TRAIN,
            conversations=[entry[_PROMPT], text], title=entry[_PROMPT][:200], community="r/WritingPrompts",
            provenance={
                "importer": "reddit", "community": "r/WritingPrompts", "post_id": post_id, "url": entry[_URL],
                "score": score, "author": story["author"], "prompt_author": entry[_AUTHOR], "comment_id": story["id"],
                "comment_url": f"{entry[_URL].rstrip('/')}/{story['id']}/", "story_score": story["score"],
                "licence": LICENCE, "raw_prompt": entry[_TITLE], "raw_response": story["body"],
            },
        ))
    return candidates


def _askreddit(pool: TopK, params: RedditParams, report: ImportReport) -> list[Candidate]:
    candidates = []
    for post_id, score, entry in pool.ranked():
        if len(candidates) >= params.askreddit_target:
            report.reject(NOT_SAMPLED)
            continue
        candidates.append(Candidate(
            source_key=f"reddit:askreddit:{post_id}", source="reddit_askreddit", split=paper.TEST,
            conversations=[entry[_PROMPT]], title=entry[_PROMPT][:200], community="r/AskReddit",
            provenance={
                "importer": "reddit", "community": "r/AskReddit", "post_id": post_id, "url": entry[_URL], "score": score,
                "author": entry[_AUTHOR], "licence": LICENCE, "raw_prompt": entry[_TITLE],
            },
        ))
    return candidates
