"""The path policy: a path a diff may touch is inside the repository after resolving
symlinks (a symlinked directory pointing outside included), not in ``.git/``, not itself
a symlink, and not matching a protected glob (default ``.github/workflows/**`` and
``.tinygen.toml``, which says which checks run) unless it matches an allowed one."""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from tinygen.errors import PathPolicyError


@dataclass(frozen=True)
class PathPolicy:
    protected: tuple[str, ...] = (".github/workflows/**", ".tinygen.toml")
    allowed: tuple[str, ...] = ()


@cache
def glob_regex(pattern: str) -> re.Pattern[str]:
    """``**`` matches across directories, ``*`` and ``?`` within one; ``dir/**`` also
    matches ``dir`` itself."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("/**", i) and i + 3 == len(pattern):
            out.append("(?:/.*)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def matches(path: str, patterns: tuple[str, ...]) -> bool:
    return any(glob_regex(p).match(path) for p in patterns)


# Code points HFS+ ignores in names (git's core.protectHFS list): ".g\u200cit" is ".git" there.
_IGNORABLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u206a-\u206f\ufeff]")


def folded(path: str) -> str:
    """``path`` as a case-insensitive filesystem (macOS, Windows) sees it: ignorable code
    points removed, case folded, and each part's trailing dots and spaces dropped (NTFS)."""
    parts = _IGNORABLE.sub("", path).casefold().split("/")
    return "/".join(part.rstrip(". ") or part for part in parts)


def _is_git_dir(part: str) -> bool:
    return part == ".git" or part == "git~1"  # the second: NTFS's short name for .git


def normalize(path: str) -> str:
    """A clean relative POSIX path, or PathPolicyError for one that cannot be inside."""
    p = path.replace("\\", "/")
    if not p or "\x00" in p:
        raise PathPolicyError(f"invalid path {path!r}", hint="use a repository-relative path")
    if p.startswith("/") or re.match(r"^[A-Za-z]:", p):
        raise PathPolicyError(
            f"{path!r} is an absolute path", hint="use a path relative to the repository root"
        )
    norm = posixpath.normpath(p)
    if norm == ".." or norm.startswith("../") or norm == ".":
        raise PathPolicyError(
            f"{path!r} leaves the repository", hint="use a path inside the repository, without '..'"
        )
    if any(_is_git_dir(part) for part in folded(norm).split("/")):
        raise PathPolicyError(
            f"{path!r} is inside .git/", hint="only files of the working tree can be changed"
        )
    return norm


def _matches_folded(path: str, patterns: tuple[str, ...]) -> bool:
    return matches(folded(path), tuple(folded(p) for p in patterns))


def check_path(root: Path, path: str, policy: PathPolicy) -> str:
    """The normalized repository path for ``path``, or PathPolicyError saying why not."""
    rel = normalize(path)
    base = Path(os.path.realpath(root))
    target = Path(os.path.realpath(base / rel))
    try:
        resolved = target.relative_to(base).as_posix()
    except ValueError:
        raise PathPolicyError(
            f"{rel!r} resolves to {target}, outside the repository (through a symbolic link)",
            hint="change files inside the repository only",
        ) from None
    if (base / rel).is_symlink():
        raise PathPolicyError(
            f"{rel!r} is a symbolic link", hint="change the file it points to instead"
        )
    for candidate in dict.fromkeys((rel, resolved)):
        if any(_is_git_dir(part) for part in folded(candidate).split("/")):
            raise PathPolicyError(
                f"{rel!r} resolves into .git/", hint="only files of the working tree can be changed"
            )
        # Compared folded: on macOS or Windows ".GitHub/Workflows/x.yml" IS the workflow.
        if _matches_folded(candidate, policy.protected) and not _matches_folded(
            candidate, policy.allowed
        ):
            raise PathPolicyError(
                f"{rel!r} is protected (matches {_which(candidate, policy.protected)!r})",
                hint="change it by hand, or add it to allowed-paths in the configuration",
            )
    return rel


def _which(path: str, patterns: tuple[str, ...]) -> str:
    return next(p for p in patterns if glob_regex(folded(p)).match(folded(path)))


__all__ = ["PathPolicy", "check_path", "glob_regex", "matches", "normalize"]
