"""Annotator quality control: attention checks, speed flags, leaving annotators out, adaptive overlap."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from annotation.evaluation.models import Assignment, ComparisonItem, Judgment, Study
from annotation.evaluation.selectors import annotator_workloads, study_report
from annotation.evaluation.services import judging
from tests.builders import pairwise_study

pytestmark = pytest.mark.django_db


def right_answer(item: ComparisonItem) -> str:
    """What a careful annotator answers: neither on a response shown twice, else the target's (intact) side."""
    if item.attention_check == "identical":
        return "tie"
    return "a" if item.target_is_a else "b"


def work_through(study, annotator, *, answer, seconds: float) -> int:
    done = 0
    while (assignment := judging.current_assignment(study=study, annotator=annotator)) is not None:
        Assignment.objects.filter(pk=assignment.pk).update(shown_at=timezone.now() - timedelta(seconds=seconds))
        judging.record_judgment(study=study, item_public_id=assignment.item.public_id, annotator=annotator,
                                side=answer(assignment.item))
        done += 1
    return done


def careful_and_careless_study(researcher, make_user):
    careful = [make_user("annotator", username=f"careful{i}") for i in range(2)]
    careless = make_user("annotator", username="careless")
    study = pairwise_study(researcher=researcher, annotators=[*careful, careless], prompts=12, baselines=("davinci-003",),
                           agreement_subset=2, open_it=False)
    # Long enough responses for the shuffled-copy check (at least 4 distinct words).
    study.target_run.responses.update(text="The capital of France is Paris, a city on the Seine with many museums.")
    Study.objects.filter(pk=study.pk).update(attention_checks=4, speed_flag_seconds=3.0)
    study.refresh_from_db()
    judging.open_study(study=study)
    for annotator in careful:
        work_through(study, annotator, answer=right_answer, seconds=25)
    work_through(study, careless, answer=lambda item: "a", seconds=0.2)
    return study, careful, careless


def test_attention_checks_and_speed_flags_single_out_the_careless_annotator(researcher, make_user):
    study, careful, careless = careful_and_careless_study(researcher, make_user)
    checks = list(study.items.exclude(attention_check=""))
    assert {item.attention_check for item in checks} == {"identical", "broken"} and len(checks) == 4
    assert all(item.text_a == item.text_b for item in checks if item.attention_check == "identical")
    assert all(item.text_a != item.text_b and sorted(item.text_a.split()) == sorted(item.text_b.split())
               for item in checks if item.attention_check == "broken")
    # A check's prompt is never also compared: nobody meets the target's response to it twice.
    assert not study.items.filter(attention_check="", row_id__in=[item.row_id for item in checks]).exists()
    work = {w.username: w for w in annotator_workloads(study)}
    assert all(work[a.username].gold_correct == work[a.username].gold_total == 4 and not work[a.username].too_fast for a in careful)
    sloppy = work["careless"]
    # "a" is right on a shuffled-copy check only when the intact response is on the left, never on an identical pair.
    expected = sum(1 for item in checks if item.attention_check == "broken" and item.target_is_a)
    assert sloppy.too_fast and sloppy.gold_total == 4 and sloppy.gold_correct == expected < 4
    print(f"careless: {sloppy.gold_correct}/4 checks, median {sloppy.median_seconds} s; careful: 4/4, median "
          f"{work['careful0'].median_seconds} s")


def test_checks_never_count_in_the_results_and_a_left_out_annotator_is_named_with_the_reason(client, researcher, make_user):
    study, careful, careless = careful_and_careless_study(researcher, make_user)
    counted = Judgment.objects.filter(item__study=study, item__attention_check="")
    report = study_report(study, resamples=100)
    assert report.human[0].n_judgments == counted.count()
    client.force_login(researcher)
    page = client.get(reverse("evaluation:study_detail", args=[study.pk])).content.decode()
    assert "too fast" in page and "Leave out: failed checks" in page
    client.post(reverse("evaluation:study_exclusion", args=[study.pk, careless.pk]), {"reason": "too-fast"})
    study.refresh_from_db()
    report = study_report(study, resamples=100)
    assert report.human[0].n_judgments == counted.exclude(annotator=careless).count()
    assert any("careless (too fast" in note for note in report.notes)
    results = client.get(reverse("evaluation:study_results", args=[study.pk])).content.decode()
    assert "Left out of these statistics by a researcher: careless (too fast" in results
    client.post(reverse("evaluation:study_exclusion", args=[study.pk, careless.pk]), {"reason": "include"})
    study.refresh_from_db()
    assert study_report(study, resamples=100).human[0].n_judgments == counted.count()
    bad = client.post(reverse("evaluation:study_exclusion", args=[study.pk, careless.pk]), {"reason": "because"})
    assert bad.status_code == 302 and Study.objects.get(pk=study.pk).exclusions == []


@pytest.mark.parametrize(("sides", "capacity"), [(["a", "a", "b"], 2), (["a", "b", "tie"], 3)], ids=["agreeing", "disputed"])
def test_items_whose_annotators_disagree_get_more_annotators_up_to_the_cap(researcher, make_user, sides, capacity):
    """Two agreeing annotators fill the item; two who disagree open it to a third, and no further (the cap)."""
    crowd = [make_user("annotator", username=f"grow{i}") for i in range(4)]
    study = pairwise_study(researcher=researcher, annotators=crowd, prompts=1, baselines=("davinci-003",), agreement_subset=0,
                           overlap=2, open_it=False)
    Study.objects.filter(pk=study.pk).update(max_overlap=3)
    study.refresh_from_db()
    judging.open_study(study=study)
    for annotator, side in zip(crowd, sides):
        if (assignment := judging.current_assignment(study=study, annotator=annotator)) is not None:
            judging.record_judgment(study=study, item_public_id=assignment.item.public_id, annotator=annotator, side=side)
    assert judging.current_assignment(study=study, annotator=crowd[3]) is None
    item = study.items.get()
    assert item.capacity == capacity and item.judgments.count() == capacity


def test_the_study_form_checks_the_quality_settings(client, researcher, make_user):
    from tests.builders import completed_run, prompt_snapshot

    dataset = prompt_snapshot(user=researcher, n=3, name="qc-prompts")
    target, baseline = completed_run(dataset=dataset, model_name="lima"), completed_run(dataset=dataset, model_name="gpt-4")
    client.force_login(researcher)
    base = {"name": "qc", "kind": "pairwise", "dataset": dataset.pk, "target_run": target.pk, "baseline_runs": [baseline.pk],
            "overlap": 2, "agreement_subset": 0, "absolute_sample": 5, "attention_checks": 0, "speed_flag_seconds": 3}
    bad = client.post(reverse("evaluation:study_list"), {**base, "max_overlap": 2, "speed_flag_seconds": -1}).content.decode()
    assert "above the overlap" in bad and "cannot be negative" in bad and not Study.objects.exists()
    assert client.post(reverse("evaluation:study_list"), {**base, "max_overlap": 4}).status_code == 302
    assert Study.objects.get(name="qc").one_prompt_per_annotator  # left out of the post: the safe default
    client.post(reverse("evaluation:study_list"), {**base, "name": "qc-off", "one_prompt_per_annotator": "false"})
    assert not Study.objects.get(name="qc-off").one_prompt_per_annotator
