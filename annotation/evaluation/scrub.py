"""Scrub self-identification from responses before annotators see them (no Django import).

Blind judging fails if a response says "As an AI language model developed by OpenAI". The
scrubber replaces such phrases and model/vendor names with a neutral marker and reports every
replacement, so researchers can review exactly what was changed.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

MARKER = "[model]"

_VENDORS = r"(?:OpenAI|Anthropic|Google(?:\s+DeepMind)?|DeepMind|Meta(?:\s+AI)?|Mistral(?:\s+AI)?|Microsoft)"
_MODELS = (
    r"(?:Chat\s?GPT(?:-?4o?)?|GPT-?[345](?:\.5)?(?:-turbo)?|text-davinci-00[23]|DaVinci(?:003)?|Claude(?:\s+\d(?:\.\d)?)?|"
    r"Bard|Gemini|PaLM\s?2?|LLaMA(?:\s?\d)?|Llama(?:\s?\d)?|Alpaca|Vicuna|LIMA)"
)
_PATTERNS = [
    ("ai_disclaimer", re.compile(
        rf"\b[Aa]s an? (?:AI|artificial intelligence)(?: language model| assistant| model)?"
        rf"(?: (?:developed|created|trained|made|built) by {_VENDORS})?(?:\s*\([^)]*\))?", re.UNICODE)),
    ("identity", re.compile(rf"\b(?:I am|I'm)\s+(?:an? )?(?:{_MODELS}|(?:AI )?(?:language )?model (?:developed|created|trained|made) by {_VENDORS})\b")),
    ("vendor_attribution", re.compile(rf"\b(?:developed|created|trained|made|built) by {_VENDORS}\b")),
    ("model_name", re.compile(rf"\b{_MODELS}\b")),
]


@dataclass(frozen=True)
class Replacement:
    rule: str
    original: str
    start: int

    def as_dict(self) -> dict:
        return asdict(self)


def scrub_self_identification(text: str) -> tuple[str, list[Replacement]]:
    """The text with self-identifying phrases replaced by MARKER, and what was replaced."""
    replacements: list[Replacement] = []
    for rule, pattern in _PATTERNS:
        def swap(match: re.Match, rule=rule) -> str:
            replacements.append(Replacement(rule=rule, original=match.group(0), start=match.start()))
            return MARKER

        text = pattern.sub(swap, text)
    return text, replacements
