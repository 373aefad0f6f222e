"""Small helpers for tests: real git repositories, real commands."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tinygen.config import Settings
    from tinygen.llm import Provider
    from tinygen.passes.common import RunContext


def git(root: Path, *args: str, input: str | None = None) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, check=True, capture_output=True, text=True, input=input
    ).stdout


def init_repo(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "--quiet", "--initial-branch=main")
    return root


def write_files(root: Path, files: Mapping[str, str | bytes]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_bytes(content.encode("utf-8"))


def commit_all(root: Path, message: str = "change") -> str:
    git(root, "add", "-A")
    git(root, "commit", "--quiet", "--allow-empty", "-m", message)
    return git(root, "rev-parse", "HEAD").strip()


def status(root: Path) -> str:
    """``git status --porcelain`` including ignored files: what a run must leave unchanged."""
    return git(root, "status", "--porcelain", "--ignored")


def loose_diff(path: str, text: str, old: str, new: str) -> str:
    """A diff as models write it (no line numbers, one context line) replacing ``old`` by
    ``new`` on every line of ``text`` (the file ``path``) that holds it."""
    lines = text.splitlines()
    out = [f"--- a/{path}", f"+++ b/{path}"]
    for i, line in enumerate(lines):
        if old in line:
            out.append("@@ ... @@")
            if i > 0:
                out.append(" " + lines[i - 1])
            out += ["-" + line, "+" + line.replace(old, new)]
    return "\n".join(out) + "\n"


def pass_context(
    root: Path,
    provider: Provider,
    *,
    request: str = "Rename load_cfg to load_config",
    settings: Settings | None = None,
    records: Path | None = None,
) -> RunContext:
    """What a pass needs, for a checkout at ``root`` (its committed files are the repository)
    and a provider; the run record goes to ``records`` (default: a folder beside ``root``)."""
    from tinygen.config import Settings
    from tinygen.models import Request
    from tinygen.passes.common import RunContext
    from tinygen.runs import RunRecorder

    paths = frozenset(git(root, "ls-files", "-z").split("\0")) - {""}
    return RunContext(
        provider=provider,
        settings=settings or Settings(),
        request=Request(request),
        root=root,
        repo_paths=paths,
        sheet_text="(reference sheet)",
        record=RunRecorder(records or root.parent / f"{root.name}-runs"),
        model="claude-sonnet-4-6",
    )


def branch_commit(
    root: Path,
    base: str,
    diff: str,
    *,
    branch: str,
    message: str,
    trailers: dict[str, str],
) -> str:
    """A commit of ``diff`` on ``base`` (delivery's path for a diff without a validated tree)
    on the new local ``branch``; its sha."""
    from tinygen.delivery.branches import create_branch_at
    from tinygen.delivery.commits import commit_on_top

    sha = commit_on_top(root, base, diff, message=message, trailers=trailers)
    create_branch_at(root, branch, sha)
    return sha
