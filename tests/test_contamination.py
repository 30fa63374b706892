"""Contamination: dev and test prompts that duplicate training prompts (exact, normalised, MinHash near
duplicates) are listed on the dashboard for researchers and stop a snapshot from being frozen unconfirmed."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from annotation.contamination import EXACT, NEAR, NORMALISED, Prompt, find_contamination, normalise
from annotation.datasets.models import Dataset
from annotation.datasets.services import freeze_dataset
from annotation.models import Status
from tests.builders import example

TRAINING = [
    Prompt(1, "train", "How do I make a sourdough starter from scratch at home?"),
    Prompt(2, "train", "Explain the difference between a virus and a bacterium to a child."),
    Prompt(3, "train", "Write a short poem about the sea at night, with a storm coming."),
    Prompt(4, "train", "What are good exercises for lower back pain after sitting all day?"),
]


def test_each_level_is_found_once_and_unrelated_prompts_are_not():
    evaluated = [
        Prompt(10, "test", "How do I make a sourdough starter from scratch at home?"),
        Prompt(11, "test", "  EXPLAIN the difference between a virus and a bacterium, to a child!! "),
        Prompt(12, "test", "Write a short poem about the sea at night, with a storm approaching."),
        Prompt(13, "test", "Which programming language should I learn first for data analysis?"),
        Prompt(14, "dev", "What are good exercises for lower back pain?"),
    ]
    matches = find_contamination(TRAINING, evaluated)
    assert [(m.evaluated.example_id, m.training.example_id, m.kind) for m in matches] == [
        (10, 1, EXACT), (11, 2, NORMALISED), (12, 3, NEAR)]
    assert 0.7 <= matches[2].similarity < 1


def test_a_test_prompt_asked_later_in_a_training_dialogue_is_found_at_its_strongest_turn():
    """Every user turn of a training dialogue is a prompt it was trained on; a pair names the one turn that matches
    most strongly (one pair per training example)."""
    dialogue = [Prompt(5, "train", "Hi! Could you help me plan my studies this year?", 0),
                Prompt(5, "train", "Which programming language should I learn first for data analysis?", 2),
                Prompt(5, "train", "Which programming language should I learn first for data analysis, and why?", 4),
                Prompt(6, "train", "Tell me about the history of the printing press in Europe.", 0),
                Prompt(6, "train", "What changed for ordinary readers in the sixteenth century after it?", 2),
                Prompt(6, "train", "What changed for ordinary readers in the sixteenth century after that?", 4)]
    evaluated = [Prompt(13, "test", "Which programming language should I learn first for data analysis?"),
                 Prompt(15, "test", "What changed for ordinary readers in the sixteenth century after that invention?")]
    matches = find_contamination([*TRAINING, *dialogue], evaluated)
    assert [(m.evaluated.example_id, m.training.example_id, m.training.position, m.kind) for m in matches] == [
        (13, 5, 2, EXACT), (15, 6, 4, NEAR)], matches
    from annotation.contamination import jaccard, normalise as folded, shingles

    similarities = {turn.position: jaccard(shingles(folded(evaluated[1].text)), shingles(folded(turn.text))) for turn in dialogue[4:]}
    assert min(similarities.values()) >= 0.7 and matches[1].similarity == round(max(similarities.values()), 3)


def test_normalisation_folds_case_punctuation_spacing_and_unicode_forms():
    assert normalise("Ｗhat  is 2+2?") == normalise("what is 2 + 2") == "what is 2 2"


@pytest.mark.django_db
def test_dashboard_lists_pairs_for_researchers_and_hides_test_prompts_from_authors(client, researcher, author):
    example(user=author, status=Status.APPROVED, turns=(TRAINING[0].text, "Mix flour and water..."))
    example(user=author, status=Status.SUBMITTED, split="test", turns=("how do I make a SOURDOUGH starter from scratch at home",))
    example(user=author, status=Status.REJECTED, split="test", turns=(TRAINING[0].text,))
    client.force_login(researcher)
    page = client.get(reverse("annotation:dashboard")).content.decode()
    assert "1 of 1 dev/test prompt duplicates training prompts" in page
    assert page.count('data-kind="normalised"') == 1 and 'data-kind="exact"' not in page
    client.force_login(author)
    page = client.get(reverse("annotation:dashboard")).content.decode()
    assert 'id="contamination"' not in page and "SOURDOUGH" not in page


@pytest.mark.django_db
def test_the_dashboard_checks_every_user_turn_of_a_dialogue(client, researcher, author):
    example(user=author, status=Status.APPROVED, turns=("Hello, can you help with baking?", "Of course.",
                                                         TRAINING[0].text, "Mix flour and water...", "Thanks!", "Welcome."))
    example(user=author, status=Status.APPROVED, split="test", turns=(TRAINING[0].text,))
    client.force_login(researcher)
    page = client.get(reverse("annotation:dashboard")).content.decode()
    assert "1 of 1 dev/test prompt duplicates training prompts" in page and page.count('data-kind="exact"') == 1
    assert " turn 3: How do I make a sourdough starter" in page


@pytest.mark.django_db
def test_a_contaminated_snapshot_is_refused_with_its_pairs_until_confirmed(client, researcher, author):
    train = example(user=author, status=Status.APPROVED, turns=(TRAINING[2].text, "Waves..."))
    test = example(user=author, status=Status.APPROVED, split="test",
                   turns=("Write a short poem about the sea at night, with a storm approaching.",))
    with pytest.raises(ValidationError) as refused:
        freeze_dataset(name="test-v1", split="test", user=researcher)
    message = refused.value.message_dict["accept_contamination"][0]
    assert f"test example {test.pk} ~ train example {train.pk} (near, 0." in message
    client.force_login(researcher)
    page = client.post(reverse("datasets:dataset_freeze"), {"name": "train-v1", "split": "train"})
    assert page.status_code == 422 and "duplicate dev/test prompts" in page.content.decode()
    assert not Dataset.objects.exists()
    confirmed = client.post(reverse("datasets:dataset_freeze"), {"name": "train-v1", "split": "train", "accept_contamination": "on"})
    assert confirmed.status_code == 302 and Dataset.objects.get().row_count == 1
