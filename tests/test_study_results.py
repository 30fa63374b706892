"""A study's results page: Figure 1 from the stored judgments, agreement, annotators, chart downloads."""

import re

import pytest
from django.urls import reverse

from annotation.evaluation.selectors import study_report
from annotation.evaluation.services import judging
from tests.builders import pairwise_study

pytestmark = pytest.mark.django_db


def judge_everything(study, annotators, side_for):
    for annotator in annotators:
        while (assignment := judging.current_assignment(study=study, annotator=annotator)) is not None:
            judging.record_judgment(study=study, item_public_id=assignment.item.public_id, annotator=annotator,
                                    side=side_for(annotator, assignment.item))


def test_results_count_verdicts_in_model_terms_and_measure_agreement(client, researcher, make_user):
    crowd = [make_user("annotator", username=f"crowd{i}") for i in range(3)]
    study = pairwise_study(researcher=researcher, annotators=crowd, prompts=10, baselines=("davinci-003",), agreement_subset=4)
    # Everyone prefers the target (whatever side it is on), except crowd2 who says tie on shared items.
    judge_everything(study, crowd, lambda a, item: "tie" if (a.username == "crowd2" and item.is_shared) else ("a" if item.target_is_a else "b"))
    report = study_report(study, resamples=200)
    outcome = next(row for row in report.human if row.baseline == "davinci-003")
    assert outcome.n_judgments == 4 * 3 + 6 and outcome.counts["tie"] == 4
    by_name = {a.annotator: a for a in report.annotators}
    assert by_name["crowd0"].tie_discounted_with_others == pytest.approx((1 * 4 + 0.5 * 4) / 8)
    client.force_login(researcher)
    page = client.get(reverse("evaluation:study_results", args=[study.pk])).content.decode()
    assert "<svg" in page and "davinci-003" in page
    png = client.get(reverse("evaluation:study_chart", args=[study.pk, "outcomes", "png"]))
    assert png["Content-Type"] == "image/png" and png.content.startswith(b"\x89PNG")


def test_a_study_without_judgments_says_so(client, researcher, make_user):
    study = pairwise_study(researcher=researcher, annotators=[make_user("annotator")], prompts=2)
    client.force_login(researcher)
    page = client.get(reverse("evaluation:study_results", args=[study.pk])).content.decode()
    # "nan" as a word (a NaN printed); inside the page's random CSRF token it turned up one run in 480.
    assert not re.search(r"\bnan\b", page, re.IGNORECASE) and "No human judgments" in page


def test_the_results_page_shows_group_and_pair_agreement_with_kappa(client, researcher, make_user):
    crowd = [make_user("annotator", username=f"kappa{i}") for i in range(2)]
    study = pairwise_study(researcher=researcher, annotators=crowd, prompts=6, baselines=("davinci-003",), agreement_subset=6)
    # kappa0 always prefers the target; kappa1 agrees on four items and says tie on two: by hand, tie-discounted
    # agreement = (4 + 0.5 * 2) / 6, and Cohen's κ is 0 (kappa0 never varies, so expected agreement equals observed).
    tie_items = set(study.items.order_by("order_key").values_list("pk", flat=True)[:2])
    judge_everything(study, crowd, lambda a, item: "tie" if (a.username == "kappa1" and item.pk in tie_items)
                     else ("a" if item.target_is_a else "b"))
    client.force_login(researcher)
    page = client.get(reverse("evaluation:study_results", args=[study.pk])).content.decode()
    pair_table = page[page.index('id="pair-agreement"'):]
    assert "kappa0" in pair_table and "kappa1" in pair_table and "83%" in pair_table and "0.000" in pair_table.split("</tr>")[1]
    group_table = page[page.index('id="group-agreement"'):page.index('id="pair-agreement"')]
    assert "crowd-crowd" in group_table and "83%" in group_table and "both groups pooled" in page


def test_an_absolute_study_shows_its_rating_distribution_with_intervals(client, researcher, make_user):
    raters = [make_user("annotator", username=f"rater{i}") for i in range(2)]
    study = pairwise_study(researcher=researcher, annotators=raters, prompts=5, kind="absolute", agreement_subset=0, overlap=2)
    grades = iter(["excellent", "pass", "pass", "fail", "excellent", "pass", "pass", "pass", "fail", "excellent"])
    for rater in raters:
        while (assignment := judging.current_assignment(study=study, annotator=rater)) is not None:
            judging.record_rating(study=study, item_public_id=assignment.item.public_id, annotator=rater, grade=next(grades))
    client.force_login(researcher)
    page = client.get(reverse("evaluation:study_results", args=[study.pk])).content.decode()
    assert "No human judgments" not in page
    ratings = page[page.index('id="ratings"'):]
    # 10 ratings: 2 fail (20%), 5 pass (50%), 3 excellent (30%), each with its bootstrap interval.
    assert "<svg" in ratings and "20%" in ratings and "50%" in ratings and "30%" in ratings and ratings.count("–") >= 3
