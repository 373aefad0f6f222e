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
from tinygen.validate.paths import PathPolicy, check_path

_NO_POLICY = PathPolicy(protected=())


def write_files_atomically(root: Path, changes: Mapping[str, str | None]) -> None:
    """Write ``changes`` (repo path -> text, None = delete) under ``root``, all or nothing.

    Paths are checked first (inside ``root`` after resolving symlinks, not in .git/)."""
    rels = {check_path(root, p, _NO_POLICY): text for p, text in changes.items()}
    created_dirs: list[Path] = []
    temps: dict[Path, Path] = {}
    backups: dict[Path, Path] = {}
    done: list[Path] = []
    try:
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
            if target.exists():
                fd, bak = tempfile.mkstemp(
                    prefix=f".{target.name}.", suffix=".bak", dir=target.parent
                )
                os.close(fd)
                os.replace(target, bak)
                backups[target] = Path(bak)
            if target in temps:
                os.replace(temps.pop(target), target)
            done.append(target)
    except OSError as exc:
        for target in reversed(done):
            if target not in backups:
                with contextlib.suppress(OSError):
                    target.unlink()
        for target, saved in backups.items():
            with contextlib.suppress(OSError):
                os.replace(saved, target)
        for leftover in temps.values():
            with contextlib.suppress(OSError):
                leftover.unlink()
        for d in reversed(created_dirs):
            with contextlib.suppress(OSError):
                d.rmdir()
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


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


__all__ = ["write_files_atomically"]
