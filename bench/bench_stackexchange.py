"""Issue 3 figures: Stack Exchange Posts.xml import throughput (MB/s) and peak memory at 50 MB and 200 MB,
with the rejection count of every LIMA rule; plus the end-to-end import (parse, filter, write) of the 50 MB dump.

The dumps are generated (seeded) under var/bench/ in the real format: a folder of site folders,
each with a Posts.xml of <row/> elements, bodies HTML-escaped in attributes, answers after their
questions. Each size is imported in a fresh subprocess so its peak RSS is its own.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from html import escape
from pathlib import Path

from django.conf import settings

SIZES_MB = (50, 200)
SITES = (("physics.stackexchange.com", 5), ("math.stackexchange.com", 8), ("electronics.stackexchange.com", 2),
         ("tex.stackexchange.com", 1), ("cooking.stackexchange.com", 3), ("travel.stackexchange.com", 2),
         ("english.stackexchange.com", 4), ("bicycles.stackexchange.com", 1))
SENTENCES = (
    "The energy of the system is conserved because the forces involved are conservative.",
    "A common approach is to start from the definition and expand each term carefully.",
    "In practice the difference only matters when the values are very large or very small.",
    "This follows directly from the second law, applied to the closed system as a whole.",
    "Historically the word came into English through French, with a slightly different meaning.",
    "The key is to keep the pan hot enough that the surface browns before the inside overcooks.",
    "Most airlines allow this, but the rules differ between carriers and fare classes.",
    "You can verify the result numerically with a short script, as shown in the code below.",
)
FIRST_PERSON = "I have used this approach for years and my experience is that it works well."
REFERENCE = "As mentioned in the other answer, you should upvote the accepted one on Stack Exchange."
TITLES = ("Why does {} happen at low temperature?", "How can {} be computed efficiently?",
          "What is the origin of {} in modern usage?", "Is {} safe to do at home?", "Why is this code slow for {}?",
          "How do I fix {}", "What are the trade-offs of {} compared with the alternatives?")
TOPICS = ("superconductivity", "the Fourier transform", "a voltage divider", "the word 'nice'", "sourdough proofing",
          "a layover in Frankfurt", "tubeless tyres", "a LaTeX table", "entropy", "a prime sieve")


def _answer_html(rng: random.Random) -> str:
    target = int(rng.lognormvariate(7.4, 0.6))  # median ~1,600 characters, long tail both ways
    parts, size = [], 0
    while size < target:
        kind = rng.random()
        if kind < 0.12:
            block = "<pre><code>for i in range(10):\n    total += values[i] * weights[i]\n</code></pre>"
        elif kind < 0.2:
            block = "<ul><li>first point about the method</li><li>second point, with <code>x</code></li></ul>"
        elif kind < 0.25:
            block = '<p>See <a href="https://example.org/ref">the reference</a> and <img src="https://i.example/x.png" alt="figure"></p>'
        else:
            block = "<p>" + " ".join(rng.choice(SENTENCES) for _ in range(rng.randint(1, 4))) + "</p>"
        parts.append(block)
        size += len(block)
    if rng.random() < 0.12:
        parts.insert(1, f"<p>{FIRST_PERSON}</p>")
    if rng.random() < 0.08:
        parts.append(f"<p>{REFERENCE}</p>")
    return "".join(parts)


def generate_dump(root: Path, total_mb: int, *, seed: int = 3) -> Path:
    """A folder of site folders with Posts.xml files adding up to about total_mb (skipped when already there)."""
    marker = root / ".complete"
    if marker.exists():
        return root
    rng = random.Random(seed)
    weight_sum = sum(weight for _, weight in SITES)
    for host, weight in SITES:
        folder = root / host
        folder.mkdir(parents=True, exist_ok=True)
        budget = total_mb * 1024 * 1024 * weight // weight_sum
        post_id, written = 0, 0
        with open(folder / "Posts.xml", "w", encoding="utf-8") as out:
            out.write('<?xml version="1.0" encoding="utf-8"?>\n<posts>\n')
            while written < budget:
                post_id += 1
                question_id = post_id
                title = rng.choice(TITLES).format(rng.choice(TOPICS))
                body = "<p>" + " ".join(rng.choice(SENTENCES) for _ in range(rng.randint(1, 5))) + "</p>"
                answers = rng.randint(0, 4)
                line = (f'  <row Id="{question_id}" PostTypeId="1" AcceptedAnswerId="{question_id + 1 if answers else ""}" '
                        f'CreationDate="2015-01-01T00:00:00.000" Score="{int(rng.paretovariate(1.2)) - 1}" '
                        f'ViewCount="{rng.randint(10, 100000)}" Body="{escape(body)}" OwnerUserId="{rng.randint(1, 5000)}" '
                        f'Title="{escape(title)}" Tags="&lt;tag&gt;" AnswerCount="{answers}" CommentCount="0" />\n')
                out.write(line)
                written += len(line)
                for _ in range(answers):
                    post_id += 1
                    line = (f'  <row Id="{post_id}" PostTypeId="2" ParentId="{question_id}" CreationDate="2015-01-02T00:00:00.000" '
                            f'Score="{int(rng.paretovariate(0.9)) - 1}" Body="{escape(_answer_html(rng))}" '
                            f'OwnerUserId="{rng.randint(1, 5000)}" CommentCount="0" />\n')
                    out.write(line)
                    written += len(line)
            out.write("</posts>\n")
    marker.write_text("ok\n")
    return root


_MEASURE = """
import json, sys, time
from annotation.importers.stackexchange import import_stackexchange

def status(key):
    # VmHWM is the peak RSS of this process image; ru_maxrss would carry the forking parent's peak across exec.
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1])

before = status("VmRSS")
started = time.perf_counter()
batch = import_stackexchange(sys.argv[1])
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "rss_before_kib": before, "peak_rss_kib": status("VmHWM"), "report": batch.report.as_dict()}))
"""


def _measure(root: Path) -> dict:
    """Parse + filter + sample one dump in a fresh interpreter (its own peak RSS)."""
    done = subprocess.run([sys.executable, "-c", _MEASURE, str(root)], capture_output=True, text=True, check=True,
                          cwd=settings.BASE_DIR)
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    size = figures["report"]["bytes_read"]
    return {
        "megabytes": round(size / 1e6, 1),
        "seconds": round(figures["seconds"], 2),
        "mb_per_s": round(size / 1e6 / figures["seconds"], 1),
        "peak_rss_mib": round(figures["peak_rss_kib"] / 1024, 1),
        "rss_before_import_mib": round(figures["rss_before_kib"] / 1024, 1),
        "questions_read": figures["report"]["read"],
        "kept": figures["report"]["kept"],
        "rejected_per_rule": figures["report"]["rejected"],
    }


def run() -> dict:
    from annotation.services.curation import import_and_save

    base = Path(settings.BASE_DIR) / "var" / "bench"
    figures: dict = {"goal": ">= 30 MB/s, peak memory flat from 50 MB to 200 MB"}
    for size in SIZES_MB:
        started = time.perf_counter()
        root = generate_dump(base / f"stackexchange-{size}mb", size)
        figures[f"generate_{size}mb_seconds"] = round(time.perf_counter() - started, 1)
        figures[f"posts_{size}mb"] = _measure(root)
    started = time.perf_counter()
    result = import_and_save(importer="stackexchange", path=str(base / f"stackexchange-{SIZES_MB[0]}mb"), params={}, user=None)
    figures[f"end_to_end_{SIZES_MB[0]}mb"] = {"seconds": round(time.perf_counter() - started, 2), "created": result.created}
    started = time.perf_counter()
    again = import_and_save(importer="stackexchange", path=str(base / f"stackexchange-{SIZES_MB[0]}mb"), params={}, user=None)
    figures[f"rerun_{SIZES_MB[0]}mb"] = {"seconds": round(time.perf_counter() - started, 2), "created": again.created,
                                          "already_there": again.existing}
    return figures
