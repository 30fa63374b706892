"""Contamination: test and dev prompts that also sit, or nearly sit, in the training data (no Django import).

A prompt judged in a study must not have been trained on, or the win rate measures memory. Three levels, each
pair reported once at the strongest:

* exact: the same prompt text;
* normalised: equal once Unicode is folded (NFKC), case ignored, punctuation dropped and whitespace collapsed
  ("What is 2+2?" and "what is 2 + 2");
* near: a MinHash estimate (datasketch, LSH) of the Jaccard similarity of the prompts' character 5-grams over
  the normalised text finds candidates; the exact Jaccard of the 5-gram sets, at least `threshold`, confirms them.
  Character shingles catch a changed word or a typo that word shingles of a short prompt would not.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Iterable

EXACT, NORMALISED, NEAR = "exact", "normalised", "near"
DEFAULT_THRESHOLD = 0.7
NUM_PERM = 128
SHINGLE = 5
CANDIDATE_MARGIN = 0.2
_PUNCTUATION = re.compile(r"[^\w\s]", re.UNICODE)


@dataclass(frozen=True)
class Prompt:
    """One user turn: the first (the prompt) or a later one of a dialogue (position counts every turn from 0)."""

    example_id: int
    split: str
    text: str
    position: int = 0


@dataclass(frozen=True)
class Match:
    """An evaluation prompt (dev or test) and the training prompt it duplicates."""

    evaluated: Prompt
    training: Prompt
    kind: str
    similarity: float


def normalise(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_PUNCTUATION.sub(" ", folded).split())


def shingles(normalised: str) -> set[str]:
    if len(normalised) <= SHINGLE:
        return {normalised} if normalised else set()
    return {normalised[i:i + SHINGLE] for i in range(len(normalised) - SHINGLE + 1)}


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def find_contamination(training: Iterable[Prompt], evaluated: Iterable[Prompt], *, threshold: float = DEFAULT_THRESHOLD,
                       num_perm: int = NUM_PERM) -> list[Match]:
    """Every (evaluation prompt, training example) pair that is an exact, normalised or near duplicate, strongest first.

    A training example may give several prompts (each user turn of a dialogue): a pair names the one turn that
    matches most strongly."""
    from datasketch import MinHash, MinHashLSH

    training = list(training)
    exact: dict[str, list[Prompt]] = {}
    by_normal: dict[str, list[Prompt]] = {}
    shingled: dict[tuple[int, int], set[str]] = {}
    # LSH tuned below the threshold: a pair just above it is missed by LSH at its own threshold now and then, and the
    # exact Jaccard below discards the extra candidates.
    lsh = MinHashLSH(threshold=max(0.3, threshold - CANDIDATE_MARGIN), num_perm=num_perm)
    for prompt in training:
        exact.setdefault(prompt.text, []).append(prompt)
        normal = normalise(prompt.text)
        by_normal.setdefault(normal, []).append(prompt)
        shingled[_key(prompt)] = shingles(normal)
    signatures = _minhashes(MinHash, [shingled[_key(prompt)] for prompt in training], num_perm)
    with lsh.insertion_session() as session:
        for prompt, signature in zip(training, signatures):
            session.insert(_key(prompt), signature)
    training_by_key = {_key(prompt): prompt for prompt in training}
    matches: list[Match] = []
    evaluated = list(evaluated)
    normals = [normalise(prompt.text) for prompt in evaluated]
    eval_shingles = [shingles(normal) for normal in normals]
    for prompt, normal, grams, signature in zip(evaluated, normals, eval_shingles,
                                                _minhashes(MinHash, eval_shingles, num_perm)):
        found: dict[int, Match] = {}  # by training example: its strongest turn
        for other in exact.get(prompt.text, []):
            found.setdefault(other.example_id, Match(prompt, other, EXACT, 1.0))
        for other in by_normal.get(normal, []):
            found.setdefault(other.example_id, Match(prompt, other, NORMALISED, 1.0))
        for key in lsh.query(signature):
            held = found.get(key[0])
            if held is not None and held.kind != NEAR:
                continue
            similarity = jaccard(grams, shingled[key])
            if similarity >= threshold and (held is None or similarity > held.similarity):
                found[key[0]] = Match(prompt, training_by_key[key], NEAR, round(similarity, 3))
        matches.extend(found.values())
    order = {EXACT: 0, NORMALISED: 1, NEAR: 2}
    return sorted(matches, key=lambda m: (order[m.kind], -m.similarity, m.evaluated.example_id, m.training.example_id))


def _key(prompt: Prompt) -> tuple[int, int]:
    return prompt.example_id, prompt.position


def _minhashes(minhash_class, shingle_sets: list[set[str]], num_perm: int) -> list:
    """One MinHash per set, built in bulk (datasketch hashes a batch of shingles at once)."""
    return list(minhash_class.generator(
        [[gram.encode() for gram in grams] for grams in shingle_sets], num_perm=num_perm,
    )) if shingle_sets else []
