"""One journey in a real browser: a researcher defines an ablation (Stack Exchange vs wikiHow), is told exactly
what is wrong with a variant too large for the data, starts it, watches it run to the chart, and opens a point."""

import pytest

from annotation.models import Status
from generation.models import ModelSpec
from lima_site.orchestration.models import Experiment
from tests.builders import tiny_model_spec
from tests.fake_openai import FakeOpenAI
from tests.test_experiments import judge_reply, mined
from tests.training_support import dev_snapshot
from tests.workers import scaled
from tests.e2e.conftest import shot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_researcher_runs_an_ablation_and_opens_a_point(page, live_server, login, researcher, tiny_model, openai_server,
                                                         start_worker, settings, tmp_path, monkeypatch):
    settings.LIMA_TRAINING_DIR = tmp_path / "training"
    monkeypatch.setenv("LIMA_TRAINING_DIR", str(tmp_path / "training"))
    monkeypatch.setenv("LIMA_EXPERIMENT_POLL_SECONDS", "1")
    FakeOpenAI.reply = staticmethod(judge_reply)
    mined("stackexchange_stem", 4, status=Status.APPROVED, user=researcher, tag="Curated")
    mined("wikihow", 4, status=Status.APPROVED, user=researcher, tag="Curated")
    dev = dev_snapshot(user=researcher, n=2, name="ablation-dev")
    base = tiny_model_spec()
    judge = ModelSpec.objects.create(name="helpfulness-judge", backend="openai", location=openai_server, served_model_name="j",
                                     requests_per_minute=6000)
    start_worker()
    login(page, "researcher1")
    page.click("nav >> text=Experiments")
    page.click("#new-experiment")
    assert page.input_value("input[name=batch_size]") == "64"  # LIMA's 7B preset
    page.fill("input[name=name]", "se-vs-wikihow")
    page.select_option("select[name=base_model]", str(base.pk))
    page.check("input[name=sources][value=stackexchange_all]")
    page.check("input[name=sources][value=wikihow]")
    page.fill("input[name=size]", "8")
    for name, value in (("epochs", "1"), ("batch_size", "4"), ("micro_batch_size", "2"), ("learning_rate", "0.001"),
                        ("final_learning_rate", "0.0001"), ("samples_per_prompt", "2"), ("max_new_tokens", "12")):
        page.fill(f"input[name={name}]", value)
    page.select_option("select[name=dev_dataset]", str(dev.pk))
    page.select_option("select[name=judge_model]", str(judge.pk))
    page.click("#experiment-form button[type=submit]")
    page.wait_for_selector(".errors >> text=needs 8 examples; the platform holds 4 that match")
    assert not Experiment.objects.exists()
    page.fill("input[name=size]", "4")
    page.click("#experiment-form button[type=submit]")
    page.wait_for_selector("#experiment-state")
    assert page.locator("#variants tbody tr").count() == 2
    assert page.locator("#variants tbody tr").first.locator("td").first.inner_text() == "stackexchange · filtered · 4 · seed 0"
    page.wait_for_function("() => document.querySelector('#experiment-state').textContent.trim() === 'Completed'",
                           timeout=scaled(300_000))
    shot(page, "experiment-completed")
    assert page.locator("#helpfulness-chart svg a").count() >= 2  # every point is a link
    page.locator("#variants a >> text=responses").first.click()
    page.wait_for_selector("#graded-responses")
    assert page.locator("#graded-responses tbody tr").count() == 4
    assert "Training run" in page.content() and "seed 1" in page.content()
    shot(page, "experiment-variant")
