"""Where a run works: ``open_workspace`` opens the repository (a checkout, a bare repository or
a URL through the clone cache), reads its settings from the base commit and makes the
provider they name; ``Target`` is the repository and the commit a run changes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tinygen.config import Settings, load_settings
from tinygen.llm.factory import make_provider
from tinygen.repo.clone import OpenedRepo, open_repository

if TYPE_CHECKING:
    from tinygen.llm import Provider
    from tinygen.repo.spec import RepoSpec


@dataclass(frozen=True)
class Target:
    """Where a run works: a repository (checkout or clone) and the commit to change;
    ``name`` is what the repository is called (its remote's owner/name, or its folder's),
    for the summaries' overview — the run's own worktree has a name that means nothing."""

    root: Path
    base_commit: str
    name: str = ""

    @property
    def repo_name(self) -> str:
        """``name``, else the repository folder's (a bare clone's without ``.git``)."""
        return self.name or self.root.name.removesuffix(".git")


@dataclass(frozen=True)
class Workspace:
    """An opened repository with its settings (read from the base commit) and the provider
    those settings name: everything a run needs besides the request."""

    opened: OpenedRepo
    settings: Settings
    provider: Provider

    @property
    def root(self) -> Path:
        return self.opened.root

    @property
    def base_commit(self) -> str:
        return self.opened.base_commit

    def target(self, commit: str | None = None) -> Target:
        """Where to run: the base commit, or ``commit`` (a pull request's head)."""
        spec = self.opened.spec
        return Target(
            self.opened.root, commit or self.opened.base_commit, spec.full_name or spec.name
        )


def open_workspace(
    repo: str | RepoSpec | OpenedRepo,
    *,
    ref: str | None = None,
    overrides: dict[str, Any] | None = None,
    token: str | None = None,
    cache_dir: Path | None = None,
    adjust: Callable[[Settings], Settings] | None = None,
    provider: Provider | None = None,
    provider_for: Callable[[Settings], Provider] | None = None,
) -> Workspace:
    """Open ``repo`` (a checkout path, a bare repository, a URL through the clone cache, or
    an already opened repository), read its settings from the base commit with
    ``overrides`` on top, let the front end ``adjust`` them (the server's caps, the
    Action's protected workflows), and make the provider ``settings.model`` names (or take
    ``provider``, or ask ``provider_for`` for one: the server shares clients between jobs)."""

    opened = (
        repo
        if isinstance(repo, OpenedRepo)
        else open_repository(repo, ref=ref, cache_dir=cache_dir, token=token)
    )
    settings = load_settings(opened.root, overrides, commit=opened.base_commit)
    if adjust is not None:
        settings = adjust(settings)
    if provider is None:
        provider = (provider_for or make_provider)(settings)
    return Workspace(opened, settings, provider)
