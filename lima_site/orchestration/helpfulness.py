"""The LLM judge's 6-point helpfulness scale for ablations, and mean scores with intervals (no Django import).

LIMA section 5 ("Why is less more?") grades each 7B variant's dev responses with ChatGPT on a 1-6
helpfulness Likert scale (prompt in the paper's appendix), 5 samples per prompt, and plots the mean
with 95% confidence intervals. The prompt below follows the appendix's rubric; an experiment stores
the prompt it was graded with, so a later change here never rewrites what a result meant.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

SCALE = (1, 2, 3, 4, 5, 6)
DEFAULT_TEMPLATE = """You are evaluating a response that has been submitted for a particular task, using a specific set of \
standards. Below is the data:
[BEGIN DATA]
***
[Task]: {prompt}
***
[Submission]: {response}
***
[Criterion]: helpfulness:
"1": "Not helpful - The generated text is completely irrelevant, unclear, or incomplete. It does not provide any useful \
information to the user."
"2": "Somewhat helpful - The generated text has some relevance to the user's question, but it may be unclear or \
incomplete. It provides only partial information, or the information provided may not be useful for the user's needs."
"3": "Moderately helpful - The generated text is relevant to the user's question, and it provides a clear and complete \
answer. However, it may lack detail or explanation that would be helpful for the user."
"4": "Helpful - The generated text is quite relevant to the user's question, and it provides a clear, complete, and \
detailed answer. It offers additional information or explanations that are useful for the user. However, some of the \
points of the response are somewhat repetitive or could be combined for greater clarity and concision."
"5": "Very helpful - The generated text is highly relevant to the user's question, and it provides a clear, complete, \
and detailed answer. It offers additional information, explanations, or analogies that are not only useful but also \
insightful and valuable to the user. However, the structure of the response is not well-organized and there is no clear \
progression or logical sequence of different points in the response."
"6": "Highly helpful - The generated text provides a clear, complete, and detailed answer. It offers additional \
information or explanations that are not only useful but also insightful and valuable to the user. The response is also \
in a logical and easy-to-follow manner by explicitly using headings, bullet points, or numbered lists to break up the \
information and make it easier to read."
***
[END DATA]
Does the submission meet the criterion? First, write out in a step by step manner your reasoning about the criterion \
to be sure that your conclusion is correct. Avoid simply stating the correct answers at the outset. Then print the \
choice only from "1, 2, 3, 4, 5, 6" (without quotes or punctuation) on its own line corresponding to the correct \
answer. At the end, repeat just the selected choice again by itself on a new line."""

PLACEHOLDERS = ("{prompt}", "{response}")
_LONE_SCORE = re.compile(r"^\W*([1-6])\W*$")


def validate_template(template: str) -> list[str]:
    """The placeholders a template lacks (an empty list when it is usable)."""
    return [p for p in PLACEHOLDERS if p not in template]


_PLACEHOLDER = re.compile(r"\{(prompt|response)\}")


def render_prompt(template: str, *, prompt: str, response: str) -> str:
    """One pass over the template: a prompt that itself holds "{response}" (or braces of any kind) stays as written."""
    values = {"prompt": prompt, "response": response}
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], template)


def parse_score(answer: str) -> int | None:
    """The score the judge chose: the last line holding only a digit 1-6 (the rubric asks it to repeat the choice
    last). None when no such line exists; a bare number inside the reasoning is never taken for the verdict."""
    for line in reversed(answer.strip().splitlines()):
        match = _LONE_SCORE.match(line.strip())
        if match:
            return int(match.group(1))
    return None


@dataclass(frozen=True)
class MeanScore:
    """Mean helpfulness with the bounds of its bootstrap confidence interval."""

    mean: float
    low: float
    high: float
    n_scores: int
    n_prompts: int


def mean_with_interval(scores_by_prompt: Mapping[str, Sequence[int]], *, confidence: float = 0.95, resamples: int = 2000,
                       seed: int = 0) -> MeanScore | None:
    """Mean of every sample's score; the interval resamples whole prompts (a prompt's N samples are not independent).

    None when nothing was scored. One prompt gives an interval of zero width: there is no variation between prompts.
    """
    if not 0 < confidence < 1 or resamples < 1:
        raise ValueError("confidence in (0, 1) and at least one resample")
    groups = [np.asarray(list(scores), dtype=float) for _, scores in sorted(scores_by_prompt.items()) if len(scores)]
    if not groups:
        return None
    sums = np.array([g.sum() for g in groups])
    counts = np.array([len(g) for g in groups])
    rng = np.random.default_rng([seed, zlib.crc32(b"helpfulness")])
    picks = rng.integers(0, len(groups), size=(resamples, len(groups)))
    boot = sums[picks].sum(axis=1) / counts[picks].sum(axis=1)
    tail = (1 - confidence) / 2
    low, high = np.quantile(boot, [tail, 1 - tail])
    return MeanScore(mean=float(sums.sum() / counts.sum()), low=float(low), high=float(high), n_scores=int(counts.sum()),
                     n_prompts=len(groups))


@dataclass(frozen=True)
class VariantSpec:
    """One dataset variant of an ablation: which sources, the quality filter, how many rows, which sampling seed."""

    sources: tuple[str, ...]
    quality_filter: bool
    size: int | None
    seed: int
    source_name: str = ""  # how the sources are called together ("stackexchange" for STEM + Other); default: joined

    @property
    def label(self) -> str:
        size = "all" if self.size is None else f"{self.size:,}"
        sources = self.source_name or "+".join(self.sources)
        return f"{sources} · {'filtered' if self.quality_filter else 'unfiltered'} · {size} · seed {self.seed}"


def plan_variants(*, source_groups: Sequence[Sequence[str]], size: int | None, unfiltered: bool, doublings: int,
                  seeds: int, group_names: Sequence[str] | None = None) -> list[VariantSpec]:
    """The paper's three ablations as variants: each source group filtered (diversity); with `unfiltered`, each group
    without the quality filter too (quality); with `doublings`, the first group at size x2, x4, ... (quantity).
    Every variant is repeated for `seeds` sampling seeds. Duplicates are dropped, order kept."""
    if not source_groups:
        raise ValueError("choose at least one source")
    if seeds < 1:
        raise ValueError("at least one seed")
    if doublings < 0:
        raise ValueError("doublings cannot be negative")
    if doublings and size is None:
        raise ValueError("doubling needs a starting size")
    names = list(group_names or [""] * len(source_groups))
    planned: list[VariantSpec] = []
    for seed in range(seeds):
        for group, name in zip(source_groups, names):
            planned.append(VariantSpec(tuple(group), True, size, seed, name))
            if unfiltered:
                planned.append(VariantSpec(tuple(group), False, size, seed, name))
        for step in range(1, doublings + 1):
            planned.append(VariantSpec(tuple(source_groups[0]), True, size * 2 ** step, seed, names[0]))
    seen, unique = set(), []
    for spec in planned:
        if spec not in seen:
            seen.add(spec)
            unique.append(spec)
    return unique
