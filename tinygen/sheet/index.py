"""The rank index: what ranking needs of a whole tree, built once per set of file contents.

Per blob, the sheet cache keeps each file's term bag, linking names and referenced
identifiers (scan.py). Ranking a request needs them per *term*, not per file: the files
containing ``bulk``, the files defining ``QuerySet``, the files importing ``query.py``.
Turning the per-file data around costs about a second on Django, so the result is kept
in ``.git/tinygen/rank-index.bin`` under a digest of every (path, blob) pair: a warm
query loads it (one ``marshal.loads``; the large maps stay in hash buckets of marshal
bytes until a key is looked up) and decodes only the posting lists of its own terms. A
few edited files patch it in memory (``RankIndex.patched``); any other change rebuilds it
from the cached per-blob data (no file is read again).

Posting lists are ``array('I')`` bytes: ``doc << 8 | min(tf, 255)`` for terms (BM25
saturates long before 255), plain doc numbers for the other maps. The graph is kept as
CSR arrays (start offsets, targets, weights).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import marshal
import zlib
from array import array
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from tinygen.repo.atomic import replace_file
from tinygen.sheet.kinds import kind_of
from tinygen.sheet.model import FileEntry
from tinygen.sheet.resolve import Resolver
from tinygen.sheet.words import path_words

INDEX_VERSION = 5
BUCKET_SIZE = 32  # keys per bucket of a Buckets map, on average
# A stored index is patched rather than rebuilt when at most this many files changed
# (or this fraction of them): the changed files' terms replace theirs at query time.
PATCH_MIN = 64
PATCH_FRACTION = 20
INDEX_NAME = "rank-index.bin"
MAX_DEFINERS = 10  # names defined in more files link nothing in the graph
BACKWARD = 0.3  # weight of a dependency -> dependent edge (the reverse of a use)


def tree_digest(files: Sequence[FileEntry], version: str = "") -> str:
    """A digest of every (path, blob) pair, in order, and the cache version."""
    return _digest([f.path for f in files], [f.blob for f in files], version)


def _digest(paths: Sequence[str], blobs: Sequence[str], version: str) -> str:
    h = hashlib.sha1(f"{INDEX_VERSION};{version}\n".encode())
    pairs = "\n".join(f"{p}\0{b}" for p, b in zip(paths, blobs, strict=True))
    h.update(pairs.encode("utf-8", "surrogateescape"))
    return h.hexdigest()


def _ids(values: Sequence[int] | array[int]) -> bytes:
    return array("I", values).tobytes()


def decode(data: bytes) -> array[int]:
    out = array("I")
    out.frombytes(data)
    return out


V = TypeVar("V")


class Buckets(Mapping[str, V]):
    """A large str-keyed map stored as marshal bytes in buckets by key hash: loading it
    costs one bytes object per bucket, and a lookup decodes only its key's bucket (a
    query looks up a few dozen keys of tens of thousands)."""

    def __init__(self, blobs: list[bytes]) -> None:
        self.blobs = blobs
        self._decoded: dict[int, dict[str, V]] = {}

    @staticmethod
    def _slot(key: str, n: int) -> int:
        return zlib.crc32(key.encode("utf-8", "surrogateescape")) % n

    @classmethod
    def of(cls, data: dict[str, V]) -> Buckets[V]:
        n = max(1, len(data) // BUCKET_SIZE)
        parts: list[dict[str, V]] = [{} for _ in range(n)]
        for key in sorted(data):
            parts[cls._slot(key, n)][key] = data[key]
        return cls([marshal.dumps(p) for p in parts])

    def _bucket(self, key: str) -> dict[str, V]:
        slot = self._slot(key, len(self.blobs))
        got = self._decoded.get(slot)
        if got is None:
            got = self._decoded[slot] = marshal.loads(self.blobs[slot])
        return got

    def __getitem__(self, key: str) -> V:
        return self._bucket(key)[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self._bucket(key).get(key, default)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key in self._bucket(key)

    def __iter__(self) -> Iterator[str]:
        for slot in range(len(self.blobs)):
            yield from marshal.loads(self.blobs[slot])

    def __len__(self) -> int:
        return sum(len(marshal.loads(b)) for b in self.blobs)


class Patched(Mapping[str, bytes]):
    """A doc-list map (postings or names) of a stored index with a few docs replaced:
    the stored lists without the ``stale`` docs, plus ``extra`` entries for them."""

    def __init__(
        self,
        base: Mapping[str, bytes],
        stale: set[int],
        extra: dict[str, list[int]],
        shift: int,  # entries are doc << shift (postings: 8, names: 0)
    ) -> None:
        self.base = base
        self.stale = stale
        self.extra = extra
        self.shift = shift

    def get(self, key: str, default: Any = None) -> Any:
        data = self.base.get(key)
        added = self.extra.get(key, ())
        if data is None and not added:
            return default
        kept = [x for x in decode(data or b"") if (x >> self.shift) not in self.stale]
        return _ids(sorted([*kept, *added])) if kept or added else default

    def __getitem__(self, key: str) -> bytes:
        got = self.get(key)
        if got is None:
            raise KeyError(key)
        return got

    def __iter__(self) -> Iterator[str]:
        yield from dict.fromkeys([*self.base, *self.extra])

    def __len__(self) -> int:
        return sum(1 for _ in self)


@dataclass
class RankIndex:
    digest: str
    paths: list[str]  # doc number -> path (the sheet's path order)
    postings: Mapping[str, bytes]  # term -> doc << 8 | tf (Buckets; Patched)
    lengths: bytes  # array('I'): each doc's term count
    path_terms: Buckets[bytes]  # word part of a path component -> doc << 1 | in the file name
    names: Mapping[str, bytes]  # symbol name (any kind) -> docs defining it (Buckets; Patched)
    modules: Buckets[str]  # dotted module name -> path (from the root, src/, packages)
    edge_start: bytes  # array('I') of n + 1 offsets into edge_to / edge_weight
    edge_to: bytes  # array('I')
    edge_weight: bytes  # array('f')
    kinds: bytes  # each doc's kinds.kind_of (code, test, aside)
    file_names: Buckets[list[str]]  # file name -> its paths
    blobs: list[str]  # doc number -> the blob it was built from
    _cache: dict[str, object] = field(default_factory=dict, repr=False)

    def lengths_array(self) -> array[int]:
        got = self._cache.get("lengths")
        if got is None:
            got = self._cache["lengths"] = decode(self.lengths)
        return got  # type: ignore[return-value]

    def average_length(self) -> float:
        lengths = self.lengths_array()
        counted = [x for x in lengths if x]
        return sum(counted) / len(counted) if counted else 1.0

    def graph(self) -> tuple[array[int], array[int], array[float]]:
        got = self._cache.get("graph")
        if got is None:
            weights = array("f")
            weights.frombytes(self.edge_weight)
            got = self._cache["graph"] = (decode(self.edge_start), decode(self.edge_to), weights)
        return got  # type: ignore[return-value]

    def patched(self, files: Sequence[FileEntry], version: str) -> RankIndex | None:
        """This index for ``files`` — the same paths, a few contents changed — without a
        rebuild: the changed files' postings, names and lengths replaced (their graph
        edges stay as they were until the next rebuild). None when it was built by
        another cache version, the paths differ or too many files changed."""
        if (
            [f.path for f in files] != self.paths
            or not isinstance(self.postings, Buckets)
            or _digest(self.paths, self.blobs, version) != self.digest
        ):
            return None
        changed = [i for i, f in enumerate(files) if f.blob != self.blobs[i]]
        if len(changed) > max(PATCH_MIN, len(files) // PATCH_FRACTION):
            return None
        lengths = array("I", self.lengths_array())
        postings: dict[str, list[int]] = {}
        names: dict[str, list[int]] = {}
        for i in changed:
            lengths[i] = _add_doc(i, files[i], postings, names)
        return dataclasses.replace(
            self,
            digest=tree_digest(files, version),
            postings=Patched(self.postings, set(changed), postings, 8),
            lengths=lengths.tobytes(),
            names=Patched(self.names, set(changed), names, 0),
            blobs=[f.blob for f in files],
            _cache={},
        )

    def dump(self) -> bytes:
        assert isinstance(self.postings, Buckets) and isinstance(self.names, Buckets)
        return marshal.dumps(
            (
                INDEX_VERSION,
                self.digest,
                self.paths,
                self.postings.blobs,
                self.lengths,
                self.path_terms.blobs,
                self.names.blobs,
                self.modules.blobs,
                self.edge_start,
                self.edge_to,
                self.edge_weight,
                self.kinds,
                self.file_names.blobs,
                self.blobs,
            )
        )

    @classmethod
    def loads(cls, data: bytes) -> RankIndex | None:
        try:
            value = marshal.loads(data)
        except (ValueError, EOFError, TypeError):
            return None
        if not (isinstance(value, tuple) and len(value) == 14 and value[0] == INDEX_VERSION):
            return None
        _v, digest, paths, postings, lengths, path_terms, names, modules, *rest = value
        start, to, weight, kinds, file_names, blobs = rest
        return cls(
            digest,
            paths,
            Buckets(postings),
            lengths,
            Buckets(path_terms),
            Buckets(names),
            Buckets(modules),
            start,
            to,
            weight,
            kinds,
            Buckets(file_names),
            blobs,
        )


def _graph(
    files: Sequence[FileEntry], index: dict[str, int]
) -> tuple[list[dict[int, float]], list[int]]:
    """Weighted edges per file: resolved imports (1 each), names used that other files
    define (1 / number of definers, names with more than MAX_DEFINERS definers ignored),
    each also backwards at BACKWARD of its weight."""
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
        refs = f.refs
        if not refs:
            continue
        for name in usable.intersection(refs.split()):
            definers = defs[name]
            w = 1.0 / len(definers)
            for j in definers:
                if j != i:
                    out[j] = out.get(j, 0.0) + w
    indegree = [0] * len(files)
    for i, out in enumerate([dict(e) for e in edges]):
        for j, w in out.items():
            indegree[j] += 1
            back = edges[j]
            back[i] = back.get(i, 0.0) + BACKWARD * w
    return edges, indegree


def build_index(files: Sequence[FileEntry], digest: str) -> RankIndex:
    """The rank index of these entries (their cold data is read, pending rank data is
    computed by the entries themselves)."""
    paths = [f.path for f in files]
    index = {p: i for i, p in enumerate(paths)}
    postings: dict[str, list[int]] = {}
    lengths = array("I", bytes(4 * len(files)))
    names: dict[str, list[int]] = {}
    path_terms: dict[str, list[int]] = {}
    for i, f in enumerate(files):
        in_name = path_words(f.path.rpartition("/")[2])
        for word in path_words(f.path):
            path_terms.setdefault(word, []).append(i << 1 | (word in in_name))
        lengths[i] = _add_doc(i, f, postings, names)
    edges, _indegree = _graph(files, index)
    start = array("I", [0])
    targets = array("I")
    weights = array("f")
    for out in edges:
        for j in sorted(out):
            targets.append(j)
            weights.append(out[j])
        start.append(len(targets))
    file_names: dict[str, list[str]] = {}
    for p in paths:
        file_names.setdefault(p.rpartition("/")[2], []).append(p)
    resolver = Resolver(paths)
    modules = {**resolver.rooted, **resolver.modules}
    return RankIndex(
        digest,
        paths,
        Buckets.of({t: _ids(v) for t, v in postings.items()}),
        lengths.tobytes(),
        Buckets.of({t: _ids(v) for t, v in path_terms.items()}),
        Buckets.of({n: _ids(v) for n, v in names.items()}),
        Buckets.of(modules),
        start.tobytes(),
        targets.tobytes(),
        weights.tobytes(),
        bytes(kind_of(p) for p in paths),
        Buckets.of(file_names),
        [f.blob for f in files],
    )


def _add_doc(
    i: int, f: FileEntry, postings: dict[str, list[int]], names: dict[str, list[int]]
) -> int:
    """Add doc ``i``'s terms and symbol names to the lists; its length (0: not code)."""
    if not f.language:
        return 0
    bag: dict[str, int] = marshal.loads(f.terms)
    for term, count in bag.items():
        postings.setdefault(term, []).append(i << 8 | (count if count < 255 else 255))
    for name in dict.fromkeys(s.name for s in f.symbols):
        names.setdefault(name, []).append(i)
    return sum(bag.values())


def load_index(folder: Path | None, digest: str | None = None) -> RankIndex | None:
    """The stored index when it was built for ``digest`` (None: whatever is stored)."""
    if folder is None:
        return None
    try:
        data = (folder / INDEX_NAME).read_bytes()
    except OSError:
        return None
    found = RankIndex.loads(data)
    return found if found is not None and digest in (None, found.digest) else None


def save_index(folder: Path | None, index: RankIndex) -> None:
    """Store atomically (temp file + rename); failing to is not an error (a cache)."""
    if folder is None:
        return
    with contextlib.suppress(OSError):
        replace_file(folder / INDEX_NAME, index.dump())


__all__ = [
    "Buckets",
    "RankIndex",
    "build_index",
    "decode",
    "load_index",
    "save_index",
    "tree_digest",
]
