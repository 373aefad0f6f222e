"""Write several files to a working tree: all of them, or none.

Every new text is first written to a temporary file next to its target (same directory,
so the final rename is atomic); only when all are written are originals moved aside and
the new files renamed in. Any error restores the originals and removes what was created.
(A power cut in the middle of the final renames is the one window this cannot cover.)
Texts are written as UTF-8 bytes exactly: no newline translation.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from tinygen.errors import RepoError
from tinygen.repo.git import git_bytes
from tinygen.validate.paths import PathPolicy, check_path

_NO_POLICY = PathPolicy(protected=())


def write_files_atomically(
    root: Path,
    changes: Mapping[str, str | None],
    *,
    expected: Mapping[str, str | None] | None = None,
) -> None:
    """Write ``changes`` (repo path -> text, None = delete) under ``root``, all or nothing.

    Paths are checked first (inside ``root`` after resolving symlinks, not in .git/). With
    ``expected`` (path -> the text the change was computed from, None = absent), every
    file is compared with it just before anything is written: a file changed meanwhile
    (an editor saving, another tool) refuses the whole write. A file may become a
    directory (``zz`` deleted, ``zz/x.txt`` created); a directory cannot become a file in
    the same write."""
    rels = {check_path(root, p, _NO_POLICY): text for p, text in changes.items()}
    early = _check_shapes(root, rels)
    if expected is not None:
        _compare(root, {check_path(root, p, _NO_POLICY): t for p, t in expected.items()})
    created_dirs: list[Path] = []
    temps: dict[Path, Path] = {}
    backups: dict[Path, Path] = {}
    done: list[Path] = []
    try:
        for rel in early:  # files that must make way for a directory, moved aside first
            target = root / rel
            backups[target] = _move_aside(target)
        for rel, text in sorted(rels.items()):
            target = root / rel
            if text is None:
                continue
            missing = []
            parent = target.parent
            while not parent.exists():
                missing.append(parent)
                parent = parent.parent
            for d in reversed(missing):
                d.mkdir()
                created_dirs.append(d)
            fd, tmp = tempfile.mkstemp(
                prefix=f".{target.name}.", suffix=".tinygen", dir=target.parent
            )
            temps[target] = Path(tmp)
            with os.fdopen(fd, "wb") as fh:
                fh.write(text.encode("utf-8"))
            if target.exists():
                os.chmod(tmp, target.stat().st_mode & 0o7777)
            else:
                os.chmod(tmp, 0o666 & ~_umask())
        for rel in sorted(rels):
            target = root / rel
            if target not in backups and target.exists():
                backups[target] = _move_aside(target)
            if target in temps:
                os.replace(temps[target], target)
                del temps[target]  # only once it is in place: a failed rename leaves it listed
            done.append(target)
    except BaseException as exc:  # an OSError, or Ctrl-C half-way: undo, leave nothing behind
        for target in reversed(done):
            if rels.get(target.relative_to(root).as_posix()) is not None:
                with contextlib.suppress(OSError):
                    target.unlink()
        for leftover in temps.values():
            with contextlib.suppress(OSError):
                leftover.unlink()
        for d in reversed(created_dirs):
            with contextlib.suppress(OSError):
                d.rmdir()
        kept = []
        for target, saved in backups.items():
            try:
                os.replace(saved, target)
            except OSError:
                kept.append(f"{target.relative_to(root)} is in {saved.relative_to(root)}")
        if kept:  # the one case where something stays: the user's own text, said where
            raise RepoError(
                f"could not write the changed files ({exc}), nor put back every original: "
                + "; ".join(kept),
                hint="move those files back by hand",
            ) from exc
        if not isinstance(exc, OSError):
            raise
        raise RepoError(
            f"could not write the changed files ({exc}); nothing was changed",
            hint="check permissions and free space in the working tree",
        ) from exc
    for old in backups.values():
        with contextlib.suppress(OSError):
            old.unlink()
    # Directories emptied by deletions go too, as git would leave them.
    for rel, text in rels.items():
        if text is None:
            parent = (root / rel).parent
            while parent != root and parent.is_dir() and not any(parent.iterdir()):
                parent.rmdir()
                parent = parent.parent


def _move_aside(target: Path) -> Path:
    """Rename ``target`` to a new unique name beside it. The name is reserved by creating an
    empty file, which goes again when the rename fails (an immutable file, a directory):
    a refused write leaves nothing behind."""
    fd, bak = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".bak", dir=target.parent)
    os.close(fd)
    try:
        os.replace(target, bak)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(bak)
        raise
    return Path(bak)


def _check_shapes(root: Path, rels: Mapping[str, str | None]) -> list[str]:
    """Files that must be moved aside before directories can be made in their place; a
    RepoError, before anything is touched, for a change that cannot be written."""
    early: set[str] = set()
    for rel, text in rels.items():
        target = root / rel
        if text is not None and target.is_dir():
            raise RepoError(
                f"cannot write {rel}: it is a directory in the working tree; nothing was changed",
                hint="remove the directory (or rename the new file) first",
            )
        if text is None:
            continue
        parts = rel.split("/")
        for k in range(1, len(parts)):
            parent = "/".join(parts[:k])
            where = root / parent
            if where.exists() and not where.is_dir():
                if parent in rels and rels[parent] is None:
                    early.add(parent)
                else:
                    raise RepoError(
                        f"cannot create {rel}: {parent} is a file; nothing was changed",
                        hint=f"delete {parent} in the same change to make it a directory",
                    )
    return sorted(early)


def _compare(root: Path, expected: Mapping[str, str | None]) -> None:
    for rel, text in sorted(expected.items()):
        path = root / rel
        try:
            now: bytes | None = path.read_bytes() if path.is_file() else None
        except OSError:
            now = None
        if now is None and path.exists():
            now = b""  # a directory or something unreadable: certainly not the expected text
        if now != (None if text is None else text.encode("utf-8")):
            raise RepoError(
                f"{rel} changed on disk while tinygen was working; nothing was changed",
                hint="run the command again on the file as it is now",
            )


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def uncommitted(root: Path, paths: list[str]) -> list[str]:
    """Those of ``paths`` with uncommitted changes: staged, unstaged, untracked or ignored
    (an ignored ``.env`` is as much the user's own as an untracked file)."""
    if not paths:
        return []
    out = git_bytes(
        ["status", "--porcelain=v1", "-z", "--untracked-files=all", "--ignored", "--", *paths],
        root,
    ).stdout.decode("utf-8", "replace")
    return sorted(_status_paths(out) & set(paths))


def _status_paths(out: str) -> set[str]:
    """The paths of ``git status --porcelain=v1 -z`` output (a rename's source skipped)."""
    entries = out.split("\0")
    found: set[str] = set()
    i = 0
    while i < len(entries):
        entry = entries[i]
        if len(entry) > 3:
            found.add(entry[3:])
            if entry[0] in "RC":
                i += 1  # the rename's source path follows
        i += 1
    return found


def tracked_changes(root: Path) -> list[str]:
    """Tracked files of the checkout at ``root`` with uncommitted changes (staged or not,
    deleted or renamed); untracked and ignored files do not count."""
    out = git_bytes(
        ["status", "--porcelain=v1", "-z", "--untracked-files=no", "--ignore-submodules=none"],
        root,
    ).stdout.decode("utf-8", "replace")
    return sorted(_status_paths(out))


__all__ = ["tracked_changes", "uncommitted", "write_files_atomically"]
