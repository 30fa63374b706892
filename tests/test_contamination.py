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
