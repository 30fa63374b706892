"""Facts from the LIMA paper that the product uses as defaults (no Django import).

Table 1 gives the target mix of the dataset; the average lengths drive the authoring style
checks. These are defaults: quotas are editable in the dashboard.
"""

from __future__ import annotations

from dataclasses import dataclass

TRAIN, DEV, TEST = "train", "dev", "test"
SPLITS = ((TRAIN, "Train"), (DEV, "Dev"), (TEST, "Test"))

AUTHORED = "authored"
SOURCES = (
    ("stackexchange_stem", "Stack Exchange (STEM)"),
    ("stackexchange_other", "Stack Exchange (Other)"),
    ("stackexchange", "Stack Exchange (unclassified)"),
    ("wikihow", "wikiHow"),
    ("reddit_writingprompts", "Pushshift r/WritingPrompts"),
    ("reddit_askreddit", "Pushshift r/AskReddit"),
    ("natural_instructions", "Super-NaturalInstructions"),
    (AUTHORED, "Paper authors"),
    # Rows whose source is none of the above (a file that says "unknown", a team's own data), kept apart.
    ("other", "Other / unclassified"),
)
OTHER = "other"
SOURCE_KEYS = frozenset(key for key, _ in SOURCES)

# Names other exports use for the same sources (GAIR/lima, hand-made files).
SOURCE_ALIASES = {
    "stackexchange_stem": "stackexchange_stem",
    "stackexchange_other": "stackexchange_other",
    "stackexchange": "stackexchange",
    "wikihow": "wikihow",
    "reddit": "reddit_writingprompts",
    "writingprompts": "reddit_writingprompts",
    "reddit_writingprompts": "reddit_writingprompts",
    "askreddit": "reddit_askreddit",
    "reddit_askreddit": "reddit_askreddit",
    "nlp": "natural_instructions",
    "natural_instructions": "natural_instructions",
    "super_natural_instructions": "natural_instructions",
    "supernatural_instructions": "natural_instructions",
    "author": AUTHORED,
    "authored": AUTHORED,
    "authors": AUTHORED,
    "multi_turn": AUTHORED,
    "other": OTHER,
    "unclassified": OTHER,
}


def normalise_source(raw: str) -> str | None:
    """Our source key for a source name from a file, or None if it is not one we know."""
    return SOURCE_ALIASES.get(raw.strip().lower().replace("-", "_").replace(" ", "_").replace("/", "_"))


@dataclass(frozen=True)
class Table1Row:
    split: str
    source: str
    examples: int
    prompt_tokens: int
    response_tokens: int | None


TABLE_1 = (
    Table1Row(TRAIN, "stackexchange_stem", 200, 117, 523),
    Table1Row(TRAIN, "stackexchange_other", 200, 119, 530),
    Table1Row(TRAIN, "wikihow", 200, 12, 1811),
    Table1Row(TRAIN, "reddit_writingprompts", 150, 34, 274),
    Table1Row(TRAIN, "natural_instructions", 50, 236, 92),
    Table1Row(TRAIN, AUTHORED, 200, 40, 334),
    Table1Row(DEV, AUTHORED, 50, 36, None),
    Table1Row(TEST, "reddit_askreddit", 70, 30, None),
    Table1Row(TEST, AUTHORED, 230, 31, None),
)

# Flagged subsets of the training split (not extra rows of Table 1).
REFUSAL_TARGET = 13
MULTI_TURN_TARGET = 30

# Which splits an author group writes for: group A wrote train + dev, group B the test prompts.
GROUP_SPLITS = {"A": (TRAIN, DEV), "B": (TEST,)}

# Stack Exchange's answer-length rule is in characters; other sources are judged by tokens
# against Table 1's average response length (a quarter to four times the average).
STACKEXCHANGE_ANSWER_CHARS = (1200, 4096)
TYPICAL_RESPONSE_TOKENS = {row.source: row.response_tokens for row in TABLE_1 if row.response_tokens}
TYPICAL_RESPONSE_TOKENS["stackexchange"] = 527
