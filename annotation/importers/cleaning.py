"""Turning community HTML and Markdown into LIMA-style response text (no Django import).

LIMA strips links, images and other HTML from mined answers and keeps code blocks and lists; we
convert those to Markdown, and keep the structure whose loss changes what the text says: block
quotes keep their `>` markers (quoted words must not read as the answer's own), headings their
`#`, emphasis its `*`/`**`.
"""

from __future__ import annotations

import re

from lxml import etree, html as lxml_html

_BLOCK_TAGS = frozenset(
    "p div blockquote h1 h2 h3 h4 h5 h6 table thead tbody tfoot tr section article aside header footer "
    "dl dt dd figure figcaption hr pre ul ol details summary center".split()
)
_HEADINGS = frozenset("h1 h2 h3 h4 h5 h6".split())
_EMPHASIS = {"em": "*", "i": "*", "strong": "**", "b": "**"}
_DROPPED_TAGS = frozenset("img script style svg iframe object embed video audio button input form".split())
_BR = "\x00"
_URL = re.compile(r"(?:https?://|www\.)[^\s<>()\[\]]+[^\s<>()\[\].,;:!?'\"]", re.IGNORECASE)
_SPACES = re.compile(r"[ \t\r\n\f\v\u00a0]+")
_CODE_FENCE = re.compile(r"^```.*?^```[ \t]*$", re.MULTILINE | re.DOTALL)
_INLINE_CODE = re.compile(r"`[^`\n]*`")


def _collapse(text: str) -> str:
    """Inline text: runs of whitespace become one space; <br> becomes a newline."""
    lines = [_SPACES.sub(" ", part).strip() for part in text.split(_BR)]
    return "\n".join(line for line in lines if line)


_URL_WITH_SPACE = re.compile(r"[ \t]*" + _URL.pattern, re.IGNORECASE)


def _without_urls(text: str) -> str:
    return _URL_WITH_SPACE.sub("", text)


def _inline(node) -> str:
    """The inline text of an element's content (without its tail)."""
    parts = [node.text or ""]
    for child in node:
        parts.append(_inline_child(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _inline_child(child) -> str:
    tag = child.tag if isinstance(child.tag, str) else ""
    if not tag or tag in _DROPPED_TAGS:
        return ""
    if tag == "br":
        return _BR
    if tag == "code":
        code = child.text_content()
        return f"`{code}`" if code.strip() else ""
    if tag in _EMPHASIS:
        return _emphasised(_inline(child), _EMPHASIS[tag])
    if tag == "a":
        text = _inline(child)
        # The link goes; its words stay unless they are the bare URL itself.
        return "" if _URL.fullmatch(text.strip() or "http://x") else text
    return _inline(child)


def _emphasised(text: str, marker: str) -> str:
    """`*text*` keeping the surrounding spaces outside the markers (Markdown ignores `* text *`)."""
    core = text.strip()
    if not core or _BR in core:
        return text
    start = text[: len(text) - len(text.lstrip())]
    end = text[len(text.rstrip()):]
    return f"{start}{marker}{core}{marker}{end}"


def _code_block(pre) -> str:
    code = pre.text_content().strip("\n")
    language = ""
    for cls in (pre.get("class") or "").split():
        if cls.startswith("lang-") and cls != "lang-none":
            language = cls.removeprefix("lang-")
    return f"```{language}\n{code}\n```"


def _list_lines(node, depth: int) -> list[str]:
    """Markdown lines of a <ul>/<ol>; nested lists are indented two spaces per level."""
    lines: list[str] = []
    ordered = node.tag == "ol"
    number = int(node.get("start", "1")) if (node.get("start") or "1").isdigit() else 1
    for item in node:
        if not isinstance(item.tag, str) or item.tag != "li":
            continue
        marker = f"{number}." if ordered else "-"
        number += 1
        text_parts = [item.text or ""]
        nested: list[str] = []
        for child in item:
            if child.tag in ("ul", "ol"):
                nested.extend(_list_lines(child, depth + 1))
            elif child.tag == "pre":
                nested.extend("  " * (depth + 1) + line for line in _code_block(child).splitlines())
            else:
                text_parts.append(_inline_child(child) if child.tag not in _BLOCK_TAGS else " " + _inline(child) + " ")
            text_parts.append(child.tail or "")
        text = _without_urls(_collapse("".join(text_parts))).replace("\n", " ").strip()
        lines.append("  " * depth + f"{marker} {text}".rstrip())
        lines.extend(nested)
    return lines


def _blocks(node, out: list[str]) -> None:
    """Append the Markdown blocks of an element's content to `out`."""
    buffer = [node.text or ""]

    def flush() -> None:
        text = _without_urls(_collapse("".join(buffer)))
        text = "\n".join(_SPACES.sub(" ", line).strip() for line in text.splitlines())
        if text.strip():
            out.append(text.strip())
        buffer.clear()

    for child in node:
        tag = child.tag if isinstance(child.tag, str) else ""
        if tag == "pre":
            flush()
            out.append(_code_block(child))
        elif tag in ("ul", "ol"):
            flush()
            lines = _list_lines(child, 0)
            if lines:
                out.append("\n".join(lines))
        elif tag in _HEADINGS:
            flush()
            heading = _without_urls(_collapse(_inline(child))).replace("\n", " ").strip()
            if heading:
                out.append("#" * int(tag[1]) + " " + heading)
        elif tag == "blockquote":
            flush()
            quoted: list[str] = []
            _blocks(child, quoted)
            if quoted:
                out.append("\n".join(f"> {line}" if line else ">" for line in "\n\n".join(quoted).splitlines()))
        elif tag == "hr":
            flush()
        elif tag in _BLOCK_TAGS:
            flush()
            _blocks(child, out)
        else:
            buffer.append(_inline_child(child))
        buffer.append(child.tail or "")
    flush()


def html_to_markdown(body: str) -> str:
    """LIMA's answer cleaning: drop links, images and every other tag; keep code blocks and lists as Markdown."""
    if not body or not body.strip():
        return ""
    try:
        root = lxml_html.fragment_fromstring(body, create_parent="div")
    except (etree.ParserError, ValueError):
        return _without_urls(_collapse(body))
    out: list[str] = []
    _blocks(root, out)
    return "\n\n".join(out).strip()


_MD_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)|<img\b[^>]*>", re.IGNORECASE)
_MD_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_HTML_LINK = re.compile(r"<a\b[^>]*>(.*?)</a>", re.IGNORECASE | re.DOTALL)
_BLANK_LINES = re.compile(r"\n{3,}")


def strip_links_and_images(text: str) -> str:
    """For Markdown-ish sources (Reddit, wikiHow): images go, links keep their words, bare URLs go."""
    text = _MD_IMAGE.sub("", text)
    text = _MD_LINK.sub(lambda m: "" if _URL.fullmatch(m.group(1).strip() or "http://x") else m.group(1), text)
    text = _HTML_LINK.sub(r"\1", text)
    text = _URL_WITH_SPACE.sub("", text)
    text = "\n".join(line.rstrip() for line in text.splitlines())
    return _BLANK_LINES.sub("\n\n", text).strip()


def prose_only(markdown: str) -> str:
    """The text outside code: rules about wording must not fire on identifiers in code."""
    return _INLINE_CODE.sub(" ", _CODE_FENCE.sub(" ", markdown))
