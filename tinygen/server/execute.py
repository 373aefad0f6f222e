"""Running one job: open the repository (clone cache), check its size, run the pipeline.

Each job gets its own run (the pipeline makes its own temporary worktree at the base
commit); the only thing jobs share is the clone cache, which serializes clone/fetch of
one repository with a lock file.

Two server-side limits apply here rather than in the pipeline:

- **Size**: :class:`CloneWatch` polls the size of the cache entry's ``objects/`` while the
  fetch runs and kills the git processes working in it once it passes ``--max-repo-mb``, so
  an oversized repository is never downloaded whole; a rejected repository's cache entry is
  deleted (under the clone cache's own lock). Where ``/proc`` is missing (not Linux) the
  size is checked after the fetch only.
- **Spending**: a repository's ``.tinygen.toml`` is written by whoever submits it, but the
  model calls are billed to the server's key. It may lower ``max-rounds``, ``budget``,
  ``max-tokens``, ``jobs``, ``max-samples`` and the timeouts, never raise them above the
  server's; its ``model`` is used only when the server allows it (``--allow-model``). The
  cost limit (``max-cost``, also a request field) is at most the server's: a job without
  one gets the server's. Each cut is reported as a ``limits`` progress event.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tinygen import pipeline
from tinygen.config import load_settings
from tinygen.errors import RepoError, RepoTooLargeError
from tinygen.llm import make_provider
from tinygen.models import Request
from tinygen.repo.clone import cache_path, default_cache_dir, file_lock, open_repository
from tinygen.repo.git import git
from tinygen.repo.spec import parse_repo_spec
from tinygen.server.config import ServerConfig
from tinygen.server.jobs import Job
from tinygen.server.worker import Progress

if TYPE_CHECKING:
    from tinygen.config import Settings
    from tinygen.llm import Provider
    from tinygen.repo.spec import RepoSpec

# Settings a repository may lower but not raise (the server's value is the cap).
CAPPED = (
    "max_rounds",
    "budget",
    "max_tokens",
    "jobs",
    "max_file_bytes",
    "request_timeout",
    "max_retries",
    "max_retry_wait",
    "max_retry_total",
    "check_timeout",
    "max_samples",
)


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB"


def repository_size(root: Path, commit: str) -> tuple[int, int]:
    """(bytes of git objects on disk, bytes a checkout of ``commit`` writes)."""
    stored = 0
    for line in git(["count-objects", "-v"], root).splitlines():
        key, _, value = line.partition(":")
        if key in ("size", "size-pack"):  # KiB
            stored += int(value.strip() or 0) * 1024
    checkout = 0
    for line in git(["ls-tree", "-r", "-l", "--full-tree", commit], root).splitlines():
        fields = line.split(None, 4)
        if len(fields) >= 4 and fields[1] == "blob" and fields[3].isdigit():
            checkout += int(fields[3])
    return stored, checkout


def too_large(limit: int, stored: int, checkout: int | None = None) -> RepoTooLargeError:
    what = (
        f"{_mb(stored)} of git objects and {_mb(checkout)} checked out"
        if checkout is not None
        else f"the fetch was stopped at {_mb(stored)} of git objects"
    )
    return RepoTooLargeError(
        f"the repository is too large for this server: {what} (the limit is {_mb(limit)})",
        hint="ask the server's operator to raise the repository size limit (`max_repo_bytes`), "
        "or run tinygen locally",
    )


def check_size(root: Path, commit: str, limit: int) -> None:
    stored, checkout = repository_size(root, commit)
    if max(stored, checkout) > limit:
        raise too_large(limit, stored, checkout)


def tree_size(path: Path) -> int:
    """Bytes of the files under ``path`` (files vanishing meanwhile are skipped)."""
    total = 0
    stack = [path]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                else:
                    total += entry.stat(follow_symlinks=False).st_size
            except OSError:
                continue
    return total


def _git_processes_in(path: Path) -> list[int]:
    """Our child processes working in ``path`` (git, by its cwd) and all their descendants."""
    proc = Path("/proc")
    parents: dict[int, int] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            parents[int(entry.name)] = int(stat.rpartition(")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    me, target = os.getpid(), str(path.resolve())
    roots = []
    for pid, ppid in parents.items():
        if ppid != me:
            continue
        try:
            if os.readlink(proc / str(pid) / "cwd") == target:
                roots.append(pid)
        except OSError:
            continue
    found, frontier = list(roots), list(roots)
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        found.extend(children)
        frontier.extend(children)
    return found


class CloneWatch:
    """While open: poll the size of ``path/objects`` and, once over ``limit``, kill the git
    processes working in ``path``. ``tripped`` is the size seen then (None: never)."""

    def __init__(self, path: Path, limit: int, interval: float = 0.1) -> None:
        self.path = path
        self.limit = limit
        self.interval = interval
        self.tripped: int | None = None
        self.can_kill = Path("/proc/self/stat").exists()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="clone-watch", daemon=True)

    def __enter__(self) -> CloneWatch:
        if self.can_kill:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        if self._thread.is_alive():
            self._thread.join()

    def _watch(self) -> None:
        while not self._done.wait(self.interval):
            size = tree_size(self.path / "objects")
            if size <= self.limit:
                continue
            self.tripped = max(self.tripped or 0, size)
            for pid in _git_processes_in(self.path):
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)


def drop_cache_entry(spec: RepoSpec, cache_dir: Path | None) -> None:
    """Delete a repository's clone cache entry, under the lock its clones and fetches take."""

    path = cache_path(spec, cache_dir)
    with file_lock(path.with_name(path.name + ".lock")):
        shutil.rmtree(path, ignore_errors=True)


class PipelineExecutor:
    """The executor the server uses: ``execute(job, progress) -> result dict``."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        # Providers are thread-safe: jobs with the same model and limits share one client
        # (and its connection pool) instead of opening one per job.
        self._providers: dict[tuple[str | None, int, float, float, float], Provider] = {}
        self._lock = threading.Lock()

    def provider(self, settings: Settings) -> Provider:
        """One client per model and limits, shared by the jobs that use them."""

        key = (
            settings.model,
            settings.max_retries,
            settings.max_retry_wait,
            settings.max_retry_total,
            settings.request_timeout,
        )
        with self._lock:
            if key not in self._providers:
                self._providers[key] = make_provider(settings)
            return self._providers[key]

    def __call__(self, job: Job, progress: Progress) -> dict[str, Any]:
        # What a job's errors and events say of the cache is hidden where they leave the
        # server (tinygen.redact.hidden_paths, held by tinygen.server.lifecycle).
        cache = self.config.cache_dir or default_cache_dir()
        spec = job.spec
        repo = parse_repo_spec(spec.repo_url, allow_local=self.config.allow_local)
        limit = self.config.max_repo_bytes
        progress("clone", f"fetching {repo.display_url}" + (f" at {spec.ref}" if spec.ref else ""))
        with CloneWatch(cache_path(repo, cache), limit) as watch:
            try:
                opened = open_repository(repo, ref=spec.ref, cache_dir=cache)
            except RepoError:
                if watch.tripped is None:
                    raise
                opened = None
        if watch.tripped is not None:
            drop_cache_entry(repo, cache)
            raise too_large(limit, watch.tripped) from None
        assert opened is not None
        try:
            check_size(opened.root, opened.base_commit, limit)
        except RepoError:
            if opened.is_clone and repository_size(opened.root, opened.base_commit)[0] > limit:
                drop_cache_entry(repo, cache)  # its objects alone are over: keep nothing
            raise
        progress("clone", f"base commit {opened.base_commit[:12]}")

        notes: list[str] = []

        def limited(settings: Settings) -> Settings:
            capped, cut = self.limit(settings)
            notes.extend(cut)
            return capped

        workspace = pipeline.open_workspace(
            opened,
            overrides={
                "model": spec.model,
                "checks": spec.checks,
                "vote": spec.vote,
                "max_cost": spec.max_cost,
            },
            adjust=limited,
            provider_for=self.provider,
        )
        if notes:
            progress("limits", "; ".join(notes))
        result = pipeline.run(
            Request(spec.prompt, source="api"),
            workspace.target(),
            workspace.settings,
            workspace.provider,
            model=workspace.settings.model,
            progress=progress,
            run_id=job.id,
        )
        data = result.to_dict()
        data.pop("diff_path", None)  # a path on the server: nothing a client can use
        data["default_branch"] = opened.default_branch
        return data

    def caps(self) -> dict[str, Any]:
        """The most a job may use: the server's flags, else its own settings (defaults and
        TINYGEN_* in its environment, never a repository's)."""

        own = load_settings(None)
        caps = {name: getattr(own, name) for name in CAPPED}
        for name in ("max_rounds", "budget", "max_tokens", "jobs"):
            if getattr(self.config, name) is not None:
                caps[name] = getattr(self.config, name)
        caps["max_cost"] = (
            self.config.max_cost if self.config.max_cost is not None else own.max_cost
        )
        return caps

    def limit(self, settings: Settings) -> tuple[Settings, list[str]]:
        """``settings`` within the server's caps and model allow-list, and what was cut."""
        notes: list[str] = []
        changes: dict[str, Any] = {}
        caps = self.caps()
        cost_cap = caps.pop("max_cost")
        if cost_cap is not None and (settings.max_cost is None or settings.max_cost > cost_cap):
            if settings.max_cost is not None:
                notes.append(
                    f"max-cost {settings.max_cost} is over this server's limit; using {cost_cap}"
                )
            changes["max_cost"] = cost_cap
        for name, cap in caps.items():
            if getattr(settings, name) > cap:
                notes.append(
                    f"{name.replace('_', '-')} {getattr(settings, name)} is over this "
                    f"server's limit; using {cap}"
                )
                changes[name] = cap
        samples = changes.get("max_samples", settings.max_samples)
        if settings.vote > samples:  # a vote that could never be decided
            notes.append(f"vote {settings.vote} is over this server's max-samples; using {samples}")
            changes["vote"] = samples
        models = self.config.models()
        if settings.model is None:
            changes["model"] = models[0]
        elif settings.model not in models:
            notes.append(f"model {settings.model} is not allowed on this server; using {models[0]}")
            changes["model"] = models[0]
        if not self.config.allow_checks and settings.checks:
            # A repository's own config must not make this server run its commands.
            notes.append("checks are not run on this server (its `allow_checks` is off)")
            changes["checks"] = ()
        return dataclasses.replace(settings, **changes), notes


__all__ = [
    "CAPPED",
    "CloneWatch",
    "PipelineExecutor",
    "check_size",
    "drop_cache_entry",
    "repository_size",
    "too_large",
    "tree_size",
]
