"""Injection payloads in every kind of user text, rendered in a real Chromium: none may execute.

Each payload, if it ran, would set window.__xss (or open a dialog). Payloads go into example
turns and titles, model responses, study guidelines and a username, and the pages that show
them are opened as the people who would see them.
"""

import pytest

from annotation.models import Status
from annotation.datasets.services import freeze_dataset
from tests.builders import completed_run, example, pairwise_study

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Template syntax in user text must come out as written: never rendered by Django's or another template engine.
TEMPLATE_INJECTION = "{{ request.user.password }} {% debug %} ${7*7} {{7*7}}"
PAYLOADS = [
    "<script>window.__xss=1</script>",
    '<img src=x onerror="window.__xss=1">',
    "<svg onload=\"window.__xss=1\"><circle r=5 /></svg>",
    '<a href="javascript:window.__xss=1" id="js-link">click</a>',
    "[markdown link](javascript:window.__xss=1)",
    '"><script>window.__xss=1</script>',
    "<iframe src=\"javascript:window.__xss=1\"></iframe>",
    "<details open ontoggle=\"window.__xss=1\"><summary>x</summary></details>",
    "<style>body{background:url(javascript:window.__xss=1)}</style>",
    TEMPLATE_INJECTION,
    "<math><mtext><table><mglyph><style><img src=x onerror=window.__xss=1>",
]
TEXT = "Payloads follow.\n\n" + "\n\n".join(PAYLOADS)


def assert_shown_as_text(page, response, where: str, *, shows_text: bool = True):
    """The page answered 200 (not an error page that shows nothing) and, where it shows the user's text, shows the
    payloads as inert text: the surrounding words, and the template syntax literally (never evaluated: no 49, no
    password hash, no debug dump)."""
    assert response is not None and response.status == 200, f"{where} answered {response and response.status}"
    main = page.inner_text("main")
    if shows_text:
        assert "Payloads follow." in main, f"{where} does not show the text: {main[:300]!r}"
        # As Markdown text: the braces and tags stay (only the asterisks may turn into emphasis), nothing evaluated.
        assert "{{ request.user.password }} {% debug %} $" in main and "{{7" in main, \
            f"{where} changed the template payload: {main[:600]!r}"
    content = page.content()
    assert "pbkdf2_sha256$" not in content and "argon2" not in content and "sql_queries" not in content, where


def assert_nothing_ran(page, where: str):
    page.wait_for_timeout(300)  # let onload/onerror handlers fire if any slipped through
    assert page.evaluate("window.__xss === undefined"), f"a payload executed on {where}"
    assert page.evaluate("document.querySelectorAll('[href^=\"javascript:\" i], [src^=\"javascript:\" i]').length") == 0, where
    assert page.evaluate("document.querySelectorAll('main script, main iframe, main [onerror], main [onload], main [ontoggle]').length") == 0, where


def test_no_payload_executes_anywhere(page, live_server, login, make_user, researcher):
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    evil_author = make_user("author", group="A", username='<img src=x onerror="window.__xss=1">')
    evil_author.set_password("pw-for-tests-123")
    evil_author.save()
    item = example(user=evil_author, turns=(TEXT, TEXT), status=Status.SUBMITTED, title='<script>window.__xss=1</script>')
    example(user=evil_author, turns=("Prompt?", TEXT), status=Status.APPROVED)
    freeze_dataset(name="xss-train", split="train", user=researcher, description=TEXT)

    annotator = make_user("annotator", username="crowd_xss")
    study = pairwise_study(researcher=researcher, annotators=[annotator], prompts=1, baselines=("b1",), agreement_subset=0, open_it=False)
    from generation.models import Response

    Response.objects.filter(run__in=study.baseline_runs.all()).update(text=TEXT)
    study.guidelines = TEXT
    study.save()
    from annotation.evaluation.services.judging import open_study

    open_study(study=study)
    compare_run = completed_run(dataset=study.dataset, model_name="xss-model", text=lambda row: TEXT)

    login(page, "researcher1")
    # (path, whether the page shows the payload text whole; the others show the evil username or title, or a preview)
    for path, shows_text in (("/review/", False), (f"/examples/{item.pk}/", True), (f"/examples/{item.pk}/history/", True),
                             ("/datasets/", False), ("/quotas/", False), (f"/runs/compare/?runs={compare_run.pk}", True),
                             (f"/runs/{compare_run.pk}/", False), (f"/studies/{study.pk}/", False)):
        response = page.goto(live_server.url + path)
        assert_shown_as_text(page, response, path, shows_text=shows_text)
        assert_nothing_ran(page, path)

    login(page, "crowd_xss")
    response = page.goto(f"{live_server.url}/judge/{study.public_id}/")
    page.wait_for_selector("#judge-form")
    assert_shown_as_text(page, response, "the judging page")
    assert_nothing_ran(page, "the judging page")

    login(page, '<img src=x onerror="window.__xss=1">')
    response = page.goto(f"{live_server.url}/examples/")
    assert_shown_as_text(page, response, "the author's list", shows_text=False)
    response = page.goto(f"{live_server.url}/examples/{item.pk}/")
    assert_shown_as_text(page, response, "the author's example")
    assert_nothing_ran(page, "the author's own pages")
    assert not dialogs
