"""A determined annotator attacks blindness with only what an annotator can fetch.

The attacker reads the judging API as its own account (items, progress totals, item ids, the
order items come in) and knows the code, which is open. It tries to tell which side holds the
target model's response:

- replaying the item builder's random generator (a seed it guesses, or brute-forces from a few
  sides it learnt elsewhere) against the serving order and the totals it sees;
- matching responses across items: with several baselines the target's response is the same in
  every item of a prompt, so a response seen twice is the target's;
- reading bits of what it is shown: the item token, its position in the queue.

Over 840 items, no attack may be right more often than chance allows: a fair coin's share of right
guesses stays below the ceiling (58.8% at 840 guesses) except with probability 1e-6 per run, all six
checks together (the ceiling was a fixed 57% over 420 items, which a fair coin passes 0.3% of the time:
with six checks a run, one false alarm in ~55 runs, and CI met one: the queue-position guess at 57.4%). A corpus of self-identification
phrasings checks that none reaches an annotator, judged by an oracle written here, apart from
the scrubber.
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections import Counter
from statistics import NormalDist

import pytest
from django.urls import reverse

from annotation.evaluation.models import ComparisonItem, Study
from tests.builders import pairwise_study

CHANCE_CHECKS = 6  # five attacks in the first test, one in the second
FALSE_ALARM = 1e-6 / CHANCE_CHECKS  # so that a fair coin fails a run (any of its checks) once in a million runs
PROMPTS_ONE_BASELINE = 840
PROMPTS_TWO_BASELINES = 420


def chance_ceiling(guesses: int) -> float:
    """The share of right guesses a fair coin exceeds with probability FALSE_ALARM (normal approximation of the
    binomial; at 840 guesses it is 5.1 standard deviations of 1.7 points above one half, 58.8%)."""
    return 0.5 + NormalDist().inv_cdf(1 - FALSE_ALARM) * (0.25 / guesses) ** 0.5


def _serve_everything(client, study: Study) -> list[dict]:
    """Judge every item the API hands out ("tie", which says nothing), keeping what each answer showed."""
    url = reverse("api:judging", args=[study.public_id])
    seen = []
    shown = client.get(url).json()
    while shown["item"]:
        seen.append(shown)
        shown = client.post(url, {"item": shown["item"], "choice": "tie"}, content_type="application/json").json()
    return seen


def _truth(study: Study) -> dict[str, bool]:
    return {str(public_id): target_is_a for public_id, target_is_a in study.items.values_list("public_id", "target_is_a")}


def _accuracy(guesses: dict[str, bool], truth: dict[str, bool]) -> float:
    return sum(guesses[item] == truth[item] for item in guesses) / len(guesses)


def _replayed_sides(seed: int, total: int) -> list[bool]:
    """The serving-order sides an item builder seeded with `seed` would draw (random.Random, as the code once did):
    a shuffled order, then one coin per item in build order; the k-th item served has order key k."""
    rng = random.Random(seed)
    order = list(range(total))
    rng.shuffle(order)
    coins = [rng.random() < 0.5 for _ in range(total)]
    by_key = [False] * total
    for position, key in enumerate(order):
        by_key[key] = coins[position]
    return by_key


def _replay_attack(seen: list[dict], *, seeds, known: int = 20) -> dict[str, bool]:
    """Try seeds against `known` sides learnt elsewhere (leaks, say); guess the rest from the best match."""
    total = seen[0]["total"]
    truth_sample = seen[:known]  # the attacker is generous to itself: the first sides are "known"
    study_truth = {entry["item"]: entry["_target_is_a"] for entry in truth_sample}
    best_seed, best_hits = None, -1
    for seed in seeds:
        replayed = _replayed_sides(seed, total)
        hits = sum(replayed[k] == study_truth[entry["item"]] for k, entry in enumerate(truth_sample))
        if hits > best_hits:
            best_seed, best_hits = seed, hits
    replayed = _replayed_sides(best_seed, total)
    return {entry["item"]: replayed[k] for k, entry in enumerate(seen) if k >= known}


@pytest.fixture
def attacker(make_user):
    return make_user("annotator", username="mallory")


@pytest.mark.django_db
def test_replaying_the_generator_or_reading_tokens_and_positions_guesses_no_better_than_chance(client, researcher, attacker):
    study = pairwise_study(researcher=researcher, annotators=[attacker], prompts=PROMPTS_ONE_BASELINE, baselines=("davinci-003",),
                           agreement_subset=0, name="replay")
    client.force_login(attacker)
    seen = _serve_everything(client, study)
    truth = _truth(study)
    assert len(seen) == len(truth) >= 400
    for entry in seen:
        entry["_target_is_a"] = truth[entry["item"]]
    attacks = {
        # The seed the code used to default to, the test builder's, and a brute force over small seeds.
        "replay, default seed": _replay_attack(seen, seeds=[0], known=0),
        "replay, builder's seed": _replay_attack(seen, seeds=[11], known=0),
        "replay, brute-forced seed": _replay_attack(seen, seeds=range(2000)),
        "item token's first bit": {entry["item"]: int(entry["item"][0], 16) >= 8 for entry in seen},
        "position in the queue": {entry["item"]: k % 2 == 0 for k, entry in enumerate(seen)},
    }
    accuracy = {name: _accuracy(guesses, truth) for name, guesses in attacks.items()}
    print("attack accuracy:", {name: round(value, 3) for name, value in accuracy.items()})
    # Each attack against the ceiling for its own number of guesses (the brute force guesses fewer items than it sees).
    assert all(value <= chance_ceiling(len(attacks[name])) for name, value in accuracy.items()), accuracy


@pytest.mark.django_db
def test_a_response_seen_twice_does_not_give_the_target_away(client, researcher, attacker, make_user):
    partner = make_user("annotator", username="mallory2")
    study = pairwise_study(researcher=researcher, annotators=[attacker, partner], prompts=PROMPTS_TWO_BASELINES,
                           agreement_subset=0, name="repeat")
    guesses, texts_per_prompt = {}, Counter()
    for annotator in (attacker, partner):  # each attacks alone with what it saw
        client.force_login(annotator)
        seen = _serve_everything(client, study)
        counts = Counter(text for entry in seen for text in (entry["response_a"], entry["response_b"]))
        texts_per_prompt.update(Counter(tuple(entry["conversation"]) for entry in seen).values())
        for entry in seen:
            a, b = counts[entry["response_a"]], counts[entry["response_b"]]
            # The target's response is the one that comes back; with nothing repeated, a coin.
            guesses[entry["item"]] = a > b if a != b else random.random() < 0.5
    truth = _truth(study)
    assert len(guesses) == len(truth) >= 400
    accuracy = _accuracy(guesses, truth)
    print(f"repeated-response attack: {accuracy:.3f} over {len(guesses)} items; prompts seen per annotator: {dict(texts_per_prompt)}")
    assert accuracy <= chance_ceiling(len(guesses))


# --- self-identification -------------------------------------------------------------------------

# Look-alike letters used below, written out here (not taken from the scrubber).
_CONFUSABLE = {"С": "C", "с": "c", "а": "a", "о": "o", "е": "e", "Р": "P", "р": "p", "Т": "T", "Ο": "O", "Ι": "I", "і": "i"}

# (phrasing, the names in it that must not reach an annotator)
CORPUS = [
    ("As an AI language model developed by OpenAI, I cannot browse.", ["openai"]),
    ("I'm GPT-4o, a model by OpenAI.", ["gpt4o", "openai"]),
    ("Answer from a model from openai.", ["openai"]),
    ("chatgpt here, happy to help", ["chatgpt"]),
    ("I am Grok, built by xAI.", ["grok", "xai"]),
    ("Chat\u200bGPT can explain it.", ["chatgpt"]),
    ("The team at OpenAI trained me.", ["openai"]),
    ("Made by Anthropic, with care.", ["anthropic"]),
    ("I'm Qwen, a large language model.", ["qwen"]),
    ("gpt4 says: drink water.", ["gpt4"]),
    ("I am Claude, an AI assistant.", ["claude"]),
    ("I'm claude 3.5 and I think so.", ["claude"]),
    ("As an AI developed by Anthropic, I think so.", ["anthropic"]),
    ("I am ChatGPT.", ["chatgpt"]),
    ("CHATGPT RESPONDS: yes.", ["chatgpt"]),
    ("I am GPT-3.5-turbo.", ["gpt35"]),
    ("Hi, I'm GPT-4!", ["gpt4"]),
    ("I'm Gemini, made by Google.", ["gemini", "google"]),
    ("I am Bard, Google's assistant.", ["bard"]),
    ("I'm an AI model trained by Google DeepMind.", ["deepmind"]),
    ("I am LLaMA 2, created by Meta.", ["llama2", "meta"]),
    ("Built by Meta AI, I answer briefly.", ["metaai"]),
    ("I'm Llama 3.1.", ["llama31"]),
    ("I am Mistral, made by Mistral AI.", ["mistral"]),
    ("I'm Mixtral 8x7B.", ["mixtral"]),
    ("This is DeepSeek-V3 answering.", ["deepseek"]),
    ("I am DeepSeek, created by DeepSeek AI.", ["deepseek"]),
    ("I'm Command R+, by Cohere.", ["commandr", "cohere"]),
    ("I am a model developed by Alibaba Cloud.", ["alibaba"]),
    ("I am Qwen2.5, developed by Alibaba.", ["qwen", "alibaba"]),
    ("Trained by OpenAI, I know until 2023.", ["openai"]),
    ("open ai made me.", ["openai"]),
    ("OpenAI's ChatGPT at your service.", ["openai", "chatgpt"]),
    ("I'm ＣｈａｔＧＰＴ (full width).", ["chatgpt"]),
    ("I am \u0421hatGPT with a Cyrillic C.", ["chatgpt"]),
    ("I am Ch\u0430tGPT with a Cyrillic a.", ["chatgpt"]),
    ("I'm Cl\u0430ude, nice to meet you.", ["claude"]),
    ("I am G\u0420T-4.", ["gpt4"]),
    ("Anthr\u043epic built me.", ["anthropic"]),
    ("Open\u00adAI (soft hyphen) trained me.", ["openai"]),
    ("Chat\u2060GPT (word joiner) is here.", ["chatgpt"]),
    ("Chat\u200dGPT (zero-width joiner) is here.", ["chatgpt"]),
    ("C\u200bl\u200ba\u200bu\u200bd\u200be says hi.", ["claude"]),
    ("I am text-davinci-003.", ["davinci"]),
    ("I'm davinci-003, an InstructGPT model.", ["davinci"]),
    ("My name is Vicuna.", ["vicuna"]),
    ("I'm Alpaca, fine-tuned from LLaMA.", ["alpaca", "llama"]),
    ("You're talking to Copilot.", ["copilot"]),
    ("I am Bing Chat.", ["bing"]),
    ("I am ERNIE Bot, from Baidu.", ["erniebot", "baidu"]),
    ("I'm PaLM 2, a Google model.", ["palm2"]),
    ("I'm a chatbot from Microsoft.", ["microsoft"]),
    ("As LIMA, I answer in a helpful style.", ["lima"]),
    ("I am Phi, no: I am GPT-4o mini.", ["gpt4omini"]),
    ("I'm the lima-65b model you registered.", ["lima65b"]),
    ("Greetings from davinci-003-baseline.", ["davinci"]),
]
# Names that are also ordinary words are looked for as whole words; every other name anywhere in the
# text once it is squashed to letters and digits ("Chat GPT-4o" -> "chatgpt4o").
_WORD_NAMES = {"grok", "xai", "meta", "google", "bard", "gemini", "mistral", "alpaca", "copilot", "bing", "microsoft", "cohere",
               "lima", "llama"}


PRODUCT_NAME = "lima-studio"


def _squashed(text: str) -> str:
    """Letters and digits only, lower case, look-alikes mapped, invisible characters gone."""
    text = unicodedata.normalize("NFKC", "".join(_CONFUSABLE.get(char, char) for char in text))
    return re.sub(r"[^0-9a-z]", "", text.lower())


def _words(text: str) -> set[str]:
    text = unicodedata.normalize("NFKC", "".join(_CONFUSABLE.get(char, char) for char in text if unicodedata.category(char) != "Cf"))
    return set(re.findall(r"[0-9a-z]+", text.lower()))


def _reaches(name: str, text: str) -> bool:
    return name in _words(text) if name in _WORD_NAMES else name in _squashed(text)


def _visible_text(page: str) -> tuple[str, str]:
    """A page's text as a reader sees it, apart from the judging area, and the judging area's (no tags, no attributes,
    no scripts or styles)."""
    import lxml.html

    document = lxml.html.document_fromstring(page)
    for element in document.xpath("//script | //style"):
        element.drop_tree()
    area = document.get_element_by_id("judge-area")
    item_area = area.text_content()
    area.drop_tree()
    return document.text_content(), item_area


def test_the_oracle_sees_every_name_in_the_raw_corpus():
    """The check below can fail: every phrasing, unscrubbed, shows its names to this oracle."""
    assert len(CORPUS) >= 50
    for phrase, names in CORPUS:
        assert all(_reaches(name, phrase) for name in names), phrase


@pytest.mark.django_db
def test_no_self_identification_in_the_corpus_reaches_an_annotator(client, researcher, attacker):
    phrases = [phrase for phrase, _ in CORPUS]
    study = pairwise_study(researcher=researcher, annotators=[attacker], prompts=len(phrases), baselines=("davinci-003-baseline",),
                           agreement_subset=0, name="corpus", open_it=False)
    run = study.baseline_runs.get()
    for response in run.responses.select_related("row"):
        response.text = f"Here is my answer. {phrases[response.row.position]} The rest is content."
        response.save(update_fields=["text"])
    from annotation.evaluation.services.judging import open_study

    open_study(study=study)
    client.force_login(attacker)
    page = client.get(reverse("evaluation:judge", args=[study.public_id])).content.decode()
    seen = _serve_everything(client, study)
    shown = {entry["conversation"][0]: entry["response_a"] + "\n" + entry["response_b"] for entry in seen}
    # The page showed the first item the API then handed out again. What the annotator reads there is the page's text
    # (tags, attributes and the CSRF token are not: "<meta" once counted as the name Meta, and the product's name
    # "lima-studio" in the title and header as LIMA, whenever the item naming them came first, one run in 56).
    # The page around the item is the same for every item, so it is checked on its own, every run, and the item's area
    # is counted with the first item.
    chrome, item_area = _visible_text(page)
    assert chrome.count(PRODUCT_NAME) == 2, "the brand is expected in the title and the header only"
    assert not [name for _, names in CORPUS for name in names if _reaches(name, chrome.replace(PRODUCT_NAME, ""))], chrome
    shown[seen[0]["conversation"][0]] += item_area
    by_position = {row.position: row.conversations[0] for row in study.dataset.rows.all()}
    leaks = []
    for position, (phrase, names) in enumerate(CORPUS):
        leaks += [f"{name!r} from {phrase!r}" for name in names if _reaches(name, shown[by_position[position]])]
    print(f"{len(leaks)} names reached the annotator, from {len({leak.split(' from ')[1] for leak in leaks})} of {len(CORPUS)} phrasings")
    assert len(seen) == len(CORPUS) and not leaks, leaks
    assert ComparisonItem.objects.filter(study=study).exclude(scrubbed=[]).count() == len(CORPUS)
