"""Apply a diff to a checkout's working tree, every file or none: the one implementation
behind ``tinygen apply`` and ``tinygen run --apply``.

:func:`place_diff` reads and decides; :func:`apply_diff` places and writes:

- every hunk is placed by content (the patch engine) on the working tree's files, so the
  tree may have moved past the diff's base; one that does not fit refuses the whole diff;
- every changed path passes the path policy (protected paths, ``.git``, symlinks leading
  out of the repository);
- files with uncommitted changes — modified, staged, untracked or git-ignored (an
  ``.env``) — are refused unless ``force``: they are the user's own work;
- a change that adds syntax errors to a file (the syntax delta ``tinygen run``'s gate
  checks: a hunk that lost a context line can fit at a unique place and split a function)
  is refused unless ``force``;
- just before writing, each file must still hold the text the hunks were placed on (and
  the caller's ``expected`` text): an editor saving meanwhile refuses the write;
- the write is atomic per file and all-or-nothing (:func:`write_files_atomically`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tinygen.config import load_settings
from tinygen.errors import PatchApplyError, RepoError, ValidationError
from tinygen.patch import apply_patch, canonical_diff
from tinygen.repo.files import uncommitted, write_files_atomically
from tinygen.repo.git import repo_root
from tinygen.repo.texts import WorkingTreeTexts, tracked_files
from tinygen.validate.paths import PathPolicy, check_path
from tinygen.validate.syntax import new_syntax_problems

if TYPE_CHECKING:
    from tinygen.patch.model import HunkReport


@dataclass(frozen=True)
class PlacedDiff:
    """A diff placed on a working tree, nothing written yet."""

    root: Path
    before: dict[str, str | None]  # the texts the hunks were placed on (None: no such file)
    after: dict[str, str | None]  # the files the diff changes (None: deleted)
    report: list[HunkReport]  # where and how each hunk was placed
    diff: str  # the canonical diff of the change
    uncommitted: list[str]  # changed files with uncommitted changes (or ignored)
    syntax: tuple[tuple[str, str], ...] = ()  # (path, problem) the change adds to a file

    @property
    def changed(self) -> list[str]:
        return sorted(self.after)

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": self.changed,
            "hunks": [r.to_dict() for r in self.report],
            "syntax_problems": [{"path": p, "problem": m} for p, m in self.syntax],
        }

    def syntax_error(self) -> ValidationError | None:
        """The refusal of a change that adds syntax errors (None: it adds none)."""
        if not self.syntax:
            return None
        files = sorted({p for p, _ in self.syntax})
        path, problem = self.syntax[0]
        return ValidationError(
            f"the change adds syntax errors to {', '.join(files)} ({path}: {problem}); "
            "nothing was written",
            hint="check where each hunk was placed (one that lost a context line can fit in "
            "the wrong place) and fix the diff, or set force to write it anyway",
            settings=("force",),
        )


def place_diff(root: Path | str, diff: str, *, policy: PathPolicy | None = None) -> PlacedDiff:
    """Place ``diff`` on the working tree of the checkout at ``root``; nothing is written.

    ``policy`` defaults to the checkout's own settings (its protected and allowed paths).
    PatchApplyError when a hunk does not fit (its message names the first one),
    PathPolicyError when a changed path is not allowed."""
    top = repo_root(root)
    if policy is None:
        policy = _checkout_policy(top)
    tracked = tracked_files(top)
    try:
        placed = apply_patch(WorkingTreeTexts(top, tracked), diff, known_paths=tracked)
    except PatchApplyError as exc:
        raise _naming_the_first_failure(exc) from None
    after = {p: t for p, t in placed.after.items() if t != placed.before.get(p)}
    for path in sorted(after):
        check_path(top, path, policy)
    syntax = tuple(
        (path, problem)
        for path in sorted(after)
        for problem in new_syntax_problems(path, placed.before.get(path), after[path])
    )
    return PlacedDiff(
        root=top,
        before={p: placed.before.get(p) for p in after},
        after=after,
        report=placed.report,
        diff=canonical_diff(placed.before, placed.after),
        uncommitted=uncommitted(top, sorted(after)),
        syntax=syntax,
    )


def refuse_uncommitted(paths: list[str], *, before_the_run: bool = False) -> None:
    """RepoError when ``paths`` (files with uncommitted changes: the user's own work) is not
    empty: a change is written over them only with ``force``. The one refusal of
    ``tinygen apply`` and ``run --apply``; ``before_the_run``: the run has not started
    (which files its change touches is not known yet, so any tracked change counts)."""
    if not paths:
        return
    shown = ", ".join(paths[:10]) + (f" and {len(paths) - 10} more" if len(paths) > 10 else "")
    message = (
        f"uncommitted changes in {shown}: applying a change into this checkout needs its "
        "tracked files committed; nothing was run"
        if before_the_run
        else f"uncommitted changes in {shown}; nothing was written"
    )
    raise RepoError(
        message,
        hint="commit or stash them first, or set force to change the files as they are "
        "(the hunks are placed on them)",
        settings=("force",),
    )


def apply_diff(
    root: Path | str,
    diff: str,
    *,
    force: bool,
    expected: Mapping[str, str | None] | None = None,
    policy: PathPolicy | None = None,
) -> list[str]:
    """Write ``diff`` into the working tree of the checkout at ``root``: every file or none.
    Returns the changed paths ([] when every hunk is already there).

    ``expected`` (path -> text, None = absent) is what the caller last saw of those files
    (a dry run, a check run on them): any file that differs refuses the write, as does a
    file that changed after the hunks were placed. ``force`` also changes files with
    uncommitted changes, and writes a change that adds syntax errors."""
    placed = place_diff(root, diff, policy=policy)
    if not force:
        refuse_uncommitted(placed.uncommitted)
        refusal = placed.syntax_error()
        if refusal is not None:
            raise refusal
    if not placed.after:
        return []
    # compared with the disk just before writing: what the hunks were placed on, and what
    # the caller saw (a file that changed in between holds something else than one of them)
    seen = {**placed.before, **(expected or {})}
    write_files_atomically(placed.root, placed.after, expected=seen)
    return placed.changed


def _checkout_policy(root: Path) -> PathPolicy:
    settings = load_settings(root)
    return PathPolicy(settings.protected_paths, settings.allowed_paths)


def _naming_the_first_failure(exc: PatchApplyError) -> PatchApplyError:
    """The engine's error with its message naming the first hunk that did not fit (the
    engine's message is a count) and a remedy for a person, not the model's; feedback and
    failures are kept."""
    if not exc.failures:
        return exc
    first = exc.failures[0]
    return PatchApplyError(
        f"{exc.message}: {first.path}, hunk {first.hunk}: {first.reason}",
        feedback=exc.feedback,
        hint="the working tree differs from what the diff expects: apply it by hand, or "
        "deliver it to a `branch` instead",
        failures=exc.failures,
        settings=("branch",),
    )


__all__ = ["PlacedDiff", "apply_diff", "place_diff", "refuse_uncommitted"]
