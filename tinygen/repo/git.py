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
import json
import os
import shutil
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tinygen import safejson
from tinygen.errors import InputError, RefNotFoundError, RepoError
from tinygen.inputs import read_file
from tinygen.owner import Owner
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


# git in a temporary worktree (``quiet=True``) runs nothing and fetches nothing: no hooks —
# the repository's, or a global ``core.hooksPath``'s: post-checkout, prepare-commit-msg
# (which could rewrite tinygen's commit message), post-commit, reference-transaction;
# ``commit --no-verify`` skips only pre-commit and commit-msg — and no smudge filters: a
# repository's .lfsconfig would otherwise make Git LFS send requests to any URL it names
# (SSRF from the HTTP service) and download without limit. Files in LFS stay pointers.
_QUIET = (
    "-c", "core.hooksPath=/dev/null",
    "-c", "filter.lfs.smudge=",
    "-c", "filter.lfs.process=",
    "-c", "filter.lfs.required=false",
)  # fmt: skip
_QUIET_ENV = {"GIT_LFS_SKIP_SMUDGE": "1"}


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
    quiet: bool = False,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``git *args`` in ``cwd`` and return the completed process (bytes output).

    ``env`` is added to the environment of this call only; ``timeout`` (seconds) kills git
    and its children and raises RepoError. ``quiet``: no hooks and no smudge filters (see
    ``_QUIET``) — every git command tinygen runs in a temporary worktree is quiet."""
    folder = _folder(cwd)
    if quiet:
        args, env = [*_QUIET, *args], {**_QUIET_ENV, **(env or {})}
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
    quiet: bool = False,
) -> str:
    """Run ``git *args`` in ``cwd`` and return stdout as text (UTF-8, replacement on error)."""
    proc = git_bytes(
        args,
        cwd,
        input=input.encode("utf-8") if input is not None else None,
        env=env,
        check=check,
        timeout=timeout,
        quiet=quiet,
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
        raise _no_work_tree(p, folder)
    return Path(proc.stdout.decode().strip()).resolve()


def _no_work_tree(path: Path, folder: Path) -> RepoError:
    """Why ``path`` has no work tree: a bare repository, the inside of a git directory, or
    no repository at all — each said as what it is, with what to do."""
    proc = _plain_git(["rev-parse", "--is-bare-repository", "--absolute-git-dir"], folder)
    answer = proc.stdout.decode("utf-8", "replace").split("\n") if proc.returncode == 0 else []
    if len(answer) >= 2 and answer[0] == "true":
        git_dir = answer[1].strip()
        return RepoError(
            f"{git_dir} is a bare repository: it has no working tree with files to read",
            hint=f"run tinygen in a checkout of it (git clone {git_dir} DIR); a change "
            "request can also name the bare repository itself as `repo`",
            settings=("repo",),
        )
    if len(answer) >= 2:
        git_dir = answer[1].strip()
        return RepoError(
            f"{path.resolve()} is inside the git directory {git_dir}, not in its working tree",
            hint=f"run tinygen in the working tree ({Path(git_dir).parent})",
        )
    return RepoError(
        f"{path.resolve()} is not inside a git repository",
        hint="run tinygen inside a git checkout, or `git init` it first",
    )


def git_common_dir(root: Path) -> Path:
    """The repository's shared git directory (the same for all of its worktrees)."""
    proc = _plain_git(["rev-parse", "--git-common-dir"], Path(root))
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip()
        raise RepoError(redact(f"git rev-parse failed in {root}: {err}"))
    return (Path(root) / proc.stdout.decode().strip()).resolve()


def state_dir(root: Path) -> Path:
    """Where tinygen keeps caches and run records: ``<git common dir>/tinygen``, a real
    folder (never a symbolic link: see :func:`real_folder`)."""
    return real_folder(git_common_dir(root), "tinygen")


def real_folder(base: Path, *parts: str) -> Path:
    """``base/part/...``, each part made if missing and checked to be a real folder.

    Everything tinygen writes under a git directory goes through here: a symbolic link
    there (``.git/tinygen -> /etc``) would send caches and run records wherever it points,
    so a link, or a file in the way, is a RepoError naming it. ``base`` itself is taken as
    it is (the git directory, already resolved)."""
    folder = Path(base)
    for part in parts:
        folder = folder / part
        try:
            os.mkdir(folder)  # never follows a link at `folder`: it fails on anything there
        except FileExistsError:
            pass
        except OSError as exc:  # a read-only git directory
            raise RepoError(
                f"cannot create tinygen's folder {folder}: {exc.strerror or exc}",
                hint="make the git directory writable (tinygen keeps caches and run records there)",
            ) from exc
        mode = os.lstat(folder).st_mode
        if stat.S_ISLNK(mode):
            raise RepoError(
                f"{folder} is a symbolic link; tinygen writes only into real folders of the "
                "git directory",
                hint=f"remove the link (rm {folder}); tinygen makes the folder again",
            )
        if not stat.S_ISDIR(mode):
            raise RepoError(
                f"{folder} is not a folder",
                hint=f"move it away; tinygen keeps caches and run records in {folder}",
            )
    return folder


def open_no_follow(path: Path, flags: int = os.O_WRONLY | os.O_APPEND | os.O_CREAT) -> int:
    """``os.open`` that refuses a symbolic link at ``path`` (ELOOP): for files tinygen
    opens for writing in place under a git directory (locks, appended logs)."""
    return os.open(path, flags | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), 0o666)


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
    with _thread_lock, os.fdopen(_lock_file(lock_path), "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# flock is per open file description, so threads of one process also need a plain lock.
_thread_lock = threading.Lock()


def _lock_file(path: Path) -> int:
    try:
        return open_no_follow(path)
    except OSError as exc:  # ELOOP: a symbolic link in the git directory
        raise RepoError(
            f"cannot open the lock file {path}: {exc.strerror or exc}",
            hint=f"remove {path} if it is a symbolic link or not a file; tinygen makes it again",
        ) from exc


WORKTREE_PREFIX = "tinygen-wt-"  # the temporary folder holding a worktree and its owner
WORKTREE_OWNER = "owner.json"


@contextlib.contextmanager
def temp_worktree(root: Path, commit: str) -> Iterator[Path]:
    """A detached temporary worktree of ``root`` at ``commit``, removed afterwards.

    The user's own working tree, index and branches are never touched, and the checkout
    runs no hooks and no smudge filters (see ``_QUIET``); git commands run in it
    must be ``quiet`` too. The folder holding it
    names its owner (this process) before git registers it, so that the worktree of a
    process killed before it could remove it is found and removed later
    (:func:`remove_stale_worktrees`).
    """
    parent = Path(tempfile.mkdtemp(prefix=WORKTREE_PREFIX))
    path = parent / "wt"
    try:
        (parent / WORKTREE_OWNER).write_text(json.dumps(Owner.current().to_dict()), "utf-8")
        with worktree_lock(root):
            git(["worktree", "add", "--detach", "--quiet", str(path), commit], root, quiet=True)
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


def remove_stale_worktrees(root: Path) -> list[Path]:
    """Remove the temporary worktrees that processes which have ended left behind: those
    registered in ``root``'s repository, and tinygen's temporary folders with none (a
    process killed half-way through making one). Worktrees of live processes, and any
    worktree tinygen did not make, are left alone. The worktrees removed."""

    def dead(folder: Path) -> bool:
        path = folder / WORKTREE_OWNER
        try:
            data = safejson.loads(read_file(path, 100_000, str(path)), str(path))
        except (OSError, ValueError, InputError):
            return False  # no owner named (or not one we wrote): not ours to judge
        owner = Owner.from_dict(data)
        return owner is not None and not owner.alive()

    removed: list[Path] = []
    with worktree_lock(root):
        listing = git(["worktree", "list", "--porcelain"], root, check=False)
        for line in listing.splitlines():
            if not line.startswith("worktree "):
                continue
            path = Path(line.removeprefix("worktree "))
            ours = path.name == "wt" and path.parent.name.startswith(WORKTREE_PREFIX)
            if ours and dead(path.parent):
                git(["worktree", "remove", "--force", "--force", str(path)], root, check=False)
                _remove_own_folder(path.parent)
                removed.append(path)
        git(["worktree", "prune"], root, check=False)
    for folder in Path(tempfile.gettempdir()).glob(WORKTREE_PREFIX + "*"):
        if dead(folder) and not (folder / "wt" / ".git").exists():
            _remove_own_folder(folder)  # never registered, or already unregistered
    return removed


def _remove_own_folder(folder: Path) -> None:
    """rmtree of a temporary folder of ours: a real folder (not a link) owned by this user."""
    try:
        info = os.lstat(folder)
    except OSError:
        return
    if stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid():
        shutil.rmtree(folder, ignore_errors=True)
