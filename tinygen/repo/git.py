"""Running git: argument lists only, no shell, a per-call environment, secrets redacted from
every error.

:func:`git` and :func:`git_bytes` run git through GitPython's ``git.cmd.Git`` command
objects: an argument list (never a shell), the environment of that one call on top of
ours, stdin closed unless input is given, and a timeout that kills git and its children.
GitPython is imported inside them, on first use: its import costs about 0.12 s, half of the
sheet's 0.25 s warm budget, so the few calls on ``tinygen map``'s path — :func:`repo_root`,
:func:`git_common_dir`, :func:`state_dir` here and the walk's ``git ls-files`` — run git
with ``subprocess`` directly (figures: bench/bench_git.py, bench/README.md).

Either way git runs non-interactively: no prompts, no pager, C locale. GitPython also sets
``LANGUAGE=C`` and, like ``subprocess``, starts from ``os.environ``: what we set wins over
it, and nothing here removes a variable (repository checks, which get an allow-listed
environment, run in :mod:`tinygen.validate.checks`, not here).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tinygen.errors import RefNotFoundError, RepoError
from tinygen.redact import redact

if TYPE_CHECKING:
    from git.cmd import Git

# A deterministic, non-interactive git: no pager, no prompts, C locale for parseable output.
_BASE_ENV = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_PAGER": "cat",
    "LC_ALL": "C",
    "GIT_ASKPASS": "",
    "SSH_ASKPASS": "",
}


def git_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The whole environment of a git process started with ``subprocess``."""
    env = dict(os.environ)
    env.update(_BASE_ENV)
    if extra:
        env.update(extra)
    return env


def _git_class() -> type[Git]:
    try:
        # GitPython: heavy, imported on first use (never on `tinygen map`'s path)
        from git.cmd import Git
    except ImportError as exc:
        if isinstance(exc, ModuleNotFoundError) and (exc.name or "").startswith("git"):
            raise RepoError(
                "GitPython is not installed", hint="reinstall tinygen with its dependencies"
            ) from exc
        # GitPython's import runs `git version` and fails when git cannot be started
        raise RepoError("git is not installed or not on PATH", hint="install git") from exc
    return Git


def _folder(cwd: Path | str) -> Path:
    folder = Path(cwd)
    # GitPython would run git in the current directory instead of failing: never that.
    if not folder.is_dir() or not os.access(folder, os.X_OK):
        raise RepoError(f"{folder} is not a folder git can run in", hint="check the path")
    return folder


def git_bytes(
    args: Sequence[str],
    cwd: Path | str,
    *,
    input: bytes | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``git *args`` in ``cwd`` and return the completed process (bytes output).

    ``env`` is added to the environment of this call only; ``timeout`` (seconds) kills git
    and its children and raises RepoError."""
    folder = _folder(cwd)
    git_class = _git_class()
    from git.exc import GitCommandNotFound  # GitPython (already imported by _git_class)

    with contextlib.ExitStack() as stack:
        stdin = None
        if input is not None:  # GitPython reads stdin from a file
            stdin = stack.enter_context(tempfile.TemporaryFile())
            stdin.write(input)
            stdin.seek(0)
        started = time.monotonic()
        try:
            status, out, err = git_class(folder).execute(
                ["git", *args],
                istream=stdin,
                with_extended_output=True,
                with_exceptions=False,
                stdout_as_string=False,
                strip_newline_in_stdout=False,
                kill_after_timeout=timeout,
                env={**_BASE_ENV, **(env or {})},
            )
        except GitCommandNotFound as exc:
            raise RepoError("git is not installed or not on PATH", hint="install git") from exc
    if timeout is not None and status < 0 and time.monotonic() - started >= timeout:
        raise RepoError(f"git {args[0] if args else ''} timed out after {timeout} s")
    proc = subprocess.CompletedProcess(
        ["git", *args], status, out, err.encode("utf-8", "surrogateescape")
    )
    if check and proc.returncode != 0:
        raise RepoError(redact(f"git {' '.join(args[:2])} failed in {cwd}: {err.strip()}"))
    return proc


def git(
    args: Sequence[str],
    cwd: Path | str,
    *,
    input: str | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    timeout: float | None = None,
) -> str:
    """Run ``git *args`` in ``cwd`` and return stdout as text (UTF-8, replacement on error)."""
    proc = git_bytes(
        args,
        cwd,
        input=input.encode("utf-8") if input is not None else None,
        env=env,
        check=check,
        timeout=timeout,
    )
    return proc.stdout.decode("utf-8", "replace")


def _plain_git(args: Sequence[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    """git through ``subprocess``, for the calls on ``tinygen map``'s path (module doc)."""
    try:
        return subprocess.run(
            ["git", *args],
            cwd=_folder(cwd),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            env=git_env(),
            check=False,
        )
    except FileNotFoundError as exc:
        raise RepoError("git is not installed or not on PATH", hint="install git") from exc


def repo_root(path: Path | str) -> Path:
    """The top level of the work tree containing ``path``; RepoError naming it otherwise."""
    p = Path(path)
    if not p.exists():
        raise RepoError(f"{p} does not exist", hint="pass the path of a git checkout")
    folder = p if p.is_dir() else p.parent
    proc = _plain_git(["rev-parse", "--show-toplevel"], folder)
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip()
        if "dubious ownership" in err:
            # A repository owned by another user: git refuses it, and saying "not a
            # repository" (with a `git init` hint) would mislead.
            where = err.partition("repository at ")[2].splitlines()[0].strip("'") or str(folder)
            first = err.splitlines()[0].removeprefix("fatal: ")
            raise RepoError(
                redact(f"git refuses to work in {where}: {first}"),
                hint="if you trust the repository's owner: "
                f"git config --global --add safe.directory {where}",
            )
        raise RepoError(
            f"{p.resolve()} is not inside a git repository",
            hint="run tinygen inside a git checkout, or `git init` it first",
        )
    return Path(proc.stdout.decode().strip()).resolve()


def git_common_dir(root: Path) -> Path:
    """The repository's shared git directory (the same for all of its worktrees)."""
    proc = _plain_git(["rev-parse", "--git-common-dir"], Path(root))
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip()
        raise RepoError(redact(f"git rev-parse failed in {root}: {err}"))
    return (Path(root) / proc.stdout.decode().strip()).resolve()


def state_dir(root: Path) -> Path:
    """Where tinygen keeps caches and run records: ``<git common dir>/tinygen``."""
    d = git_common_dir(root) / "tinygen"
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a read-only git directory, a file in the way
        raise RepoError(
            f"cannot create tinygen's folder {d}: {exc.strerror or exc}",
            hint="make the git directory writable (tinygen keeps caches and run records there)",
        ) from exc
    return d


def head_commit(root: Path) -> str | None:
    """The commit HEAD points to, or None in a repository with no commits yet."""
    proc = git_bytes(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"], root, check=False)
    return proc.stdout.decode().strip() or None


def resolve_commit(root: Path, ref: str) -> str:
    proc = git_bytes(
        ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"],
        root,
        check=False,
    )
    sha = proc.stdout.decode().strip()
    if proc.returncode != 0 or not sha:
        raise RefNotFoundError(
            f"{ref!r} is not a commit in {root}", hint="pass a branch, tag or commit that exists"
        )
    return sha


@contextlib.contextmanager
def worktree_lock(root: Path) -> Iterator[None]:
    """Serialize changes to a repository's worktree list across threads and processes.

    git does not: concurrent ``git worktree add``/``remove`` on one repository fail with
    "could not open 'worktrees/…/gitdir'" (seen with the HTTP service's parallel jobs).
    """
    import fcntl

    lock_path = git_common_dir(root) / "tinygen-worktrees.lock"
    with _thread_lock, open(lock_path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# flock is per open file description, so threads of one process also need a plain lock.
_thread_lock = threading.Lock()


# A checkout of content we did not write runs nothing and fetches nothing: no hooks (the
# repository's or the user's post-checkout), and no smudge filters — a repository's
# .lfsconfig would otherwise make Git LFS send requests to any URL it names (SSRF from
# the HTTP service) and download without limit. Files stored in LFS appear as their pointers.
_QUIET_CHECKOUT = (
    "-c", "core.hooksPath=/dev/null",
    "-c", "filter.lfs.smudge=",
    "-c", "filter.lfs.process=",
    "-c", "filter.lfs.required=false",
)  # fmt: skip
_QUIET_CHECKOUT_ENV = {"GIT_LFS_SKIP_SMUDGE": "1"}


@contextlib.contextmanager
def temp_worktree(root: Path, commit: str) -> Iterator[Path]:
    """A detached temporary worktree of ``root`` at ``commit``, removed afterwards.

    The user's own working tree, index and branches are never touched, and the checkout
    runs no hooks and no smudge filters (see ``_QUIET_CHECKOUT``).
    """
    parent = Path(tempfile.mkdtemp(prefix="tinygen-wt-"))
    path = parent / "wt"
    try:
        with worktree_lock(root):
            git(
                [*_QUIET_CHECKOUT, "worktree", "add", "--detach", "--quiet", str(path), commit],
                root,
                env=_QUIET_CHECKOUT_ENV,
            )
    except BaseException:
        shutil.rmtree(parent, ignore_errors=True)
        raise
    try:
        yield path
    finally:
        with worktree_lock(root):
            git(["worktree", "remove", "--force", str(path)], root, check=False)
            git(["worktree", "prune"], root, check=False)
        shutil.rmtree(parent, ignore_errors=True)
