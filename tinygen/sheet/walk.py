"""The walk: which files the sheet covers, straight from git, and the path-based skip rules.

``git ls-files --stage`` gives every tracked path with its mode and blob SHA, so an
unchanged file's cache key costs nothing to compute; ``git ls-files -m`` names the files
whose working-tree content differs (those are hashed when read); untracked files come
from ``git ls-files --others --exclude-standard`` on request.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

from tinygen.errors import RepoError
from tinygen.repo.git import git_env

# Folders of third-party code, checked in or installed: not the project's own code.
VENDORED_DIRS = frozenset(
    {
        "vendor",
        "vendored",
        "_vendor",
        "node_modules",
        "third_party",
        "third-party",
        "thirdparty",
        "bower_components",
        "site-packages",
        ".yarn",
        ".venv",
    }
)
LOCK_FILES = frozenset(
    {
        "package-lock.json",
        "npm-shrinkwrap.json",
        "yarn.lock",
        "pnpm-lock.yaml",
        "bun.lockb",
        "poetry.lock",
        "Pipfile.lock",
        "pdm.lock",
        "uv.lock",
        "Cargo.lock",
        "Gemfile.lock",
        "composer.lock",
        "go.sum",
        "flake.lock",
        "mix.lock",
        "pubspec.lock",
        "packages.lock.json",
    }
)
MINIFIED_SUFFIXES = (".min.js", ".min.css", ".min.mjs", ".js.map", ".css.map", ".min.map")

_FS_ENCODING = sys.getfilesystemencoding()
_FS_ERRORS = sys.getfilesystemencodeerrors()
MODE_SYMLINK = "120000"
MODE_GITLINK = "160000"  # a submodule: a commit, not a file
MODE_FILE = "100644"
MODE_EXECUTABLE = "100755"


class Listed(NamedTuple):
    path: str
    blob: str | None  # None: content differs from the index (or untracked): hash when read
    mode: str  # git mode; "" for untracked files


def _split_z(out: bytes) -> list[str]:
    # One decode of the whole output: what os.fsdecode does per path, at a fraction of
    # the cost (a warm run lists every path of the tree).
    text = out.decode(_FS_ENCODING, _FS_ERRORS)
    return [p for p in text.split("\0") if p]


def _spawn(args: list[str], root: Path) -> subprocess.Popen[bytes]:
    try:
        return subprocess.Popen(
            ["git", *args], cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=git_env()
        )
    except FileNotFoundError as exc:
        raise RepoError("git is not installed or not on PATH", hint="install git") from exc


def _output(proc: subprocess.Popen[bytes], root: Path) -> bytes:
    out, err = proc.communicate()
    if proc.returncode != 0:
        args = " ".join(str(a) for a in proc.args[1:3])  # type: ignore[index]
        raise RepoError(f"git {args} failed in {root}: {err.decode('utf-8', 'replace').strip()}")
    return out


class Listing:
    """``git ls-files`` running in the background: started by the constructor so the
    caller can load the cache meanwhile (git's stat pass and our load overlap on two
    cores); ``files()`` waits for it."""

    def __init__(self, root: Path, *, include_untracked: bool = False) -> None:
        self.root = root
        # -m (a stat of every tracked file) and the index dump run side by side.
        self._procs = [_spawn(["ls-files", "-z", "-m"], root)]
        self._procs.append(_spawn(["ls-files", "-z", "--stage"], root))
        if include_untracked:
            self._procs.append(_spawn(["ls-files", "-z", "--others", "--exclude-standard"], root))

    def close(self) -> None:
        """Stop the git processes (when the caller fails before ``files()``)."""
        for proc in self._procs:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()

    def files(self) -> list[Listed]:
        """Every file git knows in the work tree (sorted by path)."""
        outs = [_output(p, self.root) for p in self._procs]
        modified = set(_split_z(outs[0]))
        by_path: dict[str, Listed] = {}
        for record in _split_z(outs[1]):
            # "<mode> <sha> <stage>\t<path>"
            meta, _, path = record.partition("\t")
            mode, sha, _stage = meta.split(" ")
            # Unmerged paths appear once per stage; the working-tree content is what counts.
            blob = None if (path in modified or path in by_path) else sha
            by_path[path] = Listed(path, blob, mode)
        if len(outs) > 2:
            for path in _split_z(outs[2]):
                by_path.setdefault(path, Listed(path, None, ""))
        return [by_path[p] for p in sorted(by_path)]


def work_tree_mode(root: Path, path: str, mode: str) -> str:
    """The git mode ``git add`` would give a changed path (``mode``: the index's): a file
    made a symlink or executable is no longer what the index says. A submodule, or a path
    gone from the work tree, keeps ``mode``."""
    if mode == MODE_GITLINK:
        return mode
    try:
        st = os.lstat(root / path)
    except OSError:
        return mode
    if stat.S_ISLNK(st.st_mode):
        return MODE_SYMLINK
    if stat.S_ISREG(st.st_mode):
        return MODE_EXECUTABLE if st.st_mode & stat.S_IXUSR else MODE_FILE
    return mode


def path_skip_reason(path: str) -> str | None:
    """Why a path is left out of the sheet without reading it, or None to keep it."""
    parts = path.split("/")
    name = parts[-1]
    if name in LOCK_FILES:
        return "lock-file"
    if name.endswith(MINIFIED_SUFFIXES):
        return "minified"
    if len(parts) > 1 and not VENDORED_DIRS.isdisjoint(parts[:-1]):
        return "vendored"
    return None


def symlink_skip_reason(root: Path, path: str) -> str | None:
    """None for a symlink that resolves to a file inside the repository (outside .git)."""
    full = root / path
    try:
        target = Path(os.path.realpath(full, strict=True))
    except OSError as exc:
        import errno

        return "symlink-loop" if exc.errno == errno.ELOOP else "symlink-broken"
    try:
        rel = target.relative_to(root)
    except ValueError:
        return "symlink-outside"
    if rel.parts and rel.parts[0] == ".git":
        return "symlink-outside"
    if not target.is_file():
        return "symlink-not-file"
    return None
