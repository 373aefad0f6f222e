"""Ranking files against a request: several channels fused into one score per file.

Channels, each scaled to [0, 1] by its best file except mentions (strengths already):

* **mentions** (mentions.py): paths, traceback frames, diff headers, URLs, module names
  and import lines the request contains — a strong boost, not a forced order;
* **content**: BM25 over each code file's term bag (identifiers, their word parts,
  strings, comments, docstrings; defined names count extra), length-normalised, so a
  file about the request's words wins over a long file that happens to contain them;
* **path**: the request's words among a file's path components, weighted by rarity;
* **identifiers**: code-like tokens of the request (backticked, in code blocks,
  ``CamelCase``, ``snake_case``, dotted, called ``f(``) and the files defining them (1 /
  number of definers; a name defined in more than ``MAX_DEFINERS`` files counts for none):
  a prose word that happens to be a top-level name (``index``, ``name``) earns nothing;
* **summaries** (only when the sheet has cached summaries, see summaries.py): BM25 over
  each file's summary and entry points, and, weaker, over folder summaries, a folder's
  score lifting every file under it: a file whose purpose is described in the request's
  words rises even when its code uses other words;
* **graph**: the best text candidates pass score to the files they import or that import
  them (rank index edges), damped by the receiving file's degree so hubs do not win.

Test files are multiplied by ``test_factor`` unless the request is about tests, files under
docs/, examples/, benchmarks/ by ``aside_factor`` (a file named exactly is neither). Plain
arithmetic over sorted inputs: the same input gives the same floats in the same order.
The weights were tuned on the development split of bench/bench_localize.py.
"""

from __future__ import annotations

import keyword
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING

from tinygen.sheet.index import RankIndex, build_index, decode
from tinygen.sheet.kinds import ASIDE, TEST, is_test_path
from tinygen.sheet.mentions import EXACT, MAX_TOKENS, find_mentions
from tinygen.sheet.model import FileEntry, Sheet
from tinygen.sheet.words import query_terms, word_parts

if TYPE_CHECKING:
    from tinygen.sheet.summaries import Summaries

MAX_DEFINERS = 10
PRIOR = 0.01  # weight of graph degree: orders files that nothing else tells apart


@dataclass(frozen=True)
class Weights:
    mention: float = 2.0
    content: float = 1.0
    path: float = 0.3
    ident: float = 0.5
    graph: float = 0.2
    test_factor: float = 0.05  # multiplies a test file's score unless the request is about tests
    aside_factor: float = 1.0  # ... a file under docs/, examples/, benchmarks/ (see kinds.py)
    seeds: int = 5  # best text candidates that pass score along graph edges
    hub: float = 0.0  # graph score divided by (the receiving file's degree) ** hub
    title: float = 1.0  # added to the query count of each first-line term
    file_name: float = 1.0  # extra weight of a request word in a file's own name (path channel)
    k1: float = 2.0  # BM25 term-frequency saturation
    b: float = 0.75  # BM25 length normalisation
    # Not tuned (no benchmark has summaries: they need a real model): a file summary is
    # a described purpose, weighed between path words and content; a folder's is weaker.
    summary: float = 0.5
    folder_summary: float = 0.15


WEIGHTS = Weights()

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FENCED = re.compile(r"```.*?(?:```|\Z)", re.DOTALL)
_BACKTICKED = re.compile(r"`([^`\n]{1,200})`")
_CODE_LINE = re.compile(r"^(?:>>>|\.\.\.|    |\t).*$", re.MULTILINE)
_CALLED = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\(")
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+")
_CAMEL = re.compile(r"[a-z0-9][A-Z]|[A-Z]{2}[a-z]")
_ABOUT_TESTS = re.compile(
    r"\b(?:tests?|testing|pytest|unittest|conftest|fixtures?|test_\w+)\b", re.IGNORECASE
)
_SKIP = frozenset(keyword.kwlist) | {"self", "cls", "print", "None", "True", "False"}


def about_tests(query: str) -> bool:
    """Whether a request is about tests: its first line says so."""
    first = query.strip().split("\n", 1)[0]
    return bool(_ABOUT_TESTS.search(first))


def code_tokens(query: str) -> list[str]:
    """Identifiers the request writes as code: backticked or in code (fenced blocks,
    ``>>>`` and indented lines), called, dotted, CamelCase or snake_case. In order of
    first use, at most MAX_TOKENS."""
    found: dict[str, None] = {}

    def add(text: str) -> None:
        for ident in _IDENT.findall(text):
            if ident not in _SKIP and len(ident) > 1:
                found.setdefault(ident)

    for block in _FENCED.findall(query):
        add(block)
    prose = _FENCED.sub(" ", query)
    for m in _BACKTICKED.finditer(prose):
        add(m.group(1))
    for m in _CODE_LINE.finditer(prose):
        add(m.group(0))
    for m in _CALLED.finditer(prose):
        add(m.group(1))
    for m in _DOTTED.finditer(prose):
        add(m.group(0))
    for ident in _IDENT.findall(prose):
        core = ident.strip("_")
        if "_" in core or _CAMEL.search(ident):
            add(ident)
    return list(islice(found, MAX_TOKENS))


def _scaled(scores: dict[int, float]) -> dict[int, float]:
    best = max(scores.values(), default=0.0)
    return {d: s / best for d, s in scores.items()} if best > 0 else {}


def _query_counts(query: str, weights: Weights) -> dict[str, float]:
    """The request's content terms with their counts (BM25's query side)."""
    counts: dict[str, float] = dict(Counter(islice(query_terms(query), MAX_TOKENS * 4)))
    if weights.title:
        # The first line (an issue's title, a commit's subject) says what it is about.
        first = query.strip().split("\n", 1)[0]
        for term in set(query_terms(first[:500])):
            counts[term] = counts.get(term, 0.0) + weights.title
    return counts


def content_scores(index: RankIndex, query: str, weights: Weights = WEIGHTS) -> dict[int, float]:
    """BM25 of every code file containing a request word: doc -> score."""
    counts = _query_counts(query, weights)
    lengths = index.lengths_array()
    n = sum(1 for x in lengths if x) or 1
    avg = index.average_length()
    k1, b = weights.k1, weights.b
    norm = [k1 * (1 - b + b * x / avg) for x in lengths]
    out: dict[int, float] = {}
    get = out.get
    for term in sorted(counts):
        data = index.postings.get(term)
        if data is None:
            continue
        posting = decode(data)
        df = len(posting)
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5)) * (1 + math.log(counts[term]))
        for packed in posting:
            doc, tf = packed >> 8, packed & 255
            out[doc] = get(doc, 0.0) + idf * tf * (k1 + 1) / (tf + norm[doc])
    return out


def path_scores(index: RankIndex, query: str, weights: Weights = WEIGHTS) -> dict[int, float]:
    """The request's words among path components, each weighted by its rarity, and by
    ``1 + file_name`` when it is part of the file's own name."""
    n = len(index.paths)
    out: dict[int, float] = {}
    for term in sorted(set(islice(word_parts(query), MAX_TOKENS * 4))):
        data = index.path_terms.get(term)
        if data is None:
            continue
        docs = decode(data)
        idf = math.log((n + 1) / len(docs))
        named = idf * (1 + weights.file_name)
        for x in docs:
            d = x >> 1
            out[d] = out.get(d, 0.0) + (named if x & 1 else idf)
    return out


def _bm25(
    bags: dict[str, dict[str, int]], counts: dict[str, float], weights: Weights
) -> dict[str, float]:
    """BM25 of short texts (key -> term bag) against the request's term counts. Only the
    texts holding a term of the request are scored; the others still count in the
    document frequencies and the average length."""
    n = len(bags) or 1
    avg = sum([sum(bag.values()) for bag in bags.values()]) / n or 1.0
    df = {term: sum([term in bag for bag in bags.values()]) for term in counts}
    k1, b = weights.k1, weights.b
    out: dict[str, float] = {}
    for key in sorted(bags):
        bag = bags[key]
        common = counts.keys() & bag.keys()
        if not common:
            continue
        norm = k1 * (1 - b + b * sum(bag.values()) / avg)
        s = 0.0
        for term in sorted(common):
            idf = math.log(1 + (n - df[term] + 0.5) / (df[term] + 0.5))
            tf = bag[term]
            s += idf * (1 + math.log(counts[term])) * tf * (k1 + 1) / (tf + norm)
        if s > 0:
            out[key] = s
    return out


def summary_scores(
    paths: Sequence[str], summaries: Summaries, query: str, weights: Weights = WEIGHTS
) -> dict[int, float]:
    """The summary channel, weighted: doc -> ``summary`` x its file summary's BM25 (scaled
    by the best) + ``folder_summary`` x the scaled BM25 of each folder holding it."""
    counts = _query_counts(query, weights)
    if not counts:
        return {}
    out: dict[int, float] = {}
    files = _scaled_keys(_bm25(summaries.file_bags(), counts, weights))
    folders = _scaled_keys(_bm25(summaries.folder_bags(), counts, weights))
    for d, path in enumerate(paths):
        s = weights.summary * files.get(path, 0.0)
        if folders:
            parts = path.split("/")[:-1]
            lift = sum(folders.get("/".join(parts[: i + 1]), 0.0) for i in range(len(parts)))
            s += weights.folder_summary * lift
        if s:
            out[d] = s
    return out


def _scaled_keys(scores: dict[str, float]) -> dict[str, float]:
    best = max(scores.values(), default=0.0)
    return {k: s / best for k, s in scores.items()} if best > 0 else {}


def identifier_scores(index: RankIndex, query: str) -> dict[int, float]:
    out: dict[int, float] = {}
    for token in code_tokens(query):
        data = index.names.get(token)
        if data is None:
            continue
        docs = decode(data)
        if len(docs) > MAX_DEFINERS:
            continue
        for d in docs:
            out[d] = out.get(d, 0.0) + 1.0 / len(docs)
    return out


def graph_scores(index: RankIndex, text: dict[int, float], weights: Weights) -> dict[int, float]:
    """Score passed from the ``seeds`` best text candidates to their neighbours."""
    start, targets, edge_w = index.graph()
    seeds = sorted(text, key=lambda d: (-text[d], d))[: weights.seeds]
    out: dict[int, float] = {}
    for i in seeds:
        a, z = start[i], start[i + 1]
        total = sum(edge_w[a:z])
        if total <= 0:
            continue
        share = text[i] / total
        for k in range(a, z):
            j = targets[k]
            out[j] = out.get(j, 0.0) + share * edge_w[k]
    return {j: s / (start[j + 1] - start[j]) ** weights.hub for j, s in out.items()}


@dataclass(frozen=True)
class Ranking:
    order: list[int]  # doc numbers, best first
    scores: list[float]  # per doc
    mentioned: list[str]  # paths the request names, strongest first


def rank(
    index: RankIndex,
    query: str,
    weights: Weights = WEIGHTS,
    summaries: Summaries | None = None,
) -> Ranking:
    paths = index.paths
    mentions = find_mentions(query, paths, index.modules, index.file_names)
    doc_of = {p: i for i, p in enumerate(paths)}
    text: dict[int, float] = {}
    for channel, w in (
        (_scaled(content_scores(index, query, weights)), weights.content),
        (_scaled(path_scores(index, query, weights)), weights.path),
        (_scaled(identifier_scores(index, query)), weights.ident),
        ({doc_of[p]: s for p, s in mentions.strength.items() if p in doc_of}, weights.mention),
    ):
        for d, s in channel.items():
            text[d] = text.get(d, 0.0) + w * s
    if summaries:  # (weighted already: files and folders have their own weights)
        for d, s in summary_scores(paths, summaries, query, weights).items():
            text[d] = text.get(d, 0.0) + s
    scores = [0.0] * len(paths)
    for d, s in text.items():
        scores[d] = s
    if weights.graph:
        for d, s in _scaled(graph_scores(index, text, weights)).items():
            scores[d] += weights.graph * s
    factor = {ASIDE: weights.aside_factor}
    if not about_tests(query):
        factor[TEST] = weights.test_factor
    kinds = index.kinds
    for d, s in enumerate(scores):
        f = factor.get(kinds[d])
        if f is not None and s and mentions.strength.get(paths[d], 0.0) < EXACT:
            scores[d] = s * f  # (a file the request names exactly is not demoted)
    # A small prior from each file's degree in the graph: without any other signal (no
    # query, stop words only) central files come first rather than path order.
    start = index.graph()[0]
    degrees = [start[d + 1] - start[d] for d in range(len(paths))]
    top = math.log1p(max(degrees, default=0)) or 1.0
    for d, k in enumerate(degrees):
        if k:
            scores[d] += PRIOR * math.log1p(k) / top
    order = sorted(range(len(paths)), key=lambda d: (-scores[d], paths[d]))
    return Ranking(order, scores, [p for p in mentions.ordered() if p in doc_of])


def rank_files(
    files: Sequence[FileEntry],
    query: str,
    index: RankIndex | None = None,
    weights: Weights = WEIGHTS,
    summaries: Summaries | None = None,
) -> tuple[list[FileEntry], list[str], list[float]]:
    """Files in rank order, the named paths (strongest first), and each file's score
    (aligned with ``files``, not with the order). Pure: nothing is set. ``index`` must
    have been built for these files, in this order (else one is built here)."""
    if not files:
        return [], [], []
    if index is None or index.paths != [f.path for f in files]:
        index = build_index(files, "")
    result = rank(index, query, weights, summaries)
    return [files[d] for d in result.order], result.mentioned, result.scores


def rank_sheet(sheet: Sheet, weights: Weights = WEIGHTS) -> None:
    """Rank the sheet's files against its query, with its index and its summaries (when
    it has them): sets each file's score, ``files`` in rank order, ``mentioned`` and
    ``ranked``. Again after ``sheet.summaries`` changed, so that they count."""
    files = sheet.files
    if sheet.index is not None and len(sheet.index.paths) == len(files):
        by_path = sheet.by_path()
        if by_path.keys() == set(sheet.index.paths):
            files = [by_path[p] for p in sheet.index.paths]  # the index's (path) order
    ordered, mentioned, scores = rank_files(
        files, sheet.query, sheet.index, weights, sheet.summaries or None
    )
    for f, s in zip(files, scores, strict=True):
        f.score = s
    sheet.files = ordered
    sheet.mentioned = mentioned
    sheet.ranked = True


__all__ = [
    "WEIGHTS",
    "Ranking",
    "Weights",
    "about_tests",
    "code_tokens",
    "is_test_path",  # re-exported from kinds
    "rank",
    "rank_files",
    "rank_sheet",
    "summary_scores",
]
