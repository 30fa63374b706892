"""Issue 17 figures: duplicates at import and train/test contamination found on a seeded set.

Seeded (random.Random(17)) synthetic prompts from a made-up vocabulary: 1,000 training prompts, and 300
test prompts of which 25 copy a training prompt exactly, 25 differ only in case, punctuation and spacing,
25 are near duplicates (one word replaced, or two adjacent letters swapped in one word and a word added), and
225 are new. Reported: what each level found, recall per planted kind, false alarms, seconds. Then the
import path on the same data: the training file imported twice and once re-saved (whitespace, NFD accents),
with the duplicates the importer reported.
"""

from __future__ import annotations

import io
import json
import random
import time
import unicodedata

from annotation.contamination import EXACT, NEAR, NORMALISED, Prompt, find_contamination

SEED = 17
TRAIN, TEST = 1000, 300
PLANTED = 25


def _vocabulary(rng: random.Random, size: int = 3000) -> list[str]:
    syllables = ["ka", "lo", "mi", "tru", "sen", "dar", "vo", "pel", "qui", "ran", "es", "to", "bli", "nor", "ga", "fé"]
    return ["".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))) for _ in range(size)]


def _prompt(rng: random.Random, words: list[str]) -> str:
    opening = rng.choice(["How do I", "Why does", "What is the best way to", "Can you explain why", "Write a story where"])
    return f"{opening} {' '.join(rng.choice(words) for _ in range(rng.randint(6, 18)))}?"


def _normalised_variant(rng: random.Random, text: str) -> str:
    changed = text.upper() if rng.random() < 0.5 else text.lower()
    return "  " + changed.replace(" ", "   ", 2).rstrip("?") + " !!"


def _near_variant(rng: random.Random, text: str, words: list[str]) -> str:
    tokens = text.rstrip("?").split()
    index = rng.randrange(3, len(tokens))
    if rng.random() < 0.5:
        tokens[index] = rng.choice(words)
    else:
        word = tokens[index]
        if len(word) > 3:
            tokens[index] = word[0] + word[2] + word[1] + word[3:]
        tokens.append(rng.choice(words))
    return " ".join(tokens) + "?"


def seeded_set() -> tuple[list[Prompt], list[Prompt], dict[int, str]]:
    rng = random.Random(SEED)
    words = _vocabulary(rng)
    training = [Prompt(i, "train", _prompt(rng, words)) for i in range(TRAIN)]
    planted: dict[int, str] = {}
    test: list[Prompt] = []
    sources = rng.sample(training, 3 * PLANTED)
    for n, source in enumerate(sources):
        kind = (EXACT, NORMALISED, NEAR)[n // PLANTED]
        text = {EXACT: source.text, NORMALISED: _normalised_variant(rng, source.text),
                NEAR: _near_variant(rng, source.text, words)}[kind]
        example_id = 10_000 + n
        planted[example_id] = kind
        test.append(Prompt(example_id, "test", text))
    test += [Prompt(20_000 + n, "test", _prompt(rng, words)) for n in range(TEST - 3 * PLANTED)]
    return training, test, planted


def _contamination() -> dict:
    import datasketch  # noqa: F401  (its import, ~2 s with scipy, is not part of the search)

    training, test, planted = seeded_set()
    started = time.perf_counter()
    matches = find_contamination(training, test)
    seconds = time.perf_counter() - started
    found = {}
    for match in matches:
        found.setdefault(match.evaluated.example_id, match.kind)
    recall = {kind: sum(1 for pk, k in planted.items() if k == kind and pk in found) / PLANTED
              for kind in (EXACT, NORMALISED, NEAR)}
    labelled_as = {kind: sum(1 for pk, k in planted.items() if k == kind and found.get(pk) == kind) for kind in planted.values()}
    near_similarities = sorted(m.similarity for m in matches if m.kind == NEAR)
    return {
        "training_prompts": len(training), "test_prompts": len(test), "planted_per_kind": PLANTED,
        "pairs_found": {kind: sum(1 for m in matches if m.kind == kind) for kind in (EXACT, NORMALISED, NEAR)},
        "recall": recall, "found_at_planted_level": labelled_as,
        "false_alarms": sum(1 for pk in found if pk not in planted),
        "near_similarity_min_median_max": [near_similarities[0], near_similarities[len(near_similarities) // 2],
                                           near_similarities[-1]] if near_similarities else None,
        "seconds": round(seconds, 3),
        "seconds_with_10x_training_prompts": round(_ten_times(training, test), 3),
    }


def _ten_times(training: list[Prompt], test: list[Prompt]) -> float:
    larger = [Prompt(n, "train", f"{prompt.text} {n}") for n, prompt in enumerate(training * 10)]
    started = time.perf_counter()
    find_contamination(larger, test)
    return time.perf_counter() - started


def _import_duplicates() -> dict:
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from annotation.datasets.formats import read_dataset
    from annotation.datasets.services import import_examples
    from annotation.models import Example

    training, _, _ = seeded_set()
    answers = [f"Answer number {p.example_id}: it depends on the café." for p in training[:200]]

    def lima_file(resaved: bool) -> bytes:
        rows = []
        for prompt, answer in zip(training[:200], answers):
            text = prompt.text
            if resaved:
                text, answer = f"  {text}  ", unicodedata.normalize("NFD", answer.replace(" ", "  "))
            rows.append(json.dumps({"conversations": [text, answer], "source": "authored"}, ensure_ascii=False))
        rows.append(rows[0])  # one row repeated inside the file
        return ("\n".join(rows) + "\n").encode()

    user, _ = get_user_model().objects.get_or_create(username="bench-contamination")
    results = {}
    sid = transaction.savepoint()
    try:
        for label, data in (("first", lima_file(False)), ("again", lima_file(False)), ("resaved", lima_file(True))):
            started = time.perf_counter()
            parsed = read_dataset(io.BytesIO(data), filename="seeded.jsonl")
            result = import_examples(rows=parsed.rows, user=user, status="approved")
            results[label] = {"rows": len(parsed.rows), "created": result.created, "duplicates": len(result.duplicates),
                              "exact": sum(d.exact for d in result.duplicates),
                              "normalised_only": sum(not d.exact for d in result.duplicates),
                              "seconds": round(time.perf_counter() - started, 3)}
        results["stored"] = Example.objects.filter(created_by=user).count()
    finally:
        transaction.savepoint_rollback(sid)
    return results


def run() -> dict:
    return {"contamination": _contamination(), "import_duplicates": _import_duplicates()}
