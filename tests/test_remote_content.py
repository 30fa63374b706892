"""Nothing on a page loads from another site: remote images in user text become text, and every response
carries a strict Content-Security-Policy that the templates, scripts and charts live within."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from annotation.rendering import render_markdown

ROOT = Path(settings.BASE_DIR)


@pytest.mark.parametrize("markdown,alt,url", [
    ("![t](https://tracker.example/p.gif)", "t", "https://tracker.example/p.gif"),
    ("![pixel](//tracker.example/p.gif?who=annotator)", "pixel", "//tracker.example/p.gif?who=annotator"),
    ("![](relative.gif)", "image", "relative.gif"),
    ("[![badge](https://tracker.example/b.svg)](https://example.org/)", "badge", "https://tracker.example/b.svg"),
])
def test_a_remote_image_is_shown_as_its_alt_text_and_url(markdown, alt, url):
    from html import unescape

    html = render_markdown(markdown)
    assert "<img" not in html
    assert unescape(re.sub(r"<[^>]+>", "", html)).strip().endswith(f"[{alt}: {url}]")


def test_raw_html_images_are_dropped_and_a_backslash_cannot_leave_the_site():
    # cmark-gfm drops raw HTML whole, so a hand-written <img> neither loads nor shows its URL.
    raw = render_markdown('<img src="http://tracker.example/a.png?x=1&y=2" alt="a > b">')
    assert "<img" not in raw and "tracker" not in raw
    # Browsers read "/\\host" as "//host"; cmark-gfm percent-encodes the backslash, so the image stays a path on this site.
    assert '<img src="/%5Ctracker.example/p.gif" alt="x">' in render_markdown("![x](/\\tracker.example/p.gif)")


def test_an_image_on_this_site_stays_an_image():
    assert render_markdown("![chart](/static/favicon.svg)").strip() == '<p><img src="/static/favicon.svg" alt="chart"></p>'


@pytest.mark.django_db
def test_every_page_sends_a_strict_content_security_policy(client, researcher):
    client.force_login(researcher)
    for url in (reverse("home"), reverse("login"), reverse("datasets:dataset_list"), reverse("api:api-root")):
        header = client.get(url)["Content-Security-Policy"]
        directives = {name: values for name, *values in (part.split() for part in header.split(";") if part.strip())}
        for name in ("default-src", "script-src", "style-src", "img-src", "connect-src", "font-src"):
            assert directives[name] == ["'self'"], (url, name, header)
        assert directives["object-src"] == directives["frame-ancestors"] == directives["base-uri"] == ["'none'"]
        assert "unsafe" not in header and "data:" not in header


def project_templates() -> list[Path]:
    return [path for path in ROOT.glob("**/templates/**/*.html") if ".venv" not in path.parts and "var" not in path.parts]


def test_no_template_has_inline_script_style_or_handler():
    """What the policy would refuse in a browser: inline <script>, <style>, style= and on...= attributes."""
    offending = []
    for path in project_templates():
        text = path.read_text()
        for pattern in (r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", r"<style\b", r"\sstyle=",
                        r"\son[a-z]+\s*=", r"javascript:"):
            offending += [f"{path.relative_to(ROOT)}: {match.group(0)}" for match in re.finditer(pattern, text)]
    assert len(project_templates()) > 40 and offending == []


def test_charts_embedded_in_pages_carry_no_inline_css():
    from annotation.evaluation import charts
    from annotation.evaluation.stats import PairwiseJudgment, statistics_report

    judgments = [PairwiseJudgment(item=f"p{i}", prompt=f"p{i}", baseline="gpt", annotator=name, group="crowd", verdict="target")
                 for i in range(6) for name in ("x", "y")]
    report = statistics_report(judgments, resamples=20)
    for svg in (charts.outcome_chart(report.human, report.llm), charts.agreement_heatmap(report.agreement),
                charts.rating_chart(report.ratings)):
        assert b"style" not in svg and b'fill="#' in svg and b"font-size=" in svg
