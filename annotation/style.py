"""Live style checks for authored examples, drawn from LIMA's curation rules (no Django import).

They warn, they never block: LIMA's responses share one helpful-assistant style (acknowledge
the question, then answer; no first person; no links or images; a length typical of the source).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from annotation import paper


@dataclass(frozen=True)
class StyleWarning:
    code: str
    turn: int  # 1-based position of the turn the warning is about
    message: str


_FIRST_PERSON = re.compile(r"\b(I|I'm|I've|I'd|I'll|[Mm]e|[Mm]y|[Mm]ine|[Mm]yself)\b")
_LINK = re.compile(r"(https?://|www\.)\S+|\[[^\]]*\]\([^)]*\)|<a\s", re.IGNORECASE)
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)|<img\b", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]+")
_STOPWORDS = frozenset(
    """a an and are as at be but by can could do does for from had has have how i if in into is it its
    me my of on or should so than that the their them then there these they this to was we what when
    where which who why will with would you your about any some more most much many write give tell""".split()
)
_ACKNOWLEDGEMENTS = (
    "sure", "certainly", "of course", "absolutely", "yes", "no", "great question", "good question", "here",
    "there are", "there is", "it depends", "thanks", "thank you", "happy to", "glad to", "unfortunately",
    "sorry", "as an ai", "dear", "title:", "once upon",
)
_ARTICLE_OPENING = re.compile(r"^\s*this (article|wikihow|page|post)\b", re.IGNORECASE)


def _content_stems(text: str) -> set[str]:
    return {word.lower()[:5] for word in _WORD.findall(text) if word.lower() not in _STOPWORDS and len(word) > 3}


def _opening(text: str) -> str:
    first = re.split(r"(?<=[.!?:])\s|\n", text.strip(), maxsplit=1)[0]
    return first[:300]


def opens_by_addressing(prompt: str, response: str) -> bool:
    """Does the response's first sentence take up the question (shared content words) or acknowledge it?"""
    opening = _opening(response)
    lowered = opening.lower().lstrip("#*> ")
    if any(lowered.startswith(phrase) for phrase in _ACKNOWLEDGEMENTS):
        return True
    prompt_stems = _content_stems(prompt)
    return not prompt_stems or bool(prompt_stems & _content_stems(opening))


def length_range(source: str) -> tuple[str, int, int] | None:
    """(unit, low, high) of a typical response for the source, or None where the paper gives none."""
    if source.startswith("stackexchange"):
        low, high = paper.STACKEXCHANGE_ANSWER_CHARS
        return ("characters", low, high)
    typical = paper.TYPICAL_RESPONSE_TOKENS.get(source)
    if typical is None:
        return None
    return ("tokens", typical // 4, typical * 4)


def check_style(
    *, turns: Sequence[tuple[str, str]], source: str, token_counts: Sequence[int], is_refusal: bool = False
) -> list[StyleWarning]:
    """Warnings for a conversation given as (role, text) pairs, with each turn's token count."""
    warnings: list[StyleWarning] = []
    previous_user = ""
    for index, (role, text) in enumerate(turns):
        position = index + 1
        if role == "user":
            previous_user = text
            continue
        if not text.strip():
            continue
        if match := _FIRST_PERSON.search(text):
            warnings.append(StyleWarning("first_person", position, f"Written in the first person (“{match.group(0)}”)."))
        if _IMAGE.search(text):
            warnings.append(StyleWarning("image", position, "Contains an image; LIMA strips images from responses."))
        if _LINK.search(_IMAGE.sub("", text)):
            warnings.append(StyleWarning("link", position, "Contains a link; LIMA strips links from responses."))
        if _ARTICLE_OPENING.match(text):
            warnings.append(StyleWarning("article_opening", position, "Opens with “This article…”; use an assistant-style opening."))
        elif not is_refusal and previous_user.strip() and not opens_by_addressing(previous_user, text):
            warnings.append(
                StyleWarning("opening", position, "Does not open by addressing the question; acknowledge it, then answer.")
            )
        if (bounds := length_range(source)) is not None:
            unit, low, high = bounds
            size = len(text) if unit == "characters" else token_counts[index]
            if not low <= size <= high:
                warnings.append(
                    StyleWarning(
                        "length",
                        position,
                        f"{size:,} {unit}: outside the usual {low:,}–{high:,} {unit} for this source.",
                    )
                )
    return warnings
