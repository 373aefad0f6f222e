"""build_sheet: walk -> cache lookup -> scan the misses (in parallel when many) -> resolve
imports -> rank by the query.

Cold builds fan the uncached files out to worker processes in size-balanced chunks;
below ``INLINE_LIMIT`` files the work stays in this process, since starting workers
costs more than it saves. Warm builds are shaped by what a large tree costs: git lists
the files while the cache loads, each entry gets only the cache's hot part (its cold
part is fetched when ranking, JSON or signatures ask), and tree-sitter is imported only
when a file must be scanned.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar, cast

from tinygen.errors import RepoError
from tinygen.repo.git import repo_root, state_dir
from tinygen.sheet import cache as sheet_cache
from tinygen.sheet.cache import SheetCacheWarning
from tinygen.sheet.index import RankIndex, build_index, load_index, save_index, tree_digest
from tinygen.sheet.languages import is_parsed, language_for_path
from tinygen.sheet.model import FileEntry, Sheet, SheetStats
from tinygen.sheet.resolve import Resolver
from tinygen.sheet.scan import (
    HOT,
    Hot,
    Job,
    Outcome,
    Pending,
    blob_sha,
    empty_record,
    rank_data_batch,
    read_file,
    scan_batch,
)
from tinygen.sheet.summaries import load_summaries
from tinygen.sheet.walk import (
    MODE_FILE,
    MODE_GITLINK,
    MODE_SYMLINK,
    Listing,
    path_skip_reason,
    symlink_skip_reason,
    work_tree_mode,
)

_EMPTY_HOT = cast(Hot, empty_record()[:HOT])
INLINE_LIMIT = 150  # uncached files below which no worker processes are started
CHUNK_BYTES = 400_000  # target size of one worker chunk
T = TypeVar("T")
R = TypeVar("R")


def _go_modules(root: Path, paths: frozenset[str]) -> dict[str, str]:
    """Module path -> folder, from every go.mod in the tree."""
    out: dict[str, str] = {}
    folders: dict[str, bool] = {}
    for mod_file in sorted(p for p in paths if p == "go.mod" or p.endswith("/go.mod")):
        data, _reason = read_file(str(root), mod_file, 1_000_000, folders)
        if data is None:
            continue
        text = data.decode("utf-8", "replace")
        for line in text.splitlines():
            if line.startswith("module "):
                folder = mod_file[: -len("go.mod")].rstrip("/")
                out[line.split(None, 1)[1].strip().strip('"')] = folder
                break
    return out


def _chunks(items: list[T], sizes: list[int], workers: int) -> list[list[T]]:
    """Size-balanced chunks, biggest items first, so no worker is left with the tail."""
    order = sorted(range(len(items)), key=lambda i: -sizes[i])  # stable: ties by position
    total = sum(sizes)
    target = max(min(CHUNK_BYTES, total // (workers * 4) + 1), 1)
    chunks: list[list[T]] = []
    current: list[T] = []
    acc = 0
    for i in order:
        current.append(items[i])
        acc += sizes[i]
        if acc >= target:
            chunks.append(current)
            current, acc = [], 0
    if current:
        chunks.append(current)
    return chunks


def _file_size(root: Path, path: str) -> int:
    try:
        return os.stat(root / path).st_size
    except OSError:
        return 0


def cpu_count() -> int:
    """The cores this process may run on (its affinity mask, not the machine's count)."""
    counter = getattr(os, "process_cpu_count", None)  # Python 3.13
    if counter is not None:
        return int(counter() or 1)
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def pool_start_method() -> str:
    """How worker processes start: "fork" or "subprocess".

    fork is the cheapest (workers inherit the imported modules) but copies only the
    calling thread: a lock another thread holds at that moment (the SDK import `tinygen
    run` starts in a thread, a server's job threads) stays locked forever in the child.
    So fork only while this is the only thread; otherwise fresh interpreters started
    with subprocess (fork+exec, safe with threads). Not multiprocessing's spawn or
    forkserver: those re-run the parent's ``__main__`` in every worker, which breaks
    for ``python -`` and re-executes an unguarded script."""
    import threading

    if threading.active_count() == 1 and hasattr(os, "fork"):
        return "fork"
    return "subprocess"


def _in_workers(
    fn: Callable[..., list[R]], chunks: list[list[T]], workers: int, *args: object
) -> list[R]:
    """``fn(chunk, *args)`` for every chunk, results in no particular order: ``workers``
    - 1 worker processes take chunks from the front (the largest), and this process,
    which would otherwise only wait, takes them from the back (no pickling for its
    share, one process fewer to start)."""
    if pool_start_method() != "fork":
        return _in_subprocesses(fn, chunks, workers, *args)
    import multiprocessing
    from collections import deque
    from concurrent.futures import Future, ProcessPoolExecutor

    ctx = multiprocessing.get_context("fork")
    todo = deque(chunks)
    running: deque[Future[list[R]]] = deque()
    out: list[R] = []
    helpers = max(workers - 1, 1)
    with ProcessPoolExecutor(max_workers=helpers, mp_context=ctx) as pool:
        while todo or running:
            while todo and len(running) < 2 * helpers:  # each helper has the next one queued
                running.append(pool.submit(fn, todo.popleft(), *args))
            if running and running[0].done():
                out.extend(running.popleft().result())
            elif todo:
                out.extend(fn(todo.pop(), *args))
            else:
                out.extend(running.popleft().result())
    return out


# A worker started by _in_subprocesses: reads this process's sys.path, then pickled
# (module, function, chunk, args) requests, answering each with the pickled result.
_WORKER = (
    "import importlib, pickle, sys\n"
    "sys.path[:] = pickle.load(sys.stdin.buffer)\n"
    "while True:\n"
    "    try:\n"
    "        module, name, chunk, args = pickle.load(sys.stdin.buffer)\n"
    "    except EOFError:\n"
    "        break\n"
    "    fn = getattr(importlib.import_module(module), name)\n"
    "    pickle.dump(fn(chunk, *args), sys.stdout.buffer)\n"
    "    sys.stdout.buffer.flush()\n"
)


def _in_subprocesses(
    fn: Callable[..., list[R]], chunks: list[list[T]], workers: int, *args: object
) -> list[R]:
    """As _in_workers, with workers started as fresh interpreters, one thread here
    feeding each. A worker that fails gives its chunk back, for this process to do."""
    import pickle
    import subprocess
    import sys
    import threading
    from collections import deque

    todo = deque(chunks)
    lock = threading.Lock()
    out: list[R] = []

    def take(front: bool) -> list[T] | None:
        with lock:
            if not todo:
                return None
            return todo.popleft() if front else todo.pop()

    def helper() -> None:
        chunk: list[T] | None = None
        try:
            proc = subprocess.Popen(
                [sys.executable, "-c", _WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE
            )
        except OSError:
            return
        assert proc.stdin is not None and proc.stdout is not None
        try:
            pickle.dump(list(sys.path), proc.stdin)
            while (chunk := take(front=True)) is not None:
                pickle.dump((fn.__module__, fn.__name__, chunk, args), proc.stdin)
                proc.stdin.flush()
                result = pickle.load(proc.stdout)
                with lock:
                    out.extend(result)
                chunk = None
        except (OSError, EOFError, pickle.UnpicklingError):
            if chunk is not None:
                with lock:
                    todo.appendleft(chunk)  # done here instead
        finally:
            with contextlib.suppress(OSError):
                proc.stdin.close()  # the worker ends at EOF
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    threads = [threading.Thread(target=helper, daemon=True) for _ in range(max(workers - 1, 1))]
    for t in threads:
        t.start()
    while True:
        while (chunk := take(front=False)) is not None:
            result = fn(chunk, *args)
            with lock:
                out.extend(result)
        for t in threads:
            t.join()
        if not todo:  # a failed helper may have given a chunk back after the loop ended
            return out


def _scan(
    root: Path, jobs: list[Job], max_file_bytes: int, workers: int, rank_data: bool
) -> list[Outcome]:
    if workers <= 1 or len(jobs) < INLINE_LIMIT:
        return scan_batch(jobs, str(root), max_file_bytes, rank_data)
    chunks = _chunks(jobs, [_file_size(root, j.path) for j in jobs], workers)
    out = _in_workers(scan_batch, chunks, workers, str(root), max_file_bytes, rank_data)
    return sorted(out, key=lambda o: o.path)  # the same order whoever scanned what


def _fill_rank_data(
    top: Path,
    files: list[FileEntry],
    found: dict[str, tuple[str | None, str, Hot, tuple[str, ...], str]],
    cache: sheet_cache.SheetCache,
    new: sheet_cache.Records,
    workers: int,
) -> None:
    """Compute the ``refs`` and ``terms`` that cached records left pending (made by a
    build that did not rank), set them on the entries and add the completed records to
    ``new`` so that they are stored."""
    pending = [f for f in files if found[f.path][4] and f.rank_data_pending()]
    if not pending:
        return
    items = [
        Pending(f.path, f.blob, f.size, f.doc, cache.cold.get(found[f.path][4])[1]) for f in pending
    ]
    if workers <= 1 or len(items) < INLINE_LIMIT:
        results = rank_data_batch(items, str(top))
    else:
        chunks = _chunks(items, [i.size for i in items], workers)
        results = _in_workers(rank_data_batch, chunks, workers, str(top))
    by_path = {f.path: f for f in pending}
    for path, data in results:  # in chunk order
        f = by_path[path]
        if data is None:
            # Changed since it was read: not stored, the next ranking retries.
            f.refs, f.terms = "", marshal.dumps({})
            continue
        refs, terms = data
        f.refs, f.terms = refs, terms
        key = found[f.path][4]
        imports, symbols, _refs, defs, _terms = cache.cold.get(key)
        new[key] = (*found[f.path][2], imports, symbols, refs, defs, terms)


def _load_cache(top: Path) -> sheet_cache.SheetCache:
    """The cache in the git directory; an empty one that saves nothing (with a warning)
    when tinygen's folder there cannot be made: a read-only mount, a file in its way."""
    try:
        folder = state_dir(top)
    except RepoError as exc:
        warnings.warn(f"{exc}; running without the sheet cache", SheetCacheWarning, stacklevel=3)
        return sheet_cache.SheetCache.disabled()
    return sheet_cache.load(folder)


def build_sheet(
    root: Path,
    *,
    query: str = "",
    max_file_bytes: int = 1_000_000,
    include_untracked: bool = False,
    jobs: int | None = None,
    ranking: bool | None = None,
    summaries: bool = False,
) -> Sheet:
    """The reference sheet of the git work tree containing ``root``.

    ``ranking`` says whether the sheet will be ranked (default: when there is a query;
    pass True when it will be rendered with a budget): it then gets what ranking reads
    (each file's referenced identifiers and term bag) computed and cached; otherwise a
    cold build leaves those for the first build that ranks, and an entry computes its
    own if asked.

    ``summaries`` loads the cached summaries of its files and folders (``Sheet.summaries``,
    None when there are none): the ranking and the render then use them.

    Raises RepoError when ``root`` is not inside a git repository.
    """
    if ranking is None:
        ranking = bool(query.strip())
    started = time.perf_counter()
    top = repo_root(root)
    listing = Listing(top, include_untracked=include_untracked)
    try:
        cache = _load_cache(top)  # while git lists the files
    except BaseException:
        listing.close()
        raise
    listed = listing.files()
    stats = SheetStats(files_seen=len(listed))
    skipped: dict[str, str] = {}
    records = cache.records

    # path -> (language, blob, hot record, extra flags, cache key) for listed files
    found: dict[str, tuple[str | None, str, Hot, tuple[str, ...], str]] = {}
    to_scan: list[Job] = []
    used: sheet_cache.HotRecords = {}
    hits = 0
    folders: dict[str, bool] = {}  # folder -> not a symlink (read_file)
    for path, blob, mode in listed:
        reason = path_skip_reason(path)
        if reason is None and mode == MODE_GITLINK:
            reason = "submodule"
        if reason is None and blob is None and mode:
            # Changed in the work tree: what is there now decides, not the index's mode
            # (a file replaced by a symlink, or a symlink by a file).
            mode = MODE_SYMLINK if os.path.islink(top / path) else MODE_FILE
        if reason is None and mode == MODE_SYMLINK:
            reason = symlink_skip_reason(top, path)
            if reason is None:
                # Points at a file inside the repository: listed by path; its target is
                # (or is not) in the sheet on its own.
                lang = language_for_path(path)
                found[path] = (lang, blob or "", _EMPTY_HOT, ("symlink",), "")
                continue
        if reason is not None:
            skipped[path] = reason
            continue
        lang = language_for_path(path)
        if blob is None:
            # Changed in the working tree or untracked: hash what is there now (a miss is
            # read again by the scan, which keys its record by what it read then).
            data, reason = read_file(str(top), path, max_file_bytes, folders)
            if data is None:
                skipped[path] = reason
                continue
            blob = blob_sha(data)
        key = f"{blob}:{lang or ''}"
        value = records.get(key)
        if value is None or len(value) != HOT:
            to_scan.append(Job(path, lang))
            continue
        used[key] = value
        hits += 1
        if value[0] > max_file_bytes:  # size
            skipped[path] = "too-large"
        elif value[5]:  # skip reason
            skipped[path] = value[5]
        else:
            found[path] = (lang, blob, value, (), key)
    new: sheet_cache.Records = {}
    stats.cache_hits = hits
    stats.cache_misses = len(to_scan)
    workers = jobs if jobs is not None else cpu_count()
    stats.workers = workers if len(to_scan) >= INLINE_LIMIT and workers > 1 else 1
    cache.cold.root = str(top)
    if to_scan:
        for out in _scan(top, to_scan, max_file_bytes, workers, ranking):
            lang = language_for_path(out.path)
            if out.record is None:
                skipped[out.path] = out.skip
                continue
            key = sheet_cache.cache_key(out.blob, lang)
            new[key] = tuple(out.record)
            cache.add(key, out.record)
            if out.record.skip:
                skipped[out.path] = out.record.skip
            else:
                found[out.path] = (lang, out.blob, cast(Hot, out.record[:HOT]), (), key)

    paths = frozenset(p for p in (i.path for i in listed) if skipped.get(p) != "deleted")
    # go.mod content decides Go resolution, so its blob is part of the key too.
    go_mods = [f"{p}={found[p][1]}" for p in sorted(found) if p.rsplit("/", 1)[-1] == "go.mod"]
    keyed = "\0".join([*sorted(paths), *go_mods]).encode("utf-8", "surrogateescape")
    digest = hashlib.sha1(keyed).hexdigest()
    # Resolved imports of earlier runs, valid while the set of paths is the same.
    previous = cache.resolution if cache.digest == digest else {}
    resolution: sheet_cache.Resolution = {}
    resolver: Resolver | None = None
    files: list[FileEntry] = []
    for path in sorted(found):
        lang, blob, hot, extra, key = found[path]
        size, lines, flags, doc, import_names, _skip, body = hot
        resolved: tuple[str, ...] = ()
        if import_names:
            hit = previous.get(path)
            if hit is not None and hit[0] == blob:
                resolved = hit[1]
            else:
                if resolver is None:
                    resolver = Resolver(paths, _go_modules(top, paths))
                resolved = resolver.resolve(path, lang, marshal.loads(cache.cold.get(key)[0]))
            resolution[path] = (blob, resolved)
        files.append(
            FileEntry(
                path,
                lang,
                size,
                lines,
                blob,
                doc,
                import_names,
                resolved,
                flags=flags + extra if extra else flags,
                symbol_text=body,
                cold=(cache.cold, key) if key else None,
            )
        )
    index: RankIndex | None = None
    if ranking:
        # A stored rank index for exactly these contents makes the per-file rank data
        # unnecessary: neither decoded nor (when pending) computed.
        folder = cache.folder if cache.enabled else None
        version = sheet_cache.version()
        tree = tree_digest(files, version)
        index = load_index(folder)
        if index is not None and index.digest != tree:
            # A few files changed since it was built: patched (not stored) rather than
            # rebuilt, which would read every file's rank data.
            index = index.patched(files, version)
        if index is None:
            _fill_rank_data(top, files, found, cache, new, workers)
            index = build_index(files, tree)
            save_index(folder, index)
    cache.save(new, used, digest, resolution)
    for reason in skipped.values():
        stats.skipped[reason] = stats.skipped.get(reason, 0) + 1
    stats.files_listed = len(files)
    stats.parsed = sum(1 for f in files if is_parsed(f.language) and "symlink" not in f.flags)
    stats.non_utf8 = sum(1 for f in files if "non-utf8" in f.flags)

    tracked = {
        i.path: (
            i.mode if i.blob else work_tree_mode(top, i.path, i.mode),
            i.blob or (found[i.path][1] if i.path in found else "") or None,
        )
        for i in listed
        if i.mode and skipped.get(i.path) != "deleted"
    }
    sheet = Sheet(
        root=top,
        files=files,
        stats=stats,
        paths=paths,
        skipped=skipped,
        query=query,
        tracked=tracked,
    )
    sheet.index = index
    if summaries:
        sheet.summaries = load_summaries(sheet) or None
    if query.strip():
        # Here, not at the top: a map without a query never ranks, and rank (with its
        # mentions) would cost every warm map ~10 ms to import.
        from tinygen.sheet.rank import rank_sheet

        rank_sheet(sheet)
    stats.seconds = time.perf_counter() - started
    return sheet
