"""Self-identification scrubbing: what annotators must not see, and what must survive."""

from annotation.evaluation.scrub import MARKER, scrub_self_identification


def test_ai_disclaimers_with_vendor_are_removed_whole():
    text, replaced = scrub_self_identification("As an AI language model developed by OpenAI, I cannot browse.")
    assert text == f"{MARKER}, I cannot browse." and replaced[0].rule == "ai_disclaimer"


def test_identity_claims_and_model_names_are_removed():
    for sentence in ("I'm Claude, an assistant.", "I am ChatGPT.", "Bard here: try this.", "Unlike GPT-4, ..."):
        text, replaced = scrub_self_identification(sentence)
        assert replaced, sentence
        for name in ("Claude", "ChatGPT", "Bard", "GPT-4"):
            assert name not in text


def test_ordinary_text_is_left_alone():
    # Names that are ordinary words stay when they are not written as a name (llama wool, a palm, to grok).
    text = "Alpine lakes are cold. I am happy to help: the llama-wool sweater, a palm tree; meta-analyses grok it. x² ≥ 0 ✓"
    assert scrub_self_identification(text) == (text, [])


def test_every_replacement_is_reported_for_review():
    _, replaced = scrub_self_identification("As an AI created by Anthropic, I (Claude) suggest GPT-3.5 alternatives.")
    originals = [r.original for r in replaced]
    assert any("Anthropic" in o for o in originals) and "Claude" in originals and "GPT-3.5" in originals
