"""Blind judging: item building, fair and concurrency-safe assignment, verdicts in model terms, blindness."""

import re
import threading

import pytest
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from annotation.evaluation.models import Assignment, ComparisonItem, Judgment, Rating, Study, Verdict
from annotation.evaluation.selectors import AnnotatorProgress, annotator_progress
from annotation.evaluation.services import judging
from annotation.evaluation.services.judging import StudyClosed
from tests.builders import pairwise_study
from tests.random_tokens import without_random_tokens


@pytest.fixture
def annotators(make_user):
    return [make_user("annotator", username=f"crowd{i}") for i in range(3)]


@pytest.mark.django_db
def test_items_are_built_once_with_random_sides_and_a_shared_subset_of_distinct_prompts(researcher, annotators):
    study = pairwise_study(researcher=researcher, annotators=annotators, prompts=20, agreement_subset=4, overlap=1)
    items = list(study.items.all())
    assert len(items) == 36  # 20 prompts × 2 baselines, less the 4 shared prompts' items against the other baseline
    assert {item.target_is_a for item in items} == {True, False}
    shared = [item for item in items if item.is_shared]
    assert len(shared) == 4 and all(item.capacity == 3 for item in shared)
    assert len({item.row_id for item in shared}) == 4  # everyone judges them: never two items of one prompt
    assert all(item.capacity == 1 for item in items if not item.is_shared)
    for item in items:
        target_text = item.text_a if item.target_is_a else item.text_b
        assert target_text.startswith("Primary answer") and target_text == item.target_response.text
    with pytest.raises(Exception, match="already built"):
        judging.build_items(study=study)


@pytest.mark.django_db
def test_the_same_seed_does_not_replay_sides_or_order(researcher, annotators):
    """Sides and order come from a cryptographic source, not the seed: two studies built from the same runs
    and seed differ (22 sides and 22 positions agreeing by chance: about 2**-22 / 22!)."""
    first = pairwise_study(researcher=researcher, annotators=annotators, prompts=12, name="one")
    second = Study.objects.create(name="two", dataset=first.dataset, target_run=first.target_run, seed=first.seed,
                                  agreement_subset=first.agreement_subset)
    second.baseline_runs.set(first.baseline_runs.all())
    second.annotators.set(annotators)
    judging.open_study(study=second)
    key = lambda i: (i.row.position, i.baseline_run.model.name)  # noqa: E731
    sides = lambda s: {key(i): i.target_is_a for i in s.items.select_related("row", "baseline_run__model")}  # noqa: E731
    order = lambda s: [key(i) for i in s.items.select_related("row", "baseline_run__model").order_by("order_key")]  # noqa: E731
    assert len(sides(first)) == 22 and sides(first) != sides(second) and order(first) != order(second)


@pytest.mark.django_db
def test_a_study_without_a_seed_draws_one_for_its_bootstrap_when_it_opens(researcher, annotators):
    study = pairwise_study(researcher=researcher, annotators=annotators, prompts=3, open_it=False)
    Study.objects.filter(pk=study.pk).update(seed=None)
    study.refresh_from_db()
    judging.open_study(study=study)
    assert study.seed is not None and Study.objects.get(pk=study.pk).seed == study.seed


@pytest.mark.django_db
def test_an_annotator_sees_each_prompt_once_and_the_database_refuses_a_second(researcher, annotators):
    study = pairwise_study(researcher=researcher, annotators=annotators[:1], prompts=5, agreement_subset=1)
    annotator = annotators[0]
    rows = []
    while assignment := judging.current_assignment(study=study, annotator=annotator):
        rows.append(assignment.item.row_id)
        judging.record_judgment(study=study, item_public_id=assignment.item.public_id, annotator=annotator, side="a")
    assert sorted(rows) == sorted(set(rows)) and len(rows) == 5  # 10 items, 5 prompts: one item of each
    assert annotator_progress(study=study, annotator=annotator) == AnnotatorProgress(done=5, total=5)
    other = ComparisonItem.objects.filter(study=study).exclude(assignments__annotator=annotator).first()
    with pytest.raises(IntegrityError), transaction.atomic():
        Assignment.objects.create(item=other, annotator=annotator, study=study, prompt_row_id=other.row_id)


@pytest.mark.django_db
def test_turning_one_prompt_per_annotator_off_warns_on_the_study_page(client, researcher, annotators):
    study = pairwise_study(researcher=researcher, annotators=annotators, prompts=2, one_prompt_per_annotator=False)
    client.force_login(researcher)
    assert "Blindness is weaker" in client.get(reverse("evaluation:study_detail", args=[study.pk])).content.decode()
    Study.objects.filter(pk=study.pk).update(one_prompt_per_annotator=True)
    assert "Blindness is weaker" not in client.get(reverse("evaluation:study_detail", args=[study.pk])).content.decode()


@pytest.mark.django_db
def test_assignment_fills_shared_items_first_balances_overlap_and_never_repeats(researcher, annotators):
    study = pairwise_study(researcher=researcher, annotators=annotators, prompts=6, agreement_subset=2, overlap=2,
                           one_prompt_per_annotator=False)
    seen = {a.pk: [] for a in annotators}
    progress = True
    while progress:
        progress = False
        for annotator in annotators:
            assignment = judging.current_assignment(study=study, annotator=annotator)
            if assignment:
                progress = True
                seen[annotator.pk].append(assignment.item_id)
                judging.record_judgment(study=study, item_public_id=assignment.item.public_id, annotator=annotator, side="tie")
    shared = set(study.items.filter(is_shared=True).values_list("id", flat=True))
    assert shared
    for items in seen.values():
        assert len(items) == len(set(items))
        assert set(items[:len(shared)]) == shared  # the shared (agreement) items come first, for everyone
    for item in ComparisonItem.objects.filter(study=study):
        assert item.judgments.count() == item.capacity  # everyone on shared items, exactly `overlap` on the rest
    counts = sorted(len(v) for v in seen.values())
    assert counts[-1] - counts[0] <= 1  # balanced between annotators


@pytest.mark.django_db
def test_sides_are_stored_in_model_terms(researcher, annotators):
    # Sides are drawn at random per item: with 8 items all were on one side once in 128 runs (the last assertion
    # failed by chance); with 40, once in 5e11.
    study = pairwise_study(researcher=researcher, annotators=annotators[:1], prompts=40, agreement_subset=0)
    annotator = annotators[0]
    for _ in range(40):
        assignment = judging.current_assignment(study=study, annotator=annotator)
        judging.record_judgment(study=study, item_public_id=assignment.item.public_id, annotator=annotator, side="a")
    for judgment in Judgment.objects.select_related("item"):
        assert judgment.verdict == (Verdict.TARGET if judgment.item.target_is_a else Verdict.BASELINE)
    assert {j.verdict for j in Judgment.objects.all()} == {Verdict.TARGET, Verdict.BASELINE}


@pytest.mark.django_db
def test_double_submit_keeps_the_first_judgment(researcher, annotators):
    study = pairwise_study(researcher=researcher, annotators=annotators[:1], prompts=2)
    assignment = judging.current_assignment(study=study, annotator=annotators[0])
    first = judging.record_judgment(study=study, item_public_id=assignment.item.public_id, annotator=annotators[0], side="a")
    again = judging.record_judgment(study=study, item_public_id=assignment.item.public_id, annotator=annotators[0], side="b")
    assert first.created and not again.created and again.verdict == first.verdict
    assert Judgment.objects.count() == 1


@pytest.mark.django_db
def test_closed_study_unassigned_item_and_outsiders_are_refused(researcher, annotators, make_user):
    study = pairwise_study(researcher=researcher, annotators=annotators[:2], prompts=2, agreement_subset=0)
    assignment = judging.current_assignment(study=study, annotator=annotators[0])
    with pytest.raises(PermissionDenied):
        judging.record_judgment(study=study, item_public_id=assignment.item.public_id, annotator=annotators[1], side="a")
    with pytest.raises(PermissionDenied):
        judging.current_assignment(study=study, annotator=make_user("annotator"))
    judging.close_study(study=study)
    with pytest.raises(StudyClosed):
        judging.record_judgment(study=study, item_public_id=assignment.item.public_id, annotator=annotators[0], side="a")
    assert not Judgment.objects.exists()


@pytest.mark.django_db
def test_undo_brings_the_item_back_first(researcher, annotators):
    study = pairwise_study(researcher=researcher, annotators=annotators[:1], prompts=3, agreement_subset=0)
    annotator = annotators[0]
    first = judging.current_assignment(study=study, annotator=annotator)
    judging.record_judgment(study=study, item_public_id=first.item.public_id, annotator=annotator, side="b")
    judging.current_assignment(study=study, annotator=annotator)  # the next item is on screen
    assert judging.undo_last(study=study, annotator=annotator)
    assert not Judgment.objects.exists()
    assert judging.current_assignment(study=study, annotator=annotator).item_id == first.item_id


@pytest.mark.django_db
def test_absolute_ratings(researcher, annotators):
    study = pairwise_study(researcher=researcher, annotators=annotators[:1], prompts=4, kind="absolute", agreement_subset=0)
    assignment = judging.current_assignment(study=study, annotator=annotators[0])
    assert assignment.item.baseline_response is None
    judging.record_rating(study=study, item_public_id=assignment.item.public_id, annotator=annotators[0], grade="excellent")
    assert Rating.objects.get().grade == "excellent"
    with pytest.raises(Exception, match="rates single responses"):
        judging.record_judgment(study=study, item_public_id=assignment.item.public_id, annotator=annotators[0], side="a")


@pytest.mark.django_db(transaction=True)
def test_concurrent_annotators_never_over_fill_or_duplicate(researcher, make_user):
    """Twelve annotators claim at once from threads (separate PostgreSQL connections) until nothing is left."""
    pool = [make_user("annotator", username=f"burst{i}") for i in range(12)]
    study = pairwise_study(researcher=researcher, annotators=pool, prompts=15, agreement_subset=3, overlap=2)
    barrier = threading.Barrier(len(pool))
    errors = []

    def work(annotator):
        try:
            barrier.wait()
            while (assignment := judging.current_assignment(study=study, annotator=annotator)) is not None:
                judging.record_judgment(study=study, item_public_id=assignment.item.public_id, annotator=annotator, side="tie")
                judging.record_judgment(study=study, item_public_id=assignment.item.public_id, annotator=annotator, side="a")  # a double submit
        except Exception as exc:  # surfaced below
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(annotator,)) for annotator in pool]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    for item in ComparisonItem.objects.filter(study=study):
        assert item.assigned_count == item.assignments.count() == item.judgments.count() == item.capacity
    # 15 prompts × 2 baselines, less the 3 shared prompts' second items (everyone sees those prompts once).
    assert Judgment.objects.count() == 3 * 12 + 24 * 2
    assert not Assignment.objects.filter(completed_at__isnull=True).exists()


MODEL_WORDS = re.compile(r"lima-65b|alpaca|davinci|(?<![-\w])target\b|baseline|run[ _-]?id|response[ _-]?id", re.IGNORECASE)


@pytest.mark.django_db
def test_the_judging_page_and_its_urls_name_no_model_or_run(client, researcher, annotators):
    study = pairwise_study(researcher=researcher, annotators=annotators[:1], prompts=3, name="lima-65b vs alpaca")
    client.force_login(annotators[0])
    page = without_random_tokens(client.get(reverse("evaluation:judge", args=[study.public_id])).content.decode())
    home = without_random_tokens(client.get(reverse("evaluation:judge_home")).content.decode())
    assert not MODEL_WORDS.search(home), MODEL_WORDS.search(home)
    assert "Response A" in page and "Response B" in page
    assert not MODEL_WORDS.search(page), MODEL_WORDS.search(page)
    item = study.items.get(assignments__annotator=annotators[0])
    for run_or_response in (study.target_run_id, item.target_response_id, item.baseline_response_id):
        assert f'value="{run_or_response}"' not in page and f"/{run_or_response}/" not in page


@pytest.mark.django_db
def test_self_identification_is_scrubbed_before_annotators_see_it(client, researcher, annotators):
    from generation.models import Response

    study = pairwise_study(researcher=researcher, annotators=annotators[:1], prompts=1, agreement_subset=0, open_it=False)
    Response.objects.filter(run__in=study.baseline_runs.all()).update(text="As an AI language model developed by OpenAI, I think so.")
    judging.open_study(study=study)
    client.force_login(annotators[0])
    page = client.get(reverse("evaluation:judge", args=[study.public_id])).content.decode()
    assert "OpenAI" not in page and "[model], I think so." in page
    client.force_login(researcher)
    review = client.get(reverse("evaluation:study_scrubbed", args=[study.pk])).content.decode()
    assert "As an AI language model developed by OpenAI" in review


@pytest.mark.django_db(transaction=True)  # no test transaction around requests: savepoints would inflate the count
def test_judging_page_and_submit_query_counts_are_small_and_constant(client, researcher, annotators):
    counts = {}
    for prompts in (3, 60):
        study = pairwise_study(researcher=researcher, annotators=annotators[:1], prompts=prompts, name=f"q{prompts}")
        client.force_login(annotators[0])
        url = reverse("evaluation:judge", args=[study.public_id])
        with CaptureQueriesContext(connection) as page:  # the page, claiming the next item
            response = client.get(url, HTTP_HX_REQUEST="true")
        assert response.status_code == 200
        item = ComparisonItem.objects.get(study=study, assignments__annotator=annotators[0])
        with CaptureQueriesContext(connection) as submit:  # the verdict, then the next item's page
            client.post(reverse("evaluation:judge_submit", args=[study.public_id]), {"item": item.public_id, "choice": "a"},
                        HTTP_HX_REQUEST="true")
        assert Judgment.objects.filter(item=item).count() == 1
        # The verdict and the next claim are one transaction. The verdict's insert turns a repeat away by itself
        # (ON CONFLICT DO NOTHING); the claim, which may meet a unique constraint, runs in a savepoint, counted
        # apart from the work.
        savepoints = [q["sql"] for q in submit.captured_queries if q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]
        assert len(savepoints) == 2, savepoints
        counts[prompts] = (len(page), len(submit) - len(savepoints) - len(page))
    assert counts[3] == counts[60]
    page_queries, write_queries = counts[60]
    # 13: progress is two bounded counts (the annotator's own assignments; open items up to a cap), where it
    # was one count with a per-item EXISTS whose cost grew with the study (100 ms a page at 50,000 items).
    # 12: the annotator's membership of the pool is read with the study (one query, where it was two).
    assert page_queries <= 12 and write_queries <= 8, counts


@pytest.mark.django_db
def test_researchers_create_a_study_from_the_form(client, researcher, annotators):
    from tests.builders import completed_run, prompt_snapshot

    dataset = prompt_snapshot(user=researcher, n=3, name="form-prompts")
    target = completed_run(dataset=dataset, model_name="lima")
    baseline = completed_run(dataset=dataset, model_name="gpt-4")
    client.force_login(researcher)
    response = client.post(reverse("evaluation:study_list"), {
        "name": "LIMA vs GPT-4", "kind": "pairwise", "dataset": dataset.pk, "target_run": target.pk, "baseline_runs": [baseline.pk],
        "annotators": [a.pk for a in annotators], "overlap": 1, "agreement_subset": 1, "absolute_sample": 50, "seed": 3,
    })
    assert response.status_code == 302
    study = Study.objects.get()
    client.post(reverse("evaluation:study_state", args=[study.pk, "open"]))
    assert study.items.count() == 3 and Study.objects.get().state == "open"
    bad = client.post(reverse("evaluation:study_list"), {"name": "x", "kind": "pairwise", "dataset": dataset.pk, "target_run": target.pk,
                                                        "overlap": 1, "agreement_subset": 1, "absolute_sample": 5, "seed": 0})
    assert bad.status_code == 422 and "at least one baseline" in bad.content.decode()


@pytest.mark.django_db
def test_progress_is_exact_below_the_count_cap_and_a_lower_bound_above_it(client, researcher, annotators, monkeypatch):
    from annotation.evaluation import selectors

    study = pairwise_study(researcher=researcher, annotators=annotators[:2], prompts=6, agreement_subset=2,
                           one_prompt_per_annotator=False)
    me = annotators[0]
    assignment = judging.current_assignment(study=study, annotator=me)
    judging.record_judgment(study=study, item_public_id=assignment.item.public_id, annotator=me, side="a")
    judging.current_assignment(study=study, annotator=me)
    # 12 items, overlap 1, two shared by both: every item is still open to me, and one is done.
    assert selectors.annotator_progress(study=study, annotator=me) == selectors.AnnotatorProgress(done=1, total=12)
    other = annotators[1]
    while (mine := judging.current_assignment(study=study, annotator=other)) is not None:
        judging.record_judgment(study=study, item_public_id=mine.item.public_id, annotator=other, side="b")
    # The other annotator took the ten unshared items: my total shrinks to my two shared ones.
    assert selectors.annotator_progress(study=study, annotator=me) == selectors.AnnotatorProgress(done=1, total=2)

    monkeypatch.setattr(selectors, "PROGRESS_COUNT_CAP", 3)
    big = pairwise_study(researcher=researcher, annotators=[me], prompts=6, agreement_subset=0, name="big")
    progress = selectors.annotator_progress(study=big, annotator=me)
    assert progress.total_is_lower_bound and progress.total == 3
    client.force_login(me)
    assert "0 / 4+ done" in client.get(reverse("evaluation:judge", args=[big.public_id])).content.decode()
    assert client.get(reverse("api:judging", args=[big.public_id])).json()["total_is_lower_bound"] is True


@pytest.mark.django_db
def test_items_that_still_talk_about_being_a_model_are_held_until_a_researcher_decides(client, researcher, annotators):
    study = pairwise_study(researcher=researcher, annotators=annotators[:1], prompts=3, baselines=("gpt-4",), open_it=False,
                           agreement_subset=0)
    run = study.baseline_runs.get()
    run.responses.filter(row__position=0).update(text="I am an AI, so my training data ends in 2021.")
    run.responses.filter(row__position=1).update(text="I was trained by a large company.")
    with pytest.raises(Exception, match="2 items still look self-identifying"):
        judging.open_study(study=study)
    study.refresh_from_db()
    assert study.state == "draft" and study.items.count() == 3 and study.items.filter(held=True).count() == 2
    client.force_login(researcher)
    page = client.get(reverse("evaluation:study_scrubbed", args=[study.pk])).content.decode()
    assert "my training data ends in 2021" in page and "Show as it is" in page
    first, second = study.items.filter(held=True).order_by("row__position")
    client.post(reverse("evaluation:study_held_item", args=[study.pk, first.pk, "release"]))
    client.post(reverse("evaluation:study_held_item", args=[study.pk, second.pk, "drop"]))
    assert not study.items.filter(held=True).exists() and study.items.count() == 2
    judging.open_study(study=study)
    assert Study.objects.get(pk=study.pk).state == "open"
    with pytest.raises(Exception, match="before the study opens"):
        judging.decide_held_item(study=study, item_id=first.pk, release=True)


@pytest.mark.django_db
def test_items_are_rendered_to_html_once_when_the_study_opens(client, researcher, annotators):
    from annotation.rendering import render_markdown
    from generation.models import Response

    study = pairwise_study(researcher=researcher, annotators=annotators[:1], prompts=2, agreement_subset=0, open_it=False)
    Response.objects.filter(run=study.target_run).update(text="**Bold** claim with a [link](https://example.org) <script>x()</script>")
    judging.open_study(study=study)
    for item in study.items.all():
        assert item.html_a == render_markdown(item.text_a) and item.html_b == render_markdown(item.text_b)
        assert "<strong>Bold</strong>" in item.html_a + item.html_b and "<script" not in item.html_a + item.html_b
        assert "Test prompt number" in item.prompt_html and 'class="turn-user utterance"' in item.prompt_html
    # The page inserts the stored HTML as it is: it does not render the Markdown again.
    study.items.update(html_a="<p>stored A</p>", html_b="<p>stored B</p>", prompt_html="<p>stored prompt</p>")
    client.force_login(annotators[0])
    page = client.get(reverse("evaluation:judge", args=[study.public_id]), HTTP_HX_REQUEST="true").content.decode()
    assert "<p>stored A</p>" in page and "<p>stored B</p>" in page and "<p>stored prompt</p>" in page


@pytest.mark.django_db
def test_items_without_stored_html_are_rendered_when_shown(client, researcher, annotators):
    study = pairwise_study(researcher=researcher, annotators=annotators[:1], prompts=1, agreement_subset=0)
    study.items.update(html_a="", html_b="", prompt_html="", text_a="*live A*", text_b="*live B*")
    client.force_login(annotators[0])
    page = client.get(reverse("evaluation:judge", args=[study.public_id]), HTTP_HX_REQUEST="true").content.decode()
    assert "<em>live A</em>" in page and "<em>live B</em>" in page and "Test prompt number 0" in page
