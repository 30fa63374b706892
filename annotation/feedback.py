"""What the editor shows beside the text: sanitised preview, token counts and style warnings."""

from __future__ import annotations

from dataclasses import dataclass

from annotation.rendering import render_markdown
from annotation.services.examples import TurnInput
from annotation.style import StyleWarning, check_style
from tokenization.tokens import TokenizerMissing, count_tokens


@dataclass
class TurnFeedback:
    index: int
    role: str
    text: str
    html: str
    tokens: int | None
    warnings: list[StyleWarning]


@dataclass
class EditorFeedback:
    turns: list[TurnFeedback]
    total_tokens: int | None
    tokenizer_error: str = ""

    @property
    def warning_count(self) -> int:
        return sum(len(turn.warnings) for turn in self.turns)


def editor_feedback(*, turns: list[TurnInput], source: str, is_refusal: bool) -> EditorFeedback:
    tokenizer_error = ""
    try:
        counts: list[int | None] = list(count_tokens([turn.text for turn in turns]))
    except TokenizerMissing as exc:
        counts, tokenizer_error = [None] * len(turns), str(exc)
    warnings = check_style(
        turns=[(turn.role, turn.text) for turn in turns],
        source=source,
        token_counts=[count or 0 for count in counts],
        is_refusal=is_refusal,
    )
    feedback = [
        TurnFeedback(
            index=index, role=turn.role, text=turn.text, html=render_markdown(turn.text), tokens=counts[index],
            warnings=[w for w in warnings if w.turn == index + 1],
        )
        for index, turn in enumerate(turns)
    ]
    total = None if tokenizer_error else sum(count or 0 for count in counts)
    return EditorFeedback(turns=feedback, total_tokens=total, tokenizer_error=tokenizer_error)
