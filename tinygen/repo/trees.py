"""Trees and commits made without a working tree.

The validation gate applies a diff to a throwaway index (never a checkout) and writes the
resulting tree; checks run on a worktree of exactly that tree, and delivery commits it.
So what ships is byte for byte what was validated, and a run applies its diff once.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path

from tinygen.redact import redact
from tinygen.repo.git import git, git_bytes

# The identity of snapshot commits, which are never pushed (they only give a tree a
# commit so that a worktree can check it out).
SNAPSHOT_IDENTITY = {
    "GIT_AUTHOR_NAME": "tinygen",
    "GIT_AUTHOR_EMAIL": "tinygen@users.noreply.github.com",
    "GIT_COMMITTER_NAME": "tinygen",
    "GIT_COMMITTER_EMAIL": "tinygen@users.noreply.github.com",
}


def tree_with_diff(cwd: Path, base: str, diff: str) -> tuple[str | None, str]:
    """``(tree, "")``: the tree of ``base`` with ``diff`` applied, or ``(None, reason)`` with
    git's (redacted) reason when ``git apply`` refuses it. Works in any repository or
    worktree ``cwd`` (quiet: no hooks, no filters); its index and files are not touched."""
    with tempfile.TemporaryDirectory(prefix="tinygen-index-") as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        git(["read-tree", base], cwd, env=env, quiet=True)
        proc = git_bytes(
            ["apply", "--cached", "--whitespace=nowarn", "-"],
            cwd,
            input=diff.encode("utf-8"),
            env=env,
            check=False,
            quiet=True,
        )
        if proc.returncode != 0:
            return None, redact(proc.stderr.decode("utf-8", "replace").strip())
        return git(["write-tree"], cwd, env=env, quiet=True).strip(), ""


def changed_paths(cwd: Path, old: str, new: str) -> list[str]:
    """The paths that differ between two trees or commits (both sides of a rename, git's
    own names: no quoting to undo)."""
    out = git(["diff-tree", "-r", "--no-renames", "--name-only", "-z", old, new], cwd, quiet=True)
    return [p for p in out.split("\0") if p]


def commit_tree(
    cwd: Path, tree: str, parent: str, message: str, env: Mapping[str, str] | None = None
) -> str:
    """A commit of ``tree`` whose parent is ``parent`` (on no branch); its sha."""
    return git(["commit-tree", tree, "-p", parent, "-F", "-"], cwd, input=message, env=env).strip()


def snapshot_commit(cwd: Path, tree: str, parent: str) -> str:
    """A throwaway commit of ``tree`` (for a worktree to check it out)."""
    return commit_tree(cwd, tree, parent, "tinygen: validated tree\n", SNAPSHOT_IDENTITY)
