r"""Issue and comment text as a person sees it on GitHub, before it reaches the model.

Markdown can carry text that the rendered page does not show: HTML comments, zero-width
and bidi control characters, Unicode "tag" characters, image alt text and link titles,
link reference definitions, attributes, elements marked hidden, text shrunk to nothing
with nested ``<sub>``, and math that hides it (``\phantom``, ``\color``).
A maintainer who reads an issue and labels it ``tinygen`` approves what they saw, so only
that reaches the model. Code spans and fenced blocks are shown literally by GitHub, so
markup inside them is kept (invisible characters are removed everywhere).
"""

from __future__ import annotations

import html
import re
import unicodedata

# Tags GitHub renders (its sanitizer's allow-list, roughly). Only these are treated as
# markup; any other ``<word>`` is left alone, since it is shown as text.
_HTML_TAGS = (
    "a|abbr|b|bdi|bdo|blockquote|br|caption|center|cite|code|dd|del|details|dfn|div|dl|dt|em|"
    "figcaption|figure|font|h[1-6]|hr|i|img|ins|kbd|li|mark|ol|p|picture|pre|q|rp|rt|ruby|s|"
    "samp|small|source|span|strike|strong|sub|summary|sup|table|tbody|td|tfoot|th|thead|tr|"
    "tt|u|ul|var|video|wbr|input|meta|link|iframe|object|embed|svg|math|noscript|template|"
    "script|style|title|textarea|form|label|button|select|option"
)
_TAG = re.compile(rf"</?(?:{_HTML_TAGS})\b[^<>]*/?>", re.IGNORECASE)
_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)
# Elements whose content is never shown.
_INVISIBLE_ELEMENT = re.compile(
    r"<(script|style|template|noscript|textarea|title|svg|math|iframe|object)\b[^>]*>.*?(?:</\1\s*>|\Z)",
    re.IGNORECASE | re.DOTALL,
)
_HIDDEN_ATTR = (
    r"(?:\shidden\b|\saria-hidden\s*=\s*[\"']?true|"
    r"\sstyle\s*=\s*[\"'][^\"']*(?:display\s*:\s*none|visibility\s*:\s*hidden|"
    r"font-size\s*:\s*0|opacity\s*:\s*0(?![.\d]*[1-9])))"
)
_HIDDEN_ELEMENT = re.compile(
    rf"<([a-z][a-z0-9]*)\b[^<>]*{_HIDDEN_ATTR}[^<>]*>.*?(?:</\1\s*>|\Z)",
    re.IGNORECASE | re.DOTALL,
)
_SUBSUP = re.compile(r"<(/?)(sub|sup|small)\b[^<>]*>", re.IGNORECASE)
# ![alt](src "title") -> ![](src); [text](url "title") -> [text](url)
_MD_IMAGE = re.compile(
    r"!\[[^\]]*\]\(\s*(<[^>]*>|[^)\s]*)(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^)]*\)))?\s*\)"
)
_MD_LINK_TITLE = re.compile(
    r"(\[[^\]]*\]\(\s*(?:<[^>]*>|[^)\s]*))\s+(?:\"[^\"]*\"|'[^']*'|\([^)]*\))\s*\)"
)
# [label]: url "title" — link reference definitions are not rendered at all, so their text
# (label and title alike) is hidden; the title may sit on the next line
_MD_REFERENCE = re.compile(
    r"^ {0,3}\[(?=[^\]\n]*\S)[^\]\n]{1,999}\]:[ \t]*\n?[ \t]*(?:<[^<>\n]*>|[^\s<]\S*)"
    r"(?:(?:[ \t]+|[ \t]*\n[ \t]*)(?:\"[^\"]*\"|'[^']*'|\([^()]*\)))?[ \t]*(?:\n|\Z)",
    re.MULTILINE,
)
# Math (rendered by GitHub) that hides text: \phantom reserves blank space for it, \color
# and friends can paint it in the page's background colour. Such math is dropped whole.
_HIDING_MATH = re.compile(r"\\(?:[hv]?phantom|color|textcolor|colorbox|fcolorbox)\b")
_MATH_BLOCK = re.compile(r"\$\$.+?\$\$", re.DOTALL)
_MATH_INLINE = re.compile(r"\$(?!\s)(?:[^$\n\\]|\\.)+?(?<!\s)\$")
_MATH_CODE = re.compile(r"\$(`+)(?!`).+?(?<!`)\1\$", re.DOTALL)  # $`...`$
_MATH_FENCE = re.compile(
    r"^( {0,3})(`{3,}|~{3,})[ \t]*math[ \t]*\n.*?(?:^\1?\2[`~]*[ \t]*$|\Z)",
    re.DOTALL | re.MULTILINE | re.IGNORECASE,
)
_FENCE = re.compile(
    r"^( {0,3})(`{3,}|~{3,})[^\n]*\n.*?(?:^\1?\2[`~]*[ \t]*$|\Z)", re.DOTALL | re.MULTILINE
)
_CODE_SPAN = re.compile(r"(`+)(?!`).+?(?<!`)\1(?!`)", re.DOTALL)

_KEEP_CONTROLS = {"\n", "\t"}


def is_invisible(char: str) -> bool:
    """Format characters (zero-width, bidi controls, tag characters, soft hyphen, BOM),
    other control characters, and the variation selectors used to smuggle bytes."""
    if char in _KEEP_CONTROLS:
        return False
    cat = unicodedata.category(char)
    code = ord(char)
    return (
        cat in ("Cf", "Cc", "Co", "Cn", "Cs")  # Cs: a lone surrogate (not text at all)
        or 0xFE00 <= code <= 0xFE0F
        or 0xE0100 <= code <= 0xE01EF
        or char in "\u115f\u1160\u3164\uffa0"  # Hangul fillers render as blanks
    )


def strip_invisible(text: str) -> str:
    return "".join(c for c in text.replace("\r\n", "\n").replace("\r", "\n") if not is_invisible(c))


def split_code(text: str) -> list[tuple[bool, str]]:
    """``text`` as (is_code, piece) segments: fenced blocks and code spans are code."""
    out: list[tuple[bool, str]] = []
    pos = 0
    for fence in _FENCE.finditer(text):
        out += _split_spans(text[pos : fence.start()])
        out.append((True, fence.group(0)))
        pos = fence.end()
    out += _split_spans(text[pos:])
    return [(code, piece) for code, piece in out if piece]


def _split_spans(text: str) -> list[tuple[bool, str]]:
    out: list[tuple[bool, str]] = []
    pos = 0
    for span in _CODE_SPAN.finditer(text):
        out.append((False, text[pos : span.start()]))
        out.append((True, span.group(0)))
        pos = span.end()
    out.append((False, text[pos:]))
    return out


def _drop_tiny_text(text: str) -> str:
    """Text inside two or more nested sub/sup/small elements renders unreadably small."""
    out: list[str] = []
    depth = 0
    pos = 0
    for tag in _SUBSUP.finditer(text):
        if depth < 2:
            out.append(text[pos : tag.start()])
        depth = max(0, depth - 1) if tag.group(1) else depth + 1
        pos = tag.end()
    if depth < 2:
        out.append(text[pos:])
    return "".join(out)


def _drop_hiding_math(pattern: re.Pattern[str], text: str) -> str:
    return pattern.sub(lambda m: "" if _HIDING_MATH.search(m.group(0)) else m.group(0), text)


def _prose(text: str) -> str:
    # Removing one construct can join the pieces of another ("<<!---->!-- x -->"): repeat
    # until nothing changes (each round only shortens the text, so this ends).
    previous = None
    while previous != text:
        previous, text = text, _prose_once(text)
    # Entities last, so an escaped "&lt;!-- --&gt;" (shown as text on GitHub) stays text.
    return html.unescape(text)


def _prose_once(text: str) -> str:
    text = _COMMENT.sub("", text)
    text = _INVISIBLE_ELEMENT.sub("", text)
    previous = None
    while previous != text:  # hidden elements may nest
        previous, text = text, _HIDDEN_ELEMENT.sub("", text)
    text = _drop_tiny_text(text)
    text = _MD_IMAGE.sub(r"![](\1)", text)
    text = _MD_LINK_TITLE.sub(r"\1)", text)
    text = _MD_REFERENCE.sub("", text)
    text = _drop_hiding_math(_MATH_BLOCK, text)
    text = _drop_hiding_math(_MATH_INLINE, text)
    # Tags go, their (visible) text stays; attributes such as alt= and title= go with them.
    return _TAG.sub("", text)


def sanitize(text: str) -> str:
    """The visible text of GitHub Markdown ``text``: see the module docstring."""
    text = strip_invisible(text or "")
    # math written with code markup ($`...`$, ```math) would otherwise be kept as code
    text = _drop_hiding_math(_MATH_FENCE, _drop_hiding_math(_MATH_CODE, text))
    pieces = [piece if code else _prose(piece) for code, piece in split_code(text)]
    text = strip_invisible("".join(pieces))  # entities may have spelled invisible characters
    lines = [line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


__all__ = ["is_invisible", "sanitize", "split_code", "strip_invisible"]
