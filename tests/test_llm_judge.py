"""The LLM judge on a real Celery worker against a local OpenAI-compatible server, asked in both orders."""

import pytest

from annotation.evaluation.judge_prompt import DEFAULT_TEMPLATE, combine_orders, parse_verdict, render_prompt
from annotation.evaluation.models import Judgment, LLMJudgeRun, OrderedVerdict, Verdict
from annotation.evaluation.services import llm_judge
from generation.models import ModelSpec
from tests.builders import pairwise_study
from tests.fake_openai import FakeOpenAI
from tests.workers import wait_for


def test_parse_verdict_reads_the_first_line_or_a_labelled_answer():
    assert parse_verdict("A\nBecause it is complete.") == "a"
    assert parse_verdict("**B** is better") == "b"
    assert parse_verdict("Neither: both are fine.") == "tie"
    assert parse_verdict("Let me think.\nVerdict: Response A") == "a"
    assert parse_verdict("I like both.") is None


def test_the_prompt_is_filled_in_one_pass_so_placeholders_inside_the_texts_stay_as_written():
    rendered = render_prompt("P={prompt}|A={response_a}|B={response_b}", prompt="say {response_b}",
                             response_a="{prompt} and {x}", response_b="}{")
    assert rendered == "P=say {response_b}|A={prompt} and {x}|B=}{"


def test_disagreeing_orders_are_a_tie_and_agreeing_orders_keep_the_verdict():
    assert combine_orders("a", "b") == "a"  # asked swapped, 'b' is the shown A
    assert combine_orders("a", "a") == "tie"  # always the first slot: position bias, not a preference
    assert combine_orders("tie", "tie") == "tie"


def judge_model(url) -> ModelSpec:
    return ModelSpec.objects.create(name="gpt-4-judge", backend="openai", location=url, served_model_name="gpt-4",
                                    requests_per_minute=6000)


def prefers_primary(body) -> str:
    """A consistent judge: it picks whichever slot holds the primary (target) answer."""
    text = body["messages"][-1]["content"]
    a = text.split("[Response A]")[1].split("[Response B]")[0]
    return "A\nIt is better." if "Primary" in a else "B\nIt is better."


@pytest.mark.django_db(transaction=True)
def test_a_consistent_judge_prefers_the_target_whatever_the_sides(start_worker, openai_server, researcher, make_user):
    FakeOpenAI.reply = staticmethod(prefers_primary)
    start_worker()
    study = pairwise_study(researcher=researcher, annotators=[make_user("annotator")], prompts=6, baselines=("davinci-003",))
    run = llm_judge.start_llm_judge(study=study, model=judge_model(openai_server), template=DEFAULT_TEMPLATE, user=researcher)
    wait_for(lambda: LLMJudgeRun.objects.get(pk=run.pk).status == "completed", what="the LLM judge")
    assert OrderedVerdict.objects.filter(judge_run=run).count() == 12
    judgments = Judgment.objects.filter(annotator=run.judge_user)
    assert judgments.count() == 6 and set(judgments.values_list("verdict", flat=True)) == {Verdict.TARGET}
    assert not run.judge_user.is_active  # the non-human annotator cannot log in
    assert len(FakeOpenAI.seen) == 12 and all(m["body"]["model"] == "gpt-4" for m in FakeOpenAI.seen)


@pytest.mark.django_db(transaction=True)
def test_a_judge_that_always_says_a_shows_position_bias_as_ties(start_worker, openai_server, researcher, make_user):
    FakeOpenAI.reply = staticmethod(lambda body: "A")
    start_worker()
    study = pairwise_study(researcher=researcher, annotators=[make_user("annotator")], prompts=4, baselines=("davinci-003",))
    run = llm_judge.start_llm_judge(study=study, model=judge_model(openai_server), template=DEFAULT_TEMPLATE, user=researcher)
    wait_for(lambda: LLMJudgeRun.objects.get(pk=run.pk).status == "completed", what="the LLM judge")
    assert set(Judgment.objects.filter(annotator=run.judge_user).values_list("verdict", flat=True)) == {Verdict.TIE}
    assert set(OrderedVerdict.objects.filter(judge_run=run).values_list("side", flat=True)) == {"a"}


@pytest.mark.django_db(transaction=True)
def test_unparseable_answers_are_recorded_not_guessed(start_worker, openai_server, researcher, make_user):
    FakeOpenAI.reply = staticmethod(lambda body: "Both have merits.")
    start_worker()
    study = pairwise_study(researcher=researcher, annotators=[make_user("annotator")], prompts=2, baselines=("davinci-003",))
    run = llm_judge.start_llm_judge(study=study, model=judge_model(openai_server), template=DEFAULT_TEMPLATE, user=researcher)
    wait_for(lambda: LLMJudgeRun.objects.get(pk=run.pk).status == "completed", what="the LLM judge")
    assert not Judgment.objects.filter(annotator=run.judge_user).exists()
    assert set(OrderedVerdict.objects.filter(judge_run=run).values_list("error", flat=True)) == {"no verdict (A, B or Neither) found in the answer"}


@pytest.mark.django_db
def test_templates_must_carry_the_placeholders(researcher, make_user, openai_server):
    from django.core.exceptions import ValidationError

    study = pairwise_study(researcher=researcher, annotators=[make_user("annotator")], prompts=1, baselines=("davinci-003",))
    with pytest.raises(ValidationError, match="response_b"):
        llm_judge.start_llm_judge(study=study, model=judge_model(openai_server), template="{prompt} {response_a}", user=researcher)


@pytest.mark.django_db
def test_the_judge_is_not_asked_about_attention_checks(researcher, make_user, openai_server):
    from annotation.evaluation.models import Study
    from annotation.evaluation.services.judging import open_study

    study = pairwise_study(researcher=researcher, annotators=[make_user("annotator")], prompts=6, baselines=("davinci-003",),
                           open_it=False)
    Study.objects.filter(pk=study.pk).update(attention_checks=2)
    study.refresh_from_db()
    open_study(study=study)
    run = llm_judge.start_llm_judge(study=study, model=judge_model(openai_server), template=DEFAULT_TEMPLATE, user=researcher)
    assert study.items.exclude(attention_check="").count() == 2
    assert run.total == study.items.filter(attention_check="").count() == 4


@pytest.mark.django_db(transaction=True)
def test_sigkilled_worker_mid_judging_resumes_with_exactly_one_verdict_per_item_and_order(start_worker, openai_server, researcher,
                                                                                          make_user):
    import time

    def slow_consistent(body):
        time.sleep(0.1)  # slow enough that the kill lands inside a chunk
        return prefers_primary(body)

    FakeOpenAI.reply = staticmethod(slow_consistent)
    study = pairwise_study(researcher=researcher, annotators=[make_user("annotator")], prompts=30, baselines=("davinci-003",))
    first = start_worker("first", visibility_timeout=2)
    run = llm_judge.start_llm_judge(study=study, model=judge_model(openai_server), template=DEFAULT_TEMPLATE, user=researcher)
    wait_for(lambda: OrderedVerdict.objects.filter(judge_run=run).exists(), what="the first answers")
    first.kill()
    assert LLMJudgeRun.objects.get(pk=run.pk).status == "running"
    time.sleep(2.5)  # past the visibility timeout: the killed worker's chunk is handed out again
    start_worker("second", visibility_timeout=2)
    wait_for(lambda: LLMJudgeRun.objects.get(pk=run.pk).status == "completed", timeout=300, what="the judge after the restart")
    pairs = list(OrderedVerdict.objects.filter(judge_run=run).values_list("item_id", "order"))
    assert len(pairs) == len(set(pairs)) == 60
    judged = list(Judgment.objects.filter(annotator=run.judge_user).values_list("item_id", flat=True))
    assert len(judged) == len(set(judged)) == 30
    assert set(Judgment.objects.filter(annotator=run.judge_user).values_list("verdict", flat=True)) == {Verdict.TARGET}
