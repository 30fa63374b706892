"""Scrub self-identification from responses before annotators see them (no Django import).

Blind judging fails if a response says "As an AI language model developed by OpenAI". The
scrubber replaces such phrases and model/vendor names with a neutral marker and reports every
replacement, so researchers can review exactly what was changed.

Matching finds identity, not strings: it runs on a folded copy of the text (NFKC, zero-width and
other format characters removed, common Cyrillic/Greek homoglyphs mapped to Latin, case folded),
so "Chat\u200bGPT", "ＣｈａｔＧＰＴ", "chatgpt" and "СhatGPT" (Cyrillic С) are all found. Each match is
mapped back to its span in the original text, and only that span is replaced: the rest of the
response (math, code, emoji) reaches annotators exactly as written.

Names that are also ordinary words (Google, Meta, Bard, Gemini, PaLM, Grok, Mistral, Llama,
Alpaca, Command) are replaced when they are written as a name (capitalised) or when they stand
in an identity phrase ("I am grok", "made by meta"); unambiguous names (OpenAI, ChatGPT, GPT-4o,
Claude, Qwen, DeepSeek...) are replaced however they are written.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from functools import lru_cache

MARKER = "[model]"

# Latin look-alikes an annotator-visible text may use to slip a name past a plain match.
_HOMOGLYPHS = str.maketrans({
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "х": "x", "у": "y", "і": "i", "ј": "j", "ԁ": "d", "ѕ": "s", "ɡ": "g",
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C", "Т": "T", "Х": "X", "І": "I",
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T",
    "Υ": "Y", "Χ": "X", "ο": "o", "ν": "v", "α": "a", "ι": "i",
})

# Unambiguous vendor and model-family names: replaced however they are written.
_DISTINCT = (
    r"open\s?ai|anthropic|deep\s?mind|x\.?ai|alibaba(?:\s+cloud)?|deepseek(?:[\s-]?(?:ai|v\d|r\d|chat|coder))?|mistral\s?ai|meta\s?ai"
    r"|hugging\s?face|baidu|zhipu|chat\s?-?gpt(?:-?4o?)?|gpt\s?-?[345](?:\.5)?o?(?:-?(?:turbo|mini))?|text-davinci-00[23]"
    r"|davinci(?:-?00[23])?|claude(?:[\s-]?\d(?:\.\d)?)?|llama\s?-?[1-4](?:\.\d)?|mixtral|qwen(?:\s?-?\d(?:\.\d)?)?|vicuna"
    r"|ernie\s?bot|command[\s-]r\+?"
)
# Names that are also ordinary words: replaced when written as a name (capitalised, not the start of a
# hyphenated word), and in any case inside an identity phrase ("i am grok", "made by meta").
_AMBIGUOUS = r"Google(?:\s+DeepMind)?|Meta|Microsoft|Cohere|Bard|Gemini|PaLM(?:\s?2)?|Grok|Mistral|Llama|LLaMA|Alpaca|Copilot|Bing|LIMA"
_ANY_NAME = rf"(?:{_DISTINCT}|{_AMBIGUOUS.lower()})"
_VENDOR_OR_NAME = rf"(?:the\s+)?(?:team\s+(?:at|of)\s+)?{_ANY_NAME}"
_I_AM = r"(?:i\s+am|i'm|i’m|im|my\s+name\s+is|you'?re\s+(?:talking|chatting)\s+(?:to|with))"

_PATTERNS = [
    ("ai_disclaimer", re.compile(
        rf"\bas\s+an?\s+(?:ai|artificial\s+intelligence)(?:\s+language\s+model|\s+assistant|\s+model|\s+chatbot)?"
        rf"(?:[\s,]+(?:developed|created|trained|made|built|designed)\s+by\s+{_VENDOR_OR_NAME})?(?:\s*\([^)]*\))?")),
    ("identity", re.compile(
        rf"\b{_I_AM}\s+(?:an?\s+)?(?:{_ANY_NAME}|(?:ai\s+)?(?:language\s+)?model\s+(?:developed|created|trained|made|built)\s+by\s+{_VENDOR_OR_NAME})\b"
        rf"|\bthis\s+is\s+(?:{_DISTINCT})\b")),
    ("vendor_attribution", re.compile(
        rf"\b(?:developed|created|trained|made|built|designed|brought\s+to\s+you)\s+by\s+{_VENDOR_OR_NAME}\b"
        rf"|\b(?:model|assistant|ai|chatbot)\s+(?:from|by|of)\s+{_VENDOR_OR_NAME}\b")),
    ("self_reference", re.compile(rf"\b(?:{_DISTINCT})\s+(?:here|says|speaking|responding|answering)\b")),
    ("model_name", re.compile(rf"\b(?:{_DISTINCT})\b")),
]
_CAPITALISED_NAME = re.compile(rf"\b(?:{_AMBIGUOUS})\b(?!-)")


@dataclass(frozen=True)
class Replacement:
    rule: str
    original: str
    start: int

    def as_dict(self) -> dict:
        return asdict(self)


def _fold(text: str) -> tuple[str, list[int], str]:
    """(folded lower-case text, index of each folded character in `text`, folded text with case kept)."""
    folded: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        if unicodedata.category(char) == "Cf":
            continue  # zero-width joiners, soft hyphens, bidi marks: invisible, so they split no word
        for piece in unicodedata.normalize("NFKC", char.translate(_HOMOGLYPHS)).translate(_HOMOGLYPHS):
            folded.append(piece)
            origin.append(index)
    cased = "".join(folded)
    return cased.lower(), origin, cased


@lru_cache(maxsize=4096)
def _registered_name_pattern(name: str) -> re.Pattern | None:
    """A registered model name, folded once (a study build scrubs every response against every name)."""
    folded = _fold(name)[0].strip()
    return re.compile(rf"(?<![\w-]){re.escape(folded)}(?![\w-])") if len(folded) >= 3 else None


def _spans(text: str, extra_names: Iterable[str]) -> list[tuple[int, int, str]]:
    """Original-text spans to replace, each with the rule that found it; overlapping spans merged."""
    lowered, origin, cased = _fold(text)
    found: list[tuple[int, int, str]] = []
    for rule, pattern in _PATTERNS:
        found += [(m.start(), m.end(), rule) for m in pattern.finditer(lowered)]
    found += [(m.start(), m.end(), "model_name") for m in _CAPITALISED_NAME.finditer(cased)]
    for name in extra_names:
        pattern = _registered_name_pattern(name)
        if pattern:
            found += [(m.start(), m.end(), "registered_model") for m in pattern.finditer(lowered)]
    merged: list[tuple[int, int, str]] = []
    for start, end, rule in sorted(found, key=lambda span: (span[0], -span[1])):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]), merged[-1][2])
        else:
            merged.append((start, end, rule))
    return [(origin[start], origin[end - 1] + 1, rule) for start, end, rule in merged if end > start]


def scrub_self_identification(text: str, *, model_names: Iterable[str] = ()) -> tuple[str, list[Replacement]]:
    """The text with self-identifying phrases replaced by MARKER, and what was replaced.

    `model_names`: the registered names of the study's models (and their served names), found
    however they are written, in addition to the built-in vendor and model families.
    """
    spans = _spans(text, list(model_names))
    pieces: list[str] = []
    replacements: list[Replacement] = []
    position = 0
    for start, end, rule in spans:
        pieces += [text[position:start], MARKER]
        replacements.append(Replacement(rule=rule, original=text[start:end], start=start))
        position = end
    pieces.append(text[position:])
    return "".join(pieces), replacements


# What a scrubbed text may still say about being a model: not removed (it can be honest content), but
# an item that says it is held for a researcher to look at before annotators see it.
_RESIDUAL = re.compile(
    r"\b(?:as\s+an?\s+(?:ai|language\s+model|llm|large\s+language\s+model)|i\s+am\s+an?\s+(?:ai|llm|large\s+language\s+model|language\s+model)"
    r"|my\s+(?:training\s+data|knowledge\s+cutoff|creators|developers)|i\s+was\s+(?:trained|created|developed|built)\s+by)\b"
)


def still_self_identifying(text: str) -> bool:
    """Does the (scrubbed) text still talk about being a model? Researchers decide on such items."""
    return bool(_RESIDUAL.search(_fold(text)[0]))
