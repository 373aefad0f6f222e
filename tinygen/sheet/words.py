"""Word parts for lexical matching: a request's words against paths and file contents.

``patch engine places hunks`` should find ``tinygen/patch/apply.py`` defining
``place_hunk``: so identifiers and path components are split on ``_``, ``-``, ``.``, ``/``
and camelCase (``HTTPServerError`` -> http, server, error), lowercased, and reduced by a
light stemmer that only has to agree with itself (``places``, ``placed``, ``placing`` and
``place`` all become ``plac``). Stop words (English function words and a few words every
code request uses) are dropped, as are parts shorter than 2 characters.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache

# Bump when the words below change: cached term bags are then rebuilt.
WORDS_VERSION = 6

# Camel-case aware word parts: "HTTPServer" -> HTTP, Server; "parseV2" -> parse, V, 2.
_PART = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")

_STOP_TEXT = """
    a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each
    few for from further had has have having he her here hers him his how i if in into is
    it its itself just me more most my no nor not now of off on once only or other our
    out over own same she should so some such than that the their them then there these
    they this those through to too under until up very was we were what when where which
    while who whom why will with would you your yours
    please fix add make change changes update use using want need needs new so get set
    py pyi js ts tsx jsx go rs md txt init main src lib self cls none true false
"""
STOP_WORDS = frozenset(_STOP_TEXT.split())


def stem(word: str) -> str:
    """A lowercase word reduced to a crude stem (plural, -ing, -ed, final e, final y after
    a consonant as i: ``cookie``/``cookies``, ``query``/``queries`` agree)."""
    w = word
    if len(w) <= 3:
        return w
    if w.endswith(("ies", "ied")) and len(w) > 4:
        w = w[:-3] + "i"
    elif w.endswith(("ches", "shes")) or (w.endswith("es") and w[-3] in "sxz"):
        w = w[:-2]
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    elif w.endswith("ing") and len(w) >= 6:
        w = _undouble(w[:-3])
    elif w.endswith("ed") and len(w) >= 5:
        w = _undouble(w[:-2])
    if w.endswith("e") and len(w) > 3:
        w = w[:-1]
    elif w.endswith("y") and len(w) > 3 and w[-2] not in "aeiou":
        w = w[:-1] + "i"  # query, queries -> queri; entry, entries -> entri
    return w


def _undouble(w: str) -> str:
    # running -> runn -> run; but keep "ll"/"ss"/"zz" (called -> call, passed -> pass)
    if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "lsz":
        return w[:-1]
    return w


def word_parts(text: str) -> list[str]:
    """Stemmed, lowercase word parts of any text (identifiers, paths, prose), in order,
    stop words and single characters dropped, repeats kept."""
    out = []
    for part in _PART.findall(text):
        w = part.lower()
        if len(w) < 2 or w in STOP_WORDS:
            continue
        out.append(stem(w))
    return out


@lru_cache(maxsize=1 << 16)
def _name_parts(name: str) -> tuple[str, ...]:
    return tuple(word_parts(name))


def path_words(path: str) -> set[str]:
    """Word parts of every component of a repository path, directories included, without
    the file extension."""
    dot = path.rfind(".")
    if dot > path.rfind("/") + 1:
        path = path[:dot]
    out: set[str] = set()
    for part in path.split("/"):  # folder names repeat: their parts are remembered
        out.update(_name_parts(part) if len(part) <= 64 else word_parts(part))
    return out


# Word-like tokens of any text: identifiers, and the words of strings and comments.
_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
DEFINITION_BOOST = 1  # a defined name's parts count this many extra times in a term bag


@lru_cache(maxsize=1 << 16)
def _terms(token: str) -> tuple[str, ...]:
    """A token's content-channel terms: its word parts, and the whole token lowercased
    when it has several (``InvalidURL`` -> invalid, url, invalidurl), so that a request
    naming an identifier matches it more than its parts scattered about."""
    parts = _name_parts(token)
    if len(parts) > 1:
        whole = token.strip("_").lower()
        if whole not in STOP_WORDS:
            return (*parts, whole)
    return parts


def query_terms(text: str) -> list[str]:
    """The content-channel terms of a request, in order, repeats kept."""
    out: list[str] = []
    for token in _TOKEN.findall(text):
        if len(token) <= 64:
            out.extend(_terms(token))
    return out


def tokens_of(text: str) -> Counter[str]:
    """Word-like tokens of a text with their counts (identifiers, words of strings and
    comments)."""
    return Counter(_TOKEN.findall(text))


def term_counts(tokens: Counter[str], defined: Iterable[str] = (), doc: str = "") -> dict[str, int]:
    """Stemmed word parts of a whole file (``tokens_of`` its text: identifiers, strings,
    comments, docstrings) with their counts, for the content channel (BM25). The parts
    of the names the file defines (``defined``) and of its module docstring count
    ``DEFINITION_BOOST`` more times each: a file that defines ``bulk_create`` is more
    about it than one that calls it."""
    out: dict[str, int] = {}
    get = out.get
    for token, count in tokens.items():
        if len(token) > 64:
            continue
        for part in _terms(token):
            out[part] = get(part, 0) + count
    for name in defined:
        for part in _terms(name):
            out[part] = get(part, 0) + DEFINITION_BOOST
    for part in word_parts(doc):
        out[part] = get(part, 0) + DEFINITION_BOOST
    return out
