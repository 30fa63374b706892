"""Browser tests: Debian's Chromium (never a downloaded browser) driven by Playwright against live_server."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.workers import scaled

# Assertions that wait (expect(...).to_have_text) wait as long as the page does.
expect.set_options(timeout=scaled(15_000))

CHROMIUM = os.environ.get("LIMA_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "pw-for-tests-123"
# Screenshots the journeys take to be looked at (test-artifacts/shots/, or LIMA_SHOTS_DIR).
SHOTS = Path(os.environ.get("LIMA_SHOTS_DIR", ARTIFACTS / "shots"))


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture(scope="session")
def browser():
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: `make test` installs Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1300, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(scaled(15_000))
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # A script, style or image the Content-Security-Policy refuses is a page that does not work as written.
    page.on("console", lambda message: errors.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text else None)
    page.js_errors = errors
    yield page
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    if failed:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()
    assert not errors, f"JavaScript errors or CSP violations on the page: {errors}"


@pytest.fixture
def login(live_server):
    def do(page, username: str, password: str = PASSWORD):
        page.context.clear_cookies()
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/")

    return do


def wait_for_htmx(page, selector: str = "body") -> None:
    """Wait until htmx has processed the element (listeners attached): after a swap, input typed
    before that moment would not trigger its requests. A user cannot type that fast; a test can."""
    page.wait_for_function(
        "(sel) => { const el = document.querySelector(sel); const data = el && el['htmx-internal-data'];"
        " return !!data && !!data.initHash && !document.querySelector('.htmx-request, .htmx-settling, .htmx-swapping'); }",
        arg=selector,
    )


@pytest.fixture
def open_judging(page, live_server, login, researcher, make_user):
    """A one-baseline study for a new annotator, opened on its judging page: `open_judging(username, prompts)`."""
    from tests.builders import pairwise_study

    def do(username: str, prompts: int):
        annotator = make_user("annotator", username=username)
        study = pairwise_study(researcher=researcher, annotators=[annotator], prompts=prompts, baselines=("davinci-003",),
                               agreement_subset=0)
        login(page, username)
        page.goto(f"{live_server.url}/judge/{study.public_id}/")
        return study

    return do


def wait_for_next_item(page, previous: str) -> None:
    """Until htmx has swapped in another item than `previous` (or the all-done message)."""
    page.wait_for_function("(previous) => { const i = document.querySelector('input[name=item]'); return !i || i.value !== previous; }",
                           arg=previous)
