"""User text (examples, responses) is Markdown rendered on the server and sanitised before any browser sees it.

Images load only from this site: a remote image (`![t](https://tracker.example/p.gif)`) in a model's
response would tell its author which annotator opened which item and when, so the sanitiser shows
its alt text and URL as plain text instead (and the Content-Security-Policy's `img-src 'self'`
would block it anyway).

The renderer is cmark-gfm (GitHub's C implementation of CommonMark, through cmarkgfm): linear time,
tested against pathological input upstream. Python-Markdown took 17 s on "[" * 6,000 and 165 s on
"[" * 20,000 (quadratic), and it ran on every autosave and for every response on the judging page.
markdown-it-py is linear too but pure Python: 1 to 2.5 s for a 100,000-character pathological text,
where cmark-gfm stays under 0.1 s (`make bench`, bench/bench_hostile_input.py).

Raw HTML in a text is not passed through (cmark's safe mode drops it), fenced code, lists, tables and
~~strikethrough~~ are rendered, and nh3 then sanitises the result. nh3's HTML parser is quadratic in the
depth of nested blocks (100,000 ">" nest 100,000 blockquotes: 110 s), so a line's blockquote markers past
MAX_NESTING are escaped before rendering, and any container still nested deeper (lists inside quotes
inside lists...) is flattened before nh3; the text stays either way.
"""

from __future__ import annotations

import html
import re

import cmarkgfm
import nh3

_ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
    "i", "img", "li", "ol", "p", "pre", "strong", "sub", "sup", "table", "tbody", "td", "th", "thead", "tr", "ul",
}
_ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "code": {"class"}, "th": {"align"}, "td": {"align"}}
_EXTENSIONS = ["table", "strikethrough"]
MAX_NESTING = 32
# The markers past the first MAX_NESTING of a line: a backslash makes the next ">" text, and the rest of the
# line is then a paragraph, where ">" means nothing.
_DEEP_QUOTE = re.compile(r"^((?:[ \t]*>){%d}[ \t]*)(?=>)" % MAX_NESTING, re.MULTILINE)
# cmark-gfm's own output: every "<" is a tag (text is escaped), so a regex walk over the tags is exact.
_CONTAINER = re.compile(r"<(/?)(?:blockquote|ul|ol|li)\b[^>]*>")


def _flatten_deep_containers(markup: str) -> str:
    """Drop the tags of blockquotes and lists nested deeper than MAX_NESTING (their content stays)."""
    if markup.count("<blockquote") + markup.count("<li") <= MAX_NESTING:
        return markup
    parts, depth, kept_until = [], 0, 0
    for tag in _CONTAINER.finditer(markup):
        if tag.group(1):
            depth -= 1
            deep = depth >= MAX_NESTING
        else:
            deep = depth >= MAX_NESTING
            depth += 1
        if deep:
            parts.append(markup[kept_until:tag.start()])
            kept_until = tag.end()
    parts.append(markup[kept_until:])
    return "".join(parts)


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
    text = text or ""
    if not text.isascii():
        text = text.encode("utf-8", "replace").decode("utf-8")  # a lone surrogate cannot reach the C library
    if ">" * MAX_NESTING in text.replace(" ", "").replace("\t", ""):
        text = _DEEP_QUOTE.sub(r"\1\\", text)
    markup = cmarkgfm.markdown_to_html_with_extensions(text, options=0, extensions=_EXTENSIONS)
    return sanitise_html(_flatten_deep_containers(markup))
