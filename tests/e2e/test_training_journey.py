"""One journey in a real browser: a researcher prepares a local fine-tuning run with the LIMA recipe,
reads the job script, submits it and watches the progress and the loss curve until it completes."""

import pytest

from tests.builders import tiny_model_spec
from tests.training_support import PollerProcess, train_snapshot
from tests.workers import purge_broker, scaled

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def poller(tmp_path, settings, monkeypatch):
    settings.LIMA_TRAINING_DIR = tmp_path / "training"
    # The poller registers the checkpoints, which must lie under LIMA_MODEL_ROOTS: the same training folder for it.
    monkeypatch.setenv("LIMA_TRAINING_DIR", str(tmp_path / "training"))
    purge_broker()
    process = PollerProcess(tmp_path, {}).start()
    yield process
    process.stop()
    purge_broker()


def test_researcher_launches_a_local_run_and_watches_the_loss_curve(page, live_server, login, researcher, tiny_model, poller):
    dataset, model = train_snapshot(user=researcher), tiny_model_spec()
    login(page, "researcher1")
    page.click("nav >> text=Training")
    page.click("#new-run")
    assert page.input_value("input[name=epochs]") == "15" and page.input_value("input[name=batch_size]") == "32"
    page.fill("input[name=name]", "browser-run")
    page.select_option("select[name=dataset]", str(dataset.pk))
    page.select_option("select[name=base_model]", str(model.pk))
    for name, value in (("epochs", "20"), ("batch_size", "4"), ("micro_batch_size", "2"), ("learning_rate", "0.001"),
                        ("final_learning_rate", "0.0001")):
        page.fill(f"input[name={name}]", value)
    page.select_option("select[name=launcher]", "local")
    page.click("#training-form button[type=submit]")

    page.wait_for_selector("#job-script[open]")
    assert "-m training.sft --config" in page.locator("#job-script pre").inner_text()
    assert page.locator("#run-state").inner_text() == "Draft (not submitted)"
    page.click("#submit-run")

    page.wait_for_selector("#loss-curve polyline.loss-line", timeout=scaled(120_000))
    assert "Step" in page.locator("#training-steps").inner_text() and "/ 40" in page.locator("#training-steps").inner_text()
    page.wait_for_function("() => document.querySelector('#run-state').textContent.trim() === 'Completed'", timeout=scaled(120_000))
    assert "loss" in page.locator("#training-steps").inner_text()
    page.wait_for_selector("#checkpoints >> text=browser-run-epoch-20")
    assert "sft: 100%" in page.locator("#log-tail").inner_text()
