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
    if any(part.lower() == ".git" for part in norm.split("/")):
        raise PathPolicyError(
            f"{path!r} is inside .git/", hint="only files of the working tree can be changed"
        )
    return norm


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
        if any(part.lower() == ".git" for part in candidate.split("/")):
            raise PathPolicyError(
                f"{rel!r} resolves into .git/", hint="only files of the working tree can be changed"
            )
        if matches(candidate, policy.protected) and not matches(candidate, policy.allowed):
            raise PathPolicyError(
                f"{rel!r} is protected (matches {_which(candidate, policy.protected)!r})",
                hint="change it by hand, or add it to allowed-paths in the configuration",
            )
    return rel


def _which(path: str, patterns: tuple[str, ...]) -> str:
    return next(p for p in patterns if glob_regex(p).match(path))


__all__ = ["PathPolicy", "check_path", "glob_regex", "matches", "normalize"]
