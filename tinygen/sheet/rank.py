"""File graph and personalized PageRank, personalized by what the request mentions.

Edges run from a file to the files it depends on: every resolved import (weight 1) and
every name it uses that another file defines at top level (weight 1/number of files
defining that name; names defined in more than ``MAX_DEFINERS`` files are too generic to
mean anything and are ignored); each also runs backwards at ``BACKWARD`` of its weight.

The teleport vector comes from the request: the paths, module names and file names it
mentions (those files also rank first, in the order named), the identifiers it uses
(the files defining them), and its words matched lexically (see ``lexical_weights``)
against each file's path components and the word parts of its symbol names and
docstring, weighted by rarity. The final order blends the PageRank score with the
file's own share of the teleport vector (``DIRECT``), so a file the request is about
is not outranked by a hub every file imports. Plain power iteration, deterministic: the
same input gives the same floats in the same order.
"""

from __future__ import annotations

import math
import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import islice
from operator import mul, sub

from tinygen.sheet.model import FileEntry
from tinygen.sheet.words import path_words, word_parts

MAX_DEFINERS = 10
DAMPING = 0.85
BACKWARD = 0.3  # weight of a dependent -> dependency edge's reverse
LEXICAL = 3.0  # teleport weight of the best lexical match (a mention adds 10)
LEXICAL_TOP = 30  # files kept from the lexical match: beyond them it is noise
PATH_WORD = 1.0  # weight of a query word found in the file's path
SYMBOL_WORD = 0.5  # ... found only among its symbol names and docstring
DIRECT = 0.5  # share of the final score taken from the teleport vector itself
MAX_TOKENS = 2000  # distinct tokens of a request looked at as names
_TOKEN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./\\-]*")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class QueryMatch:
    mentioned: list[str]  # paths the request names, most specific first
    weights: dict[str, float]  # path -> teleport weight (unnormalized)


def _module_name(path: str) -> str:
    stem = path.rsplit(".", 1)[0]
    if stem.endswith("/__init__"):
        stem = stem[: -len("/__init__")]
    return stem.replace("/", ".")


def match_query(query: str, files: Sequence[FileEntry]) -> QueryMatch:
    """Which files the request names (paths, module names, file names) or points at
    (identifiers they define, file stems)."""
    if not query.strip():
        return QueryMatch([], {})
    paths = [f.path for f in files]
    path_set = set(paths)
    by_name: dict[str, list[str]] = {}
    by_stem: dict[str, list[str]] = {}
    by_module: dict[str, list[str]] = {}
    for p in paths:
        name = posixpath.basename(p)
        by_name.setdefault(name, []).append(p)
        by_stem.setdefault(name.split(".", 1)[0].lower(), []).append(p)
        if p.endswith((".py", ".pyi")):
            mod = _module_name(p)
            by_module.setdefault(mod, []).append(p)
    found: dict[str, tuple[int, int]] = {}  # path -> (specificity, position)
    weights: dict[str, float] = {}

    def mention(p: str, spec: int, pos: int) -> None:
        old = found.get(p)
        if old is None or (-spec, pos) < (-old[0], old[1]):
            found[p] = (spec, pos)

    cleaned = (t.strip(".,:;!?)('\"`/\\-") for t in _TOKEN.findall(query))
    # Distinct tokens in order of first use, at most MAX_TOKENS: a pasted log or file
    # must not make ranking slow (positions only order the mentions).
    tokens = list(islice(dict.fromkeys(t for t in cleaned if t), MAX_TOKENS))
    endings: dict[str, list[str]] | None = None  # "b/c.py" -> paths ending in "/b/c.py"
    for pos, tok in enumerate(tokens):
        tok = tok.replace("\\", "/").removeprefix("./")
        if not tok:
            continue
        if tok in path_set:
            mention(tok, 4, pos)
            continue
        if "/" in tok:
            if endings is None:
                endings = {}
                for p in paths:
                    cut = p.find("/")
                    while cut != -1:
                        endings.setdefault(p[cut + 1 :], []).append(p)
                        cut = p.find("/", cut + 1)
            hits = endings.get(tok, [])
            if 0 < len(hits) <= 5:
                for p in hits:
                    mention(p, 3, pos)
                continue
        if "." in tok and tok in by_module:
            for p in by_module[tok]:
                mention(p, 3, pos)
            continue
        if "." in tok and not tok.endswith(".") and tok in by_name:
            hits = by_name[tok]
            if len(hits) <= 5:
                for p in hits:
                    mention(p, 2, pos)
            else:
                for p in hits:
                    weights[p] = weights.get(p, 0.0) + 1.0 / len(hits)
            continue
        for word in _IDENT.findall(tok):
            stem_hits = by_stem.get(word.lower(), [])
            for p in stem_hits[:20]:
                weights[p] = weights.get(p, 0.0) + 0.5 / len(stem_hits)
    ordered = sorted(found, key=lambda p: (-found[p][0], found[p][1], p))
    for p in ordered:
        weights[p] = weights.get(p, 0.0) + 10.0
    return QueryMatch(ordered, weights)


def _identifier_weights(
    query: str, defs: dict[str, list[int]], files: Sequence[FileEntry]
) -> dict[str, float]:
    out: dict[str, float] = {}
    for word in islice(dict.fromkeys(_IDENT.findall(query)), MAX_TOKENS):
        definers = defs.get(word)
        if definers and len(definers) <= MAX_DEFINERS * 5:
            for i in definers:
                p = files[i].path
                out[p] = out.get(p, 0.0) + 2.0 / len(definers)
    return out


def lexical_weights(query: str, files: Sequence[FileEntry]) -> dict[str, float]:
    """Path -> weight in (0, LEXICAL] for the files whose words the request uses.

    Each query word (split, stemmed, stop words dropped: see words.py) found in a file
    counts its idf, log(N / files containing it), times PATH_WORD when it is a component
    of the file's path (a directory or the file name) else SYMBOL_WORD when it is part
    of a symbol name or the docstring. The best ``LEXICAL_TOP`` files are scaled so the
    top one gets ``LEXICAL``.
    """
    terms = set(word_parts(query))
    if not terms or not files:
        return {}
    hits: list[tuple[str, set[str], set[str]]] = []  # path, words in path, words in symbols
    df: dict[str, int] = {}
    for f in files:
        in_path = terms.intersection(path_words(f.path))
        in_syms = terms.intersection(f.words.split()) - in_path if f.words else set()
        if in_path or in_syms:
            hits.append((f.path, in_path, in_syms))
            for t in in_path | in_syms:
                df[t] = df.get(t, 0) + 1
    n = len(files)
    idf = {t: math.log((n + 1) / d) for t, d in df.items()}
    scored = [
        (sum(idf[t] for t in ip) * PATH_WORD + sum(idf[t] for t in isy) * SYMBOL_WORD, p)
        for p, ip, isy in hits
    ]
    scored.sort(key=lambda x: (-x[0], x[1]))
    top = scored[:LEXICAL_TOP]
    if not top or top[0][0] <= 0:
        return {}
    best = top[0][0]
    return {p: LEXICAL * s / best for s, p in top if s > 0}


def build_graph(files: Sequence[FileEntry]) -> tuple[list[dict[int, float]], dict[str, list[int]]]:
    """Outgoing weighted edges per file index, and name -> indices of files defining it."""
    index = {f.path: i for i, f in enumerate(files)}
    defs: dict[str, list[int]] = {}
    for i, f in enumerate(files):
        for name in f.defs.split():
            defs.setdefault(name, []).append(i)
    usable = {n for n, d in defs.items() if len(d) <= MAX_DEFINERS}
    edges: list[dict[int, float]] = [{} for _ in files]
    for i, f in enumerate(files):
        out = edges[i]
        for target in f.resolved:
            j = index.get(target)
            if j is not None and j != i:
                out[j] = out.get(j, 0.0) + 1.0
        if not f.refs:
            continue
        for name in sorted(usable.intersection(f.refs.split())):
            definers = defs[name]
            w = 1.0 / len(definers)
            for j in definers:
                if j != i:
                    out[j] = out.get(j, 0.0) + w
    # Rank also flows back, more weakly, from a file to the files that depend on it: the
    # callers of what a request names are often where the change goes too.
    for i, out in enumerate([dict(e) for e in edges]):
        for j, w in out.items():
            back = edges[j]
            back[i] = back.get(i, 0.0) + BACKWARD * w
    return edges, defs


def pagerank(
    edges: Sequence[dict[int, float]],
    personal: Sequence[float],
    iterations: int = 60,
    tol: float = 1e-7,
) -> list[float]:
    n = len(edges)
    if n == 0:
        return []
    total = sum(personal)
    p = [x / total for x in personal] if total > 0 else [1.0 / n] * n
    # Incoming edges as parallel lists (sources, weights) so that one node's sum is
    # sum(map(mul, map(rank.__getitem__, sources), weights)): no Python frame per edge.
    sources: list[list[int]] = [[] for _ in range(n)]
    weights: list[list[float]] = [[] for _ in range(n)]
    dangling: list[int] = []
    for i, out in enumerate(edges):
        s = sum(out.values())
        if s <= 0:
            dangling.append(i)
            continue
        for j in sorted(out):
            sources[j].append(i)
            weights[j].append(DAMPING * out[j] / s)
    rank = list(p)
    for _ in range(iterations):
        teleport = 1.0 - DAMPING + DAMPING * sum(map(rank.__getitem__, dangling))
        get = rank.__getitem__
        new = [
            teleport * pj + sum(map(mul, map(get, src), ws))
            for pj, src, ws in zip(p, sources, weights, strict=True)
        ]
        delta = sum(map(abs, map(sub, new, rank)))
        rank = new
        if delta < tol:
            break
    return rank


def rank_files(
    files: Sequence[FileEntry], query: str
) -> tuple[list[FileEntry], list[str], list[float]]:
    """Files in rank order (the files the request names first), the named paths, and each
    file's PageRank score (aligned with ``files``, not with the order). Pure: nothing is set."""
    if not files:
        return [], [], []
    match = match_query(query, files)
    edges, defs = build_graph(files)
    weights = dict(match.weights)
    for extra in (_identifier_weights(query, defs, files), lexical_weights(query, files)):
        for p, w in extra.items():
            weights[p] = weights.get(p, 0.0) + w
    personal = [weights.get(f.path, 0.0) for f in files]
    scores = pagerank(edges, personal)
    total = sum(personal)
    if total > 0:
        scores = [
            (1 - DIRECT) * s + DIRECT * w / total for s, w in zip(scores, personal, strict=True)
        ]
    first = {p: k for k, p in enumerate(match.mentioned)}
    big = len(first)
    order = sorted(
        range(len(files)), key=lambda i: (first.get(files[i].path, big), -scores[i], files[i].path)
    )
    return [files[i] for i in order], match.mentioned, scores
