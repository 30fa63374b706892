"""Tokenised training examples with the loss on assistant turns only (no Django, no torch).

LIMA trains with the standard supervised loss on the responses. The text is the chat template of
tokenization.chat (BOS, then each utterance followed by EOT); user turns and BOS are context
(label IGNORE), assistant turns *and their EOT* are targets, so the model learns to end its turn.
Utterances are tokenised one by one: EOT and BOS are special tokens, which split the text before
BPE runs, so the pieces are exactly the tokens of the whole rendered conversation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

IGNORE = -100


@dataclass(frozen=True)
class TokenizedExample:
    input_ids: list[int]
    labels: list[int]

    @property
    def target_tokens(self) -> int:
        return sum(1 for label in self.labels if label != IGNORE)


def build_example(utterances: Sequence[str], *, encode: Callable[[str], list[int]], bos_id: int, eot_id: int,
                  max_length: int) -> TokenizedExample:
    """Input ids and labels of one conversation (user, assistant, user, ...), trimmed to max_length.

    LIMA trims texts over 2,048 tokens: the tail is cut, so an over-long response loses its end.
    """
    input_ids = [bos_id]
    labels = [IGNORE]
    for index, utterance in enumerate(utterances):
        pieces = encode(utterance) + [eot_id]
        input_ids.extend(pieces)
        labels.extend(pieces if index % 2 == 1 else [IGNORE] * len(pieces))
    return TokenizedExample(input_ids=input_ids[:max_length], labels=labels[:max_length])


def pad_batch(examples: Sequence[TokenizedExample], *, pad_id: int) -> dict[str, list[list[int]]]:
    """Right-padded input ids, attention mask and labels (padding never counts in the loss)."""
    width = max(len(example.input_ids) for example in examples)
    batch = {"input_ids": [], "attention_mask": [], "labels": []}
    for example in examples:
        missing = width - len(example.input_ids)
        batch["input_ids"].append(example.input_ids + [pad_id] * missing)
        batch["attention_mask"].append([1] * len(example.input_ids) + [0] * missing)
        batch["labels"].append(example.labels + [IGNORE] * missing)
    return batch
