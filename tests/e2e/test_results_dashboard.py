"""A researcher opens a judged study's results in a browser: the charts render, the exports download."""

import pytest

from annotation.evaluation.services import judging
from tests.builders import pairwise_study

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_results_page_renders_its_charts_and_exports(page, live_server, login, researcher, make_user):
    crowd = [make_user("annotator", username=f"crowd_dash{i}") for i in range(2)]
    study = pairwise_study(researcher=researcher, annotators=crowd, prompts=4, baselines=("alpaca-65b", "davinci-003"),
                           agreement_subset=2)
    for annotator in crowd:
        while (assignment := judging.current_assignment(study=study, annotator=annotator)) is not None:
            judging.record_judgment(study=study, item_public_id=assignment.item.public_id, annotator=annotator,
                                    side="a" if assignment.item.target_is_a else "tie")
    login(page, researcher.username)
    page.goto(f"{live_server.url}/studies/{study.pk}/results/")

    charts = page.locator(".chart svg")
    # Figure 1's outcomes, agreement, and (since tournaments) the Bradley-Terry leaderboard with its win-rate matrix.
    assert charts.count() == 4
    for index in range(4):
        box = charts.nth(index).bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 50  # drawn, not an empty element
    assert page.locator(".chart svg text", has_text="alpaca-65b").count() >= 1

    with page.expect_download() as download:
        page.click("#downloads a:text('CSV') >> nth=0")
    path = download.value.path()
    with open(path, encoding="utf-8") as exported:
        header = exported.readline()
    assert header.startswith("study,item,prompt_id,prompt,target_model") and download.value.suggested_filename.endswith("-judgments.csv")
    # The page fixture fails the test on any JavaScript error.
