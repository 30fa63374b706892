"""wikiHow importer: how-to prompts, cleaned bodies, category-first sampling, bad input (no database)."""

from __future__ import annotations

import json

import pytest

from annotation.importers import wikihow
from annotation.importers.batch import InputError
from annotation.importers.wikihow import WikiHowParams, import_wikihow
from tests.dumps import write_wikihow_csv

STEPS = "\n,Crack the eggs into a bowl.\nWhisk them with a pinch of salt until smooth.\n,Heat the pan.\n" + (
    "Melt a little butter over medium heat and pour in the eggs, tilting the pan so they cover it. " * 4)


def article(title: str, text: str = STEPS, headline: str = "Whisk, heat, fold.") -> dict:
    return {"headline": headline, "title": title, "text": text}


def test_title_becomes_a_how_to_question_and_body_the_response(tmp_path):
    path = write_wikihow_csv(tmp_path / "wikihowAll.csv", [article("How to Cook an Omelette1")])
    [candidate] = import_wikihow(path).candidates
    assert candidate.conversations[0] == "How to Cook an Omelette?"
    assert candidate.conversations[1].startswith("Crack the eggs into a bowl.\nWhisk them")
    assert candidate.source == "wikihow" and candidate.split == "train"
    assert candidate.provenance["url"] == "https://www.wikihow.com/Cook-an-Omelette"
    assert candidate.provenance["licence"] == "CC BY-NC-SA 3.0" and candidate.provenance["raw_response"] == STEPS


@pytest.mark.parametrize("title, prompt", [("Make Pancakes", "How to make Pancakes?"), ("How to Tie a Tie.", "How to Tie a Tie?"),
                                           ("How to Zip a Jacket12", "How to Zip a Jacket?")])
def test_titles_are_normalised_to_how_to_questions(title, prompt):
    assert wikihow.title_to_prompt(title) == prompt


def test_this_article_opening_is_rewritten_in_assistant_style(tmp_path):
    text = "This wikiHow teaches you how to fold a fitted sheet neatly.\n" + STEPS
    plain = "This article is about sheets.\n" + STEPS
    path = write_wikihow_csv(tmp_path / "a.csv", [article("How to Fold a Fitted Sheet", text), article("How to Store Sheets", plain)])
    responses = {c.conversations[0]: c.conversations[1] for c in import_wikihow(path).candidates}
    assert responses["How to Fold a Fitted Sheet?"].startswith("Here is how to fold a fitted sheet neatly.\n\nCrack the eggs")
    assert responses["How to Store Sheets?"].startswith("Here is how to store Sheets.\n\n")
    assert not any("This article" in r or "This wikiHow" in r for r in responses.values())


def test_links_images_and_boilerplate_sections_are_stripped(tmp_path):
    text = (STEPS + "\nSee [the guide](https://example.org/guide) or https://www.wikihow.com/Other.\n"
            "![A pan](https://www.wikihow.com/images/pan.jpg)\n## Tips\nUse a non-stick pan.\n## Serving\nServe warm.\n"
            "== Warnings ==\nHot butter spits.\n")
    path = write_wikihow_csv(tmp_path / "a.csv", [article("How to Cook an Omelette", text)])
    [candidate] = import_wikihow(path).candidates
    response = candidate.conversations[1]
    assert "See the guide or." in response and "Serve warm." in response
    for gone in ("http", "![", "pan.jpg", "Tips", "non-stick", "Warnings", "Hot butter"):
        assert gone not in response


def test_a_category_is_sampled_before_an_article(tmp_path):
    records = [{"title": f"How to Garden {i}x", "text": STEPS, "category": "Home and Garden » Gardening"} for i in range(50)]
    records += [{"title": f"How to Travel {i}x", "text": STEPS, "category": "Travel"} for i in range(2)]
    path = tmp_path / "wikihow.json"
    path.write_text(json.dumps(records))
    travel = 0
    for seed in range(10):
        batch = import_wikihow(path, WikiHowParams(target=4, seed=seed))
        assert len(batch.candidates) == 4 and batch.report.rejected[wikihow.NOT_SAMPLED] == 48
        travel += sum(c.community == "Travel" for c in batch.candidates)
    # Category first: about half the draws go to Travel until its 2 articles run out (uniform over articles: ~1.5 in all).
    assert travel >= 12


def test_sampling_is_reproducible_per_seed(tmp_path):
    path = write_wikihow_csv(tmp_path / "a.csv", [article(f"How to Do Thing {i}x") for i in range(30)])
    first = [c.source_key for c in import_wikihow(path, WikiHowParams(target=5, seed=1)).candidates]
    assert first == [c.source_key for c in import_wikihow(path, WikiHowParams(target=5, seed=1)).candidates]
    assert first != [c.source_key for c in import_wikihow(path, WikiHowParams(target=5, seed=2)).candidates]


def test_jsonl_rows_missing_fields_are_skipped_with_their_line(tmp_path):
    path = tmp_path / "wikihow.jsonl"
    path.write_text("\n".join([json.dumps({"title": "How to Cook Rice", "text": STEPS}), json.dumps({"title": "How to Nothing"}),
                               "{not json", json.dumps({"title": "How to Boil Water", "text": STEPS})]) + "\n")
    batch = import_wikihow(path)
    assert sorted(c.conversations[0] for c in batch.candidates) == ["How to Boil Water?", "How to Cook Rice?"]
    assert [(p.line, p.message[:9]) for p in batch.report.skipped] == [(2, "record wi"), (3, "malformed")]


def test_empty_bodies_and_duplicate_titles_are_rejected(tmp_path):
    path = write_wikihow_csv(tmp_path / "a.csv", [article("How to Cook Rice"), article("How to Cook Rice2"),
                                                  article("How to Wait", "![x](https://x/y.png)")])
    batch = import_wikihow(path)
    assert len(batch.candidates) == 1
    assert batch.report.rejected["duplicate_title"] == 1 and batch.report.rejected[wikihow.EMPTY_AFTER_CLEANING] == 1


def test_csv_without_title_and_text_columns_stops(tmp_path):
    path = write_wikihow_csv(tmp_path / "a.csv", [{"name": "x", "body2": "y"}], fields=("name", "body2"))
    with pytest.raises(InputError) as stopped:
        import_wikihow(path)
    assert stopped.value.line == 1


def test_csv_that_is_not_utf8_stops_with_its_row(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(("title,text\nHow to Cook Rice,Rinse it.\nHow to Make Caf\xe9,Brew it.\n").encode("latin-1"))
    with pytest.raises(InputError) as stopped:
        import_wikihow(path)
    assert "UTF-8" in stopped.value.message


def test_truncated_json_stops_and_truncated_jsonl_stops(tmp_path):
    array = tmp_path / "a.json"
    array.write_text(json.dumps([{"title": "How to Cook Rice", "text": STEPS}] * 3)[:-30])
    with pytest.raises(InputError):
        import_wikihow(array)
    lines = tmp_path / "b.jsonl"
    lines.write_text(json.dumps({"title": "How to Cook Rice", "text": STEPS}) + "\n" + '{"title": "How to')
    with pytest.raises(InputError) as stopped:
        import_wikihow(lines)
    assert stopped.value.line == 2 and "truncated" in stopped.value.message
