"""The authoring style checks (pure functions, no database)."""

from annotation.style import check_style, length_range, opens_by_addressing


def codes(turns, source="authored", tokens=None, refusal=False):
    tokens = tokens or [300] * len(turns)
    return {w.code for w in check_style(turns=turns, source=source, token_counts=tokens, is_refusal=refusal)}


def test_first_person_response_is_flagged():
    assert "first_person" in codes([("user", "How do I boil an egg?"), ("assistant", "Boiling an egg: I usually wait 8 minutes.")])


def test_first_person_in_the_prompt_is_fine():
    assert "first_person" not in codes([("user", "How do I boil an egg?"), ("assistant", "To boil an egg, simmer it for 8 minutes.")])


def test_links_and_images_are_flagged_separately():
    found = codes([("user", "Show a cat"), ("assistant", "A cat: ![cat](http://x/cat.png) and more at https://cats.example")])
    assert {"image", "link"} <= found


def test_image_alone_is_not_also_a_link():
    assert "link" not in codes([("user", "Show a cat"), ("assistant", "A cat picture: ![cat](http://x/cat.png)")])


def test_stackexchange_length_is_judged_in_characters():
    assert length_range("stackexchange_stem") == ("characters", 1200, 4096)
    short = codes([("user", "Why is the sky blue?"), ("assistant", "The sky is blue because of Rayleigh scattering.")], source="stackexchange_stem")
    assert "length" in short


def test_authored_length_uses_table_1_token_average():
    unit, low, high = length_range("authored")
    assert (unit, low, high) == ("tokens", 334 // 4, 334 * 4)
    assert "length" in codes([("user", "Tell me about tea."), ("assistant", "Tea is a drink.")], tokens=[5, 10])
    assert "length" not in codes([("user", "Tell me about tea."), ("assistant", "Tea is a drink.")], tokens=[5, 300])


def test_opening_that_ignores_the_question_is_flagged():
    assert not opens_by_addressing("How do I repot an orchid?", "Bananas are yellow. Anyway, orchids need bark.")
    assert opens_by_addressing("How do I repot an orchid?", "Repotting an orchid is easiest in spring.")
    assert opens_by_addressing("How do I repot an orchid?", "Sure! Start by soaking the roots.")


def test_this_article_opening_is_flagged():
    assert "article_opening" in codes([("user", "How to cook rice?"), ("assistant", "This article explains how to cook rice.")])


def test_each_warning_names_its_turn():
    warnings = check_style(
        turns=[("user", "Q1?"), ("assistant", "Fine answer to Q1."), ("user", "Q2?"), ("assistant", "My answer.")],
        source="wikihow", token_counts=[1, 2000, 1, 2000],
    )
    assert {w.turn for w in warnings if w.code == "first_person"} == {4}
