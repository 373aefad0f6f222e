"""Which repository files a request names, and how surely.

A mention is a strength in (0, 1], not a place in a queue: ranking adds it to the other
channels (rank.py), so a wrong mention can still be outranked. Strengths by form:

* an exact repository path, a diff header (``--- a/x``, ``diff --git a/x b/x``), a
  repository URL (``github.com/o/r/blob/main/x``): 1.0;
* a traceback frame (``File ".../site-packages/pkg/mod.py", line 3`` or pytest's
  ``pkg/mod.py:3:``), matched by its longest path suffix that is a repository path: the
  last frame in the repository 1.0 (where it failed), earlier ones 0.4 to 0.7;
* any other path-like token, by its longest repository suffix (two components at least);
  a dotted module name (``a.b.c``, also ``a.b.c.Name`` and ``src/`` layouts); ``from
  a.b import c`` naming the submodule ``a/b/c.py``: 0.7;
* a file name (``query.py``) found at most ``MAX_HITS`` times: 0.5;
* a package's ``__init__.py`` reached only through an import line or a dotted name
  (``from pkg import X`` in a reproduction): 0.15, since the change is rarely there.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping, Sequence
from itertools import islice

MAX_TOKENS = 2000  # distinct tokens of a request looked at as names
MAX_HITS = 5  # a name or suffix matching more files than this names none of them
EXACT = 1.0
FRAME_LAST = 1.0
FRAME_FIRST = 0.4  # earlier frames rise from this towards FRAME_EARLIER_MAX
FRAME_EARLIER_MAX = 0.7
MODULE = 0.7
FILE_NAME = 0.5
PACKAGE = 0.15

_TOKEN = re.compile(r"[A-Za-z0-9_~][A-Za-z0-9_./\\~-]*")
_FRAME = re.compile(r"""File "([^"\n]+)", line \d+""")
_PYTEST_FRAME = re.compile(r"^([^\s:\"']+\.[A-Za-z]+):\d+:", re.MULTILINE)
_DIFF = re.compile(r"^(?:--- a/|\+\+\+ b/|diff --git a/)(\S+)(?: b/(\S+))?", re.MULTILINE)
_URL = re.compile(
    r"https?://(?:www\.)?(?:github\.com|gitlab\.com|bitbucket\.org)/[^/\s]+/[^/\s]+/"
    r"(?:-/)?(?:blob|tree|edit|raw|src)/[^/\s]+/([^\s#?)\]>'\"`]+)"
    r"|https?://raw\.githubusercontent\.com/[^/\s]+/[^/\s]+/[^/\s]+/([^\s#?)\]>'\"`]+)"
)
_FROM_IMPORT = re.compile(
    r"^[ \t>.]*from[ \t]+([A-Za-z_][\w.]*)[ \t]+import[ \t]+\(?([\w \t,]+)", re.MULTILINE
)
_IMPORT = re.compile(
    r"^[ \t>.]*import[ \t]+([A-Za-z_][\w.]*(?:[ \t]*,[ \t]*[A-Za-z_][\w.]*)*)", re.MULTILINE
)


class _Paths:
    """Lookups over the repository's paths, built on first use."""

    def __init__(
        self,
        paths: Sequence[str],
        modules: Mapping[str, str],
        names: Mapping[str, list[str]] | None,
    ) -> None:
        self.paths = paths
        self.path_set = frozenset(paths)
        self.modules = modules
        self._endings: dict[str, list[str]] | None = None
        self._names = names

    def endings(self) -> dict[str, list[str]]:
        """ "b/c.py" -> paths ending in "/b/c.py" (suffixes of two components or more)."""
        if self._endings is None:
            self._endings = {}
            for p in self.paths:
                cut = p.find("/")
                while cut != -1:
                    rest = p[cut + 1 :]
                    if "/" not in rest:
                        break
                    self._endings.setdefault(rest, []).append(p)
                    cut = p.find("/", cut + 1)
        return self._endings

    def names(self) -> Mapping[str, list[str]]:
        """File name -> its paths (given, or built on first use)."""
        if self._names is None:
            names: dict[str, list[str]] = {}
            for p in self.paths:
                names.setdefault(p.rpartition("/")[2], []).append(p)
            self._names = names
        return self._names

    def suffix(self, token: str) -> list[str]:
        """Repository paths the path ``token`` ends with: itself when it is one, else the
        longest suffix of two components or more that names at most MAX_HITS files."""
        token = token.replace("\\", "/").strip("/")
        while token.startswith("./"):
            token = token[2:]
        if token in self.path_set:
            return [token]
        endings = self.endings()
        parts = token.split("/")
        for k in range(len(parts) - 1):
            hits = endings.get("/".join(parts[k:]))
            if hits:
                return hits if len(hits) <= MAX_HITS else []
        return []

    def module(self, dotted: str) -> tuple[str, bool] | None:
        """(path, whether it is a package's __init__) of the longest module prefix of a
        dotted name of two parts or more (``a.b.c.Name`` -> ``a/b/c.py``)."""
        parts = dotted.split(".")
        for k in range(len(parts), 1, -1):
            hit = self.modules.get(".".join(parts[:k]))
            if hit is not None:
                return hit, posixpath.basename(hit).startswith("__init__.")
        return None


class Mentions:
    """path -> strength, keeping each path's strongest mention and first position."""

    def __init__(self) -> None:
        self.strength: dict[str, float] = {}
        self.position: dict[str, int] = {}

    def add(self, path: str, strength: float, position: int) -> None:
        if strength > self.strength.get(path, 0.0):
            self.strength[path] = strength
        self.position.setdefault(path, position)

    def ordered(self) -> list[str]:
        """Strongest first, then in the order the request names them."""
        return sorted(self.strength, key=lambda p: (-self.strength[p], self.position[p], p))


def find_mentions(
    query: str,
    paths: Sequence[str],
    modules: Mapping[str, str],
    names: Mapping[str, list[str]] | None = None,
) -> Mentions:
    """The files ``query`` names, with strengths (see the module docstring). ``modules``:
    dotted name -> path; ``names``: file name -> paths (built here when not given)."""
    found = Mentions()
    if not query.strip() or not paths:
        return found
    look = _Paths(paths, modules, names)

    for m in _DIFF.finditer(query):
        for group in m.groups():
            if group and group in look.path_set:
                found.add(group, EXACT, m.start())
    for m in _URL.finditer(query):
        for p in look.suffix((m.group(1) or m.group(2) or "").rstrip(".,;:")):
            found.add(p, EXACT, m.start())

    frames: list[tuple[str, int]] = []
    for m in (*_FRAME.finditer(query), *_PYTEST_FRAME.finditer(query)):
        hits = look.suffix(m.group(1))
        if len(hits) == 1:
            frames.append((hits[0], m.start()))
    frames.sort(key=lambda f: f[1])
    for k, (p, pos) in enumerate(frames):
        if k == len(frames) - 1:
            strength = FRAME_LAST
        else:
            strength = FRAME_FIRST + (FRAME_EARLIER_MAX - FRAME_FIRST) * k / max(len(frames) - 1, 1)
        found.add(p, strength, pos)

    for m in _FROM_IMPORT.finditer(query):
        module = m.group(1)
        subs = [n for n in re.split(r"[\s,]+", m.group(2)) if n and n != "as"]
        named = False
        for name in subs:
            hit = look.modules.get(f"{module}.{name}")
            if hit is not None:
                found.add(hit, MODULE, m.start())
                named = True
        if not named:
            _module_mention(look, found, module, m.start(), single=True)
    for m in _IMPORT.finditer(query):
        for module in re.split(r"[ \t]*,[ \t]*", m.group(1)):
            _module_mention(look, found, module, m.start(), single=True)

    # The rest of the text, without what was read above (a frame's path is not also a
    # plain path mention, an import line's package not also a dotted name).
    rest = query
    for pattern in (_FRAME, _PYTEST_FRAME, _FROM_IMPORT, _IMPORT, _DIFF, _URL):
        rest = pattern.sub(" ", rest)
    cleaned = (t.strip(".,:;!?)('\"`/\\-~") for t in _TOKEN.findall(rest))
    tokens = islice(dict.fromkeys(t for t in cleaned if t), MAX_TOKENS)
    for tok in tokens:
        pos = query.find(tok)
        if "/" in tok or "\\" in tok:
            for p in look.suffix(tok):
                found.add(p, EXACT if p == tok.replace("\\", "/") else MODULE, pos)
            continue
        if tok in look.path_set:
            found.add(tok, EXACT, pos)
            continue
        if "." not in tok:
            continue
        by_name = look.names().get(tok)
        if by_name and len(by_name) <= MAX_HITS:
            for p in by_name:
                found.add(p, FILE_NAME, pos)
            continue
        _module_mention(look, found, tok, pos, single=False)
    return found


def _module_mention(look: _Paths, found: Mentions, dotted: str, pos: int, single: bool) -> None:
    """A dotted module name; ``single``: from an import line, where one part is enough."""
    hit = look.module(dotted)
    if hit is None and single and "." not in dotted:
        path = look.modules.get(dotted)
        if path is not None:
            hit = path, posixpath.basename(path).startswith("__init__.")
    if hit is not None:
        path, package = hit
        found.add(path, PACKAGE if package else MODULE, pos)


__all__ = ["Mentions", "find_mentions"]
