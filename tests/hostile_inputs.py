"""Hostile inputs, built from code (never committed): the memory bombs of the hardening issue and a corpus of
pathological Markdown. Shared by the tests (small sizes) and `make bench` (bench/bench_hostile_input.py, full sizes)."""

from __future__ import annotations

from pathlib import Path

import zstandard

CHUNK = 1 << 20


def _repeat(stream, piece: bytes, total: int) -> None:
    block = piece * max(1, CHUNK // len(piece))
    while total > 0:
        part = block[:total]
        stream.write(part)
        total -= len(part)


def zst_line_bomb(path: Path, *, line_bytes: int) -> Path:
    """A Pushshift-named .zst whose first record is one line of `line_bytes` (300 MB compress to about 9 KB)."""
    with open(path, "wb") as raw, zstandard.ZstdCompressor(level=19).stream_writer(raw) as out:
        out.write(b'{"id": "x", "subreddit": "WritingPrompts", "title": "')
        _repeat(out, b"a", line_bytes)
        out.write(b'"}\n')
    return path


def zst_ratio_bomb(path: Path, *, decompressed_bytes: int) -> Path:
    """Short, valid-looking lines that expand far beyond any real dump's compression ratio."""
    line = b'{"id": "x", "subreddit": "AskReddit", "title": "t", "score": 1}\n'
    with open(path, "wb") as raw, zstandard.ZstdCompressor(level=19).stream_writer(raw) as out:
        _repeat(out, line, decompressed_bytes)
    return path


def posts_xml_element_bomb(path: Path, *, elements: int) -> Path:
    """A Posts.xml of `elements` empty elements that are not rows (5 million once took a worker to 1.3 GB)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as out:
        out.write(b'<?xml version="1.0" encoding="utf-8"?>\n<posts>')
        _repeat(out, b"<a/>", 4 * elements)
        out.write(b"</posts>\n")
    return path


def jsonl_line_bomb(path: Path, *, line_bytes: int) -> Path:
    """A GAIR/lima upload that is one line of `line_bytes` (200 MB once ran 423 s and took 3.5 GB)."""
    with open(path, "wb") as out:
        out.write(b'{"conversations": ["Q?", "')
        _repeat(out, b"a", line_bytes)
        out.write(b'"], "source": "authored"}\n')
    return path


def _nested_list(size: int) -> str:
    """Each item one level deeper than the last, as many levels as fit in `size` characters."""
    lines, used, depth = [], 0, 0
    while used + 2 * depth + 4 <= size:
        lines.append("  " * depth + "- a\n")
        used += 2 * depth + 4
        depth += 1
    return "".join(lines)


def pathological_markdown(size: int) -> dict[str, str]:
    """Inputs of about `size` characters that make naive Markdown parsers quadratic (or worse) or nest deeply."""
    def fill(piece: str) -> str:
        return (piece * (size // len(piece) + 1))[:size]

    return {
        "open_brackets": fill("["),
        "close_brackets": fill("]"),
        "link_openers": fill("[a]("),
        "image_openers": fill("!["),
        "nested_link_text": fill("[a"),
        "emphasis_stars": fill("*a"),
        "emphasis_underscores": fill("_a"),
        "mixed_delimiters": fill("*_"),
        "strong_runs": fill("**a"),
        "strikethrough_runs": fill("~~a"),
        "backtick_runs": fill("`a``"),
        "unclosed_html": fill("<a"),
        "lt_star": fill("<*"),
        "entities": fill("&#"),
        "backslashes": fill("\\"),
        "nested_quotes": fill(">"),
        "quote_lines": fill("> "),
        "nested_lists": _nested_list(size),
        "list_markers": fill("- "),
        "quotes_in_lists": fill("> - "),
        "long_link": "[a](http://" + "a" * (size - 12) + ")",
        "autolinks": fill("<http://a"),
        "table_rows": "|a|b|\n|-|-|\n" + fill("|a|b|\n")[: size - 12],
        "table_columns": fill("|")[: size // 2 - 1] + "\n" + fill("|-")[: size // 2 - 1] + "\n",
        "reference_definitions": fill("[a]: b\n"),
        "reference_uses": fill("[a][b]"),
        "setext_headings": fill("a\n=\n"),
        "code_fences": fill("```\n"),
    }
