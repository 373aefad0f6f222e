"""Running one job: open the repository (clone cache), check its size, run the pipeline.

Each job gets its own run (the pipeline makes its own temporary worktree at the base
commit); the only thing jobs share is the clone cache, which serializes clone/fetch of
one repository with a lock file.
"""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tinygen.errors import RepoError
from tinygen.git import git
from tinygen.server.config import ServerConfig
from tinygen.server.jobs import Job
from tinygen.server.worker import Progress

if TYPE_CHECKING:
    from tinygen.config import Settings
    from tinygen.llm import AnthropicProvider


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


def check_size(root: Path, commit: str, limit: int) -> None:
    stored, checkout = repository_size(root, commit)
    if max(stored, checkout) > limit:
        raise RepoError(
            f"the repository is too large for this server: {_mb(stored)} of git objects and"
            f" {_mb(checkout)} checked out (the limit is {_mb(limit)})",
            hint="ask the server's operator to raise --max-repo-mb, or run tinygen locally",
        )


class PipelineExecutor:
    """The executor the server uses: ``execute(job, progress) -> result dict``."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        # Providers are thread-safe: jobs with the same model and limits share one client
        # (and its connection pool) instead of opening one per job.
        self._providers: dict[tuple[str, float, float, float], AnthropicProvider] = {}
        self._lock = threading.Lock()

    def provider(self, model: str, settings: Settings) -> AnthropicProvider:
        from tinygen.llm import AnthropicProvider

        key = (model, settings.max_retry_wait, settings.max_retry_total, settings.request_timeout)
        with self._lock:
            if key not in self._providers:
                self._providers[key] = AnthropicProvider(
                    model=model,
                    max_retry_wait=settings.max_retry_wait,
                    max_retry_total=settings.max_retry_total,
                    timeout=settings.request_timeout,
                )
            return self._providers[key]

    def __call__(self, job: Job, progress: Progress) -> dict[str, Any]:
        from tinygen import pipeline
        from tinygen.config import load_settings
        from tinygen.llm import default_model
        from tinygen.models import Request
        from tinygen.remote import open_repository, parse_repo_spec

        spec = job.spec
        repo = parse_repo_spec(spec.repo_url, allow_local=self.config.allow_local)
        progress("clone", f"fetching {repo.display_url}" + (f" at {spec.ref}" if spec.ref else ""))
        opened = open_repository(repo, ref=spec.ref, cache_dir=self.config.cache_dir)
        check_size(opened.root, opened.base_commit, self.config.max_repo_bytes)
        progress("clone", f"base commit {opened.base_commit[:12]}")

        overrides = {"model": spec.model, "checks": spec.checks}
        settings = load_settings(opened.root, overrides, commit=opened.base_commit)
        if not self.config.allow_checks:
            # A repository's own config must not make this server run its commands.
            settings = dataclasses.replace(settings, checks=())
        model = settings.model or default_model()
        provider = self.provider(model, settings)
        result = pipeline.run(
            Request(spec.prompt, source="api"),
            pipeline.Target(opened.root, opened.base_commit),
            settings,
            provider,
            model=model,
            progress=progress,
            run_id=job.id,
        )
        data = result.to_dict()
        data.pop("diff_path", None)  # a path on the server: nothing a client can use
        data["default_branch"] = opened.default_branch
        return data


__all__ = ["PipelineExecutor", "check_size", "repository_size"]
