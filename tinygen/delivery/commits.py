"""Commits made without touching the user's checkout: messages with trailers, the identity
used when git has none, and a diff committed on a base in a temporary worktree (for results
that carry no validated tree)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from tinygen.config import load_settings
from tinygen.errors import PatchApplyError, PatchParseError
from tinygen.redact import printable, redact
from tinygen.repo.git import git, git_bytes, resolve_commit, temp_worktree
from tinygen.validate.paths import PathPolicy, check_path

# Used when git has no identity configured (a fresh CI runner) and no author was given.
DEFAULT_IDENTITY = ("tinygen", "tinygen@users.noreply.github.com")
_TRAILER_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-]*$")


def build_message(message: str, trailers: Mapping[str, str]) -> str:
    """The message, a blank line, then ``Key: value`` trailers in the order given. Every
    commit tinygen makes goes through here: no control character reaches git history
    (``git log`` would replay an escape sequence from the model's plan on a terminal)."""
    message = printable(message)
    body = "\n".join(line.rstrip() for line in message.strip().splitlines()).strip()
    if not body:
        raise ValueError("a commit message is required")
    lines = []
    for key, value in trailers.items():
        if not _TRAILER_KEY.match(key):
            raise ValueError(f"bad trailer key {key!r}")
        lines.append(f"{key}: {' '.join(printable(str(value)).split())}")
    return body + ("\n\n" + "\n".join(lines) if lines else "") + "\n"


def identity_env(root: Path, author: tuple[str, str] | None) -> dict[str, str]:
    env: dict[str, str] = {}
    if author is not None:
        name, email = author
        if any(c in name + email for c in "<>\n\r") or not name.strip() or not email.strip():
            raise ValueError(f"bad author {author!r}")
        env |= {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email}
    fallback = author or DEFAULT_IDENTITY
    for role in ("AUTHOR", "COMMITTER"):
        if f"GIT_{role}_NAME" in env:
            continue
        if git_bytes(["var", f"GIT_{role}_IDENT"], root, check=False).returncode != 0:
            env |= {f"GIT_{role}_NAME": fallback[0], f"GIT_{role}_EMAIL": fallback[1]}
    return env


def commit_on_top(
    root: Path,
    parent_commit: str,
    diff: str,
    *,
    message: str,
    trailers: Mapping[str, str],
    author: tuple[str, str] | None = None,
) -> str:
    """A new commit (not on any branch) whose parent is ``parent_commit`` and whose change is
    ``diff``, applied with ``git apply --index`` in a temporary worktree. Returns its sha."""
    return _commit(root, parent_commit, diff, build_message(message, trailers), author)


def _commit(
    root: Path, parent: str, diff: str, full_message: str, author: tuple[str, str] | None
) -> str:
    if not diff.strip():
        raise PatchParseError("the diff is empty: there is nothing to commit")
    parent_sha = resolve_commit(root, parent)
    env = identity_env(root, author)

    policy = _policy_at(root, parent_sha)
    with temp_worktree(root, parent_sha) as wt:
        proc = git_bytes(
            ["apply", "--index", "--whitespace=nowarn", "-"],
            wt,
            input=diff.encode("utf-8"),
            check=False,
            quiet=True,
        )
        if proc.returncode != 0:
            err = redact(proc.stderr.decode("utf-8", "replace").strip())
            raise PatchApplyError(
                f"the diff does not apply to {parent_sha[:12]}: {err.splitlines()[0] if err else ''}",
                feedback=err,
                hint="the diff must be made against the base commit",
            )
        # Defence in depth: the validation gate checked the paths as it parsed the diff;
        # these are the paths git actually changed (quoted names decoded, both sides of a
        # rename), checked against the tree the commit is made in.
        changed = git(["diff", "--cached", "--name-only", "--no-renames", "-z"], wt, quiet=True)
        if not changed:
            raise PatchApplyError(f"the diff changes nothing in {parent_sha[:12]}")
        for path in changed.split("\0"):
            if path:
                check_path(wt, path, policy)
        # quiet: no hook runs in (or could modify) our temp worktree, nor rewrite the
        # message; the validation stage has already run the configured checks
        git(
            ["commit", "--quiet", "--no-verify", "--cleanup=whitespace", "-F", "-"],
            wt,
            input=full_message,
            env=env,
            quiet=True,
        )
        return git(["rev-parse", "HEAD"], wt, quiet=True).strip()


def _policy_at(root: Path, commit: str) -> PathPolicy:

    settings = load_settings(root, commit=commit)
    return PathPolicy(settings.protected_paths, settings.allowed_paths)
