"""Markdown rendering (annotation/rendering.py): the features authors and models use, sanitised, and linear time
on pathological input (Python-Markdown took 165 s on "[" * 20,000). Time is compared between sizes in one
run, never against a clock: rendering eight times the input must cost less than 24 times as much (a quadratic
renderer takes 64 times as much), in CPU time, which other processes on a busy machine inflate less."""

from __future__ import annotations

import gc
import re
import time

import pytest

from annotation.rendering import MAX_NESTING, render_markdown
from tests.hostile_inputs import pathological_markdown

SMALL, LARGE = 25_000, 200_000
CORPUS_SMALL, CORPUS_LARGE = pathological_markdown(SMALL), pathological_markdown(LARGE)


def test_code_blocks_lists_tables_and_emphasis_render():
    html = render_markdown("Some **bold** and *em* and `code`.\n\n```python\nif x < 1:\n    pass\n```\n\n"
                           "- one\n- two\n\n1. first\n2. second\n\n| a | b |\n|:--|--:|\n| 1 | 2 |\n\n> quoted\n\n## Heading\n")
    assert "<strong>bold</strong>" in html and "<em>em</em>" in html and "<code>code</code>" in html
    assert '<pre><code class="language-python">if x &lt; 1:\n    pass\n</code></pre>' in html
    assert "<ul>\n<li>one</li>\n<li>two</li>\n</ul>" in html and "<ol>\n<li>first</li>" in html
    assert '<th align="left">a</th>' in html and '<td align="right">2</td>' in html
    assert "<blockquote>\n<p>quoted</p>\n</blockquote>" in html and "<h2>Heading</h2>" in html


def test_scripts_handlers_and_javascript_links_never_reach_the_page():
    html = render_markdown('Hi <script>alert(1)</script> <img src=x onerror="alert(2)"> [click](javascript:alert(3)) '
                           '[ok](https://example.org "t")\n\n<script>alert(4)</script>\n')
    assert "<script" not in html and "onerror" not in html and "javascript:" not in html
    assert '<a href="https://example.org" title="t" rel="noopener noreferrer nofollow">ok</a>' in html


def test_text_that_is_not_unicode_still_renders():
    assert render_markdown("a \ud800 b") == "<p>a ? b</p>\n"


def _depth(html: str) -> int:
    deepest = depth = 0
    for closing in re.findall(r"<(/?)(?:blockquote|ul|ol|li)\b", html):
        depth += -1 if closing else 1
        deepest = max(deepest, depth)
    return deepest


@pytest.mark.parametrize("text", [">" * LARGE, "> " * (LARGE // 2), "> - " * (LARGE // 4), "- " * (LARGE // 2),
                                  CORPUS_LARGE["nested_lists"]])
def test_deep_nesting_is_flattened_and_the_text_kept(text):
    html = render_markdown(text)
    assert _depth(html) <= MAX_NESTING + 1  # a list item and its list count as two levels at the cut


def _fastest(*texts: str, rounds: int = 5) -> list[float]:
    """The least CPU time each text took to render over `rounds` rounds, the texts taken in turn within a round (so a
    slow moment of the machine falls on both, not on one: CI once measured the small input 3 times in a fast moment
    and the large one in a slow one, 28x for 8x the input, where a quiet run gives 11x), with the garbage collector
    off while timing (a collection inside one measurement is not the renderer's cost)."""
    best = [float("inf")] * len(texts)
    collecting = gc.isenabled()
    gc.disable()
    try:
        for _ in range(rounds):
            for index, text in enumerate(texts):
                started = time.process_time()
                render_markdown(text)
                best[index] = min(best[index], time.process_time() - started)
    finally:
        if collecting:
            gc.enable()
    return best


@pytest.mark.parametrize("name", sorted(CORPUS_LARGE))
def test_rendering_time_grows_linearly_on_pathological_input(name):
    small, large = _fastest(CORPUS_SMALL[name], CORPUS_LARGE[name])
    # 8x the input, under 24x the time; 5 ms of slack for inputs that take next to none.
    assert large < 24 * small + 0.005, f"{name}: {SMALL:,} chars {small * 1000:.1f} ms, {LARGE:,} chars {large * 1000:.1f} ms"
