"""User text (examples, responses) is Markdown rendered on the server and sanitised before any browser sees it.

Images load only from this site: a remote image (`![t](https://tracker.example/p.gif)`) in a model's
response would tell its author which annotator opened which item and when, so the sanitiser shows
its alt text and URL as plain text instead (and the Content-Security-Policy's `img-src 'self'`
would block it anyway).
"""

from __future__ import annotations

import html
import re

import markdown
import nh3

_ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
    "i", "img", "li", "ol", "p", "pre", "strong", "sub", "sup", "table", "tbody", "td", "th", "thead", "tr", "ul",
}
_ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "code": {"class"}, "th": {"align"}, "td": {"align"}}


# nh3 writes every attribute value in double quotes with `"` escaped, so a tag is `<img`, then
# anything but `>` outside quotes, then `>`.
_IMAGE_TAG = re.compile(r'<img\b(?P<attributes>(?:[^>"]|"[^"]*")*)>')
_ATTRIBUTE = re.compile(r'([a-zA-Z-]+)="([^"]*)"')
# A path on this site: one slash, then no second slash or backslash (browsers read "/\\host" as "//host").
_SAME_SITE_PATH = re.compile(r"/(?![/\\])[^\\\s]*")


def _same_site_image_or_text(match: re.Match) -> str:
    attributes = dict(_ATTRIBUTE.findall(match.group("attributes")))
    source = html.unescape(attributes.get("src", ""))
    if _SAME_SITE_PATH.fullmatch(source):
        return match.group(0)
    alt = html.unescape(attributes.get("alt", "")).strip() or "image"
    return f'<span class="image-not-loaded">[{html.escape(alt)}: {html.escape(source)}]</span>'


def sanitise_html(markup: str) -> str:
    """HTML that is safe to insert into a page: no scripts, handlers, javascript: URLs or images from other sites."""
    clean = nh3.clean(
        markup,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return _IMAGE_TAG.sub(_same_site_image_or_text, clean) if "<img" in clean else clean


def render_markdown(text: str) -> str:
    """Markdown to HTML that is safe to insert into a page (see sanitise_html)."""
    html = markdown.markdown(text or "", extensions=["fenced_code", "tables", "sane_lists"], output_format="html")
    return sanitise_html(html)
