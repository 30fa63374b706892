"""A response that embeds a tracking pixel cannot learn who judged it: Chromium never asks the other site."""

import pytest

from generation.models import Response

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PIXEL = "https://tracker.example/p.gif?item=1"


def test_a_remote_image_in_a_response_is_never_requested(page, live_server, open_judging):
    requested = []
    page.route("**/*", lambda route: (requested.append(route.request.url), route.continue_()
                                      if route.request.url.startswith(live_server.url) else route.abort()))
    study = open_judging("crowd_pixel", 1)
    Response.objects.filter(run__in=study.baseline_runs.all()).update(text=f"Sure.\n\n![t]({PIXEL})\n\n<img src=\"{PIXEL}\">")
    from annotation.evaluation.models import ComparisonItem

    item = ComparisonItem.objects.get(study=study)
    # The item's text is replaced after it was built, so its stored HTML (rendered once at build) is rendered again here
    # by the same function the build uses.
    from annotation.rendering import render_markdown

    text = f"Sure.\n\n![t]({PIXEL})\n\n<img src=\"{PIXEL}\">"
    side = "b" if item.target_is_a else "a"
    ComparisonItem.objects.filter(pk=item.pk).update(**{f"text_{side}": text, f"html_{side}": render_markdown(text)})
    response = page.goto(f"{live_server.url}/judge/{study.public_id}/")
    assert "img-src 'self'" in response.headers["content-security-policy"]
    page.wait_for_selector("#judge-form")
    page.wait_for_timeout(300)
    main = page.inner_text("main")
    # The Markdown image is shown as its alt text and URL; the raw <img> tag is dropped whole (cmark-gfm's safe mode).
    assert f"[t: {PIXEL}]" in main and "<img" not in main
    assert page.evaluate("document.querySelectorAll('main img').length") == 0
    assert not [url for url in requested if "tracker.example" in url]
    assert requested and all(url.startswith(live_server.url) for url in requested)
