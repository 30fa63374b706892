"""One journey in a real browser: a curator opens a mined Stack Exchange candidate, edits it in the
editor (key e), accepts it (key a) and sees the Table 1 quota cell move."""

import pytest

from annotation.importers.batch import Candidate
from annotation.models import Example, Status
from annotation.services.curation import save_candidates

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

RAW = "<p>Rayleigh scattering: see <a href='https://en.wikipedia.org/wiki/Rayleigh_scattering'>this</a>.</p>"


def approved_count(page, cell: str) -> int:
    return int(page.locator(f'#curation-quotas tr[data-cell="{cell}"] td[data-status="approved"]').inner_text())


def test_curator_edits_and_accepts_a_candidate(page, live_server, login, researcher):
    save_candidates(candidates=[Candidate(
        source_key="stackexchange:physics.stackexchange.com:1", source="stackexchange_stem", split="train",
        conversations=["Why is the sky blue?", "Rayleigh scattering: see this."], title="Why is the sky blue?",
        community="physics.stackexchange.com",
        provenance={"community": "physics.stackexchange.com", "url": "https://physics.stackexchange.com/a/2", "score": 42,
                    "licence": "CC BY-SA 4.0", "raw_prompt": "Why is the sky blue?", "raw_response": RAW},
    )], user=None)
    login(page, "researcher1")
    page.goto(f"{live_server.url}/curation/")
    page.wait_for_selector("article.candidate")
    assert "Rayleigh scattering: see this." in page.locator("pre.cleaned").nth(1).inner_text()
    assert "wikipedia" in page.locator("pre.diff .del").inner_text()
    assert approved_count(page, "train/stackexchange_stem/all") == 0

    page.keyboard.press("e")
    page.wait_for_selector("#example-form")
    page.fill("#turn-1-text", "The sky looks blue because air molecules scatter short (blue) wavelengths more than long ones.")
    page.wait_for_selector("#save-status .saved")

    page.goto(f"{live_server.url}/curation/")
    page.wait_for_selector("article.candidate")
    assert "scatter short (blue) wavelengths" in page.locator("pre.cleaned").nth(1).inner_text()
    page.keyboard.press("a")
    page.wait_for_selector("#queue-empty")
    page.wait_for_function(
        "() => document.querySelector('#curation-quotas tr[data-cell=\"train/stackexchange_stem/all\"] td[data-status=\"approved\"]').innerText.trim() === '1'"
    )
    example = Example.objects.get()
    assert example.status == Status.APPROVED
    assert example.turns.get(position=1).text.startswith("The sky looks blue")
