"""Files as texts for the patch engine: at a commit (:func:`texts_at`) or in the working tree
(:class:`WorkingTreeTexts`).

Both are read-only mappings of repository path -> text that read a file only when it is
asked for, so placing a one-file diff in a large repository reads one file. A binary file
(a NUL byte) or one that is not UTF-8 raises PatchApplyError naming it; its path is still
listed, so the engine can tell "cannot be patched" from "does not exist".
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from pathlib import Path

from tinygen.errors import PatchApplyError
from tinygen.repo.git import git, git_bytes
from tinygen.validate.paths import PathPolicy, check_path

_NO_POLICY = PathPolicy(protected=())


def _decode(path: str, data: bytes) -> str:
    if b"\0" in data:
        raise PatchApplyError(f"{path} is a binary file", hint="binary files cannot be patched")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PatchApplyError(
            f"{path} is not UTF-8 text", hint="convert it to UTF-8 or edit it by hand"
        ) from exc


class _CommitTexts(Mapping[str, str]):
    """A commit's files (path -> blob sha), read with ``git cat-file`` when asked for."""

    def __init__(self, root: Path, blobs: dict[str, str]) -> None:
        self.root = root
        self.blobs = blobs
        self._read: dict[str, str] = {}

    def __getitem__(self, key: str) -> str:
        if key not in self._read:
            sha = self.blobs[key]  # KeyError for a path the commit does not have
            data = git_bytes(["cat-file", "blob", sha], self.root).stdout
            self._read[key] = _decode(key, data)
        return self._read[key]

    def __contains__(self, key: object) -> bool:
        return key in self.blobs

    def __iter__(self) -> Iterator[str]:
        return iter(self.blobs)

    def __len__(self) -> int:
        return len(self.blobs)


def texts_at(root: Path, commit: str, paths: Collection[str] | None = None) -> Mapping[str, str]:
    """The files of ``commit`` in the repository at ``root`` as texts, each read on first
    use: every file (submodules aside), or only those of ``paths`` the commit has."""
    out = git(["ls-tree", "-r", "-z", "--full-tree", commit], root)
    wanted = set(paths) if paths is not None else None
    blobs: dict[str, str] = {}
    for entry in out.split("\0"):
        meta, _, path = entry.partition("\t")
        fields = meta.split()
        if len(fields) == 3 and fields[1] == "blob" and (wanted is None or path in wanted):
            blobs[path] = fields[2]
    return _CommitTexts(root, blobs)


class WorkingTreeTexts(Mapping[str, str]):
    """The working tree's files as texts, read on demand for the patch engine; each path is
    checked first, so a symlink cannot make the engine read outside the repository."""

    def __init__(self, root: Path, tracked: list[str]) -> None:
        self.root = root
        self.tracked = tracked

    def _path(self, key: str) -> Path:
        return self.root / check_path(self.root, key, _NO_POLICY)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._path(key).is_file()

    def __getitem__(self, key: str) -> str:
        path = self._path(key)
        if not path.is_file():
            raise KeyError(key)
        return _decode(key, path.read_bytes())

    def __iter__(self) -> Iterator[str]:
        return iter(self.tracked)

    def __len__(self) -> int:
        return len(self.tracked)


def tracked_files(root: Path) -> list[str]:
    """Every path git tracks in the checkout at ``root`` (index order)."""
    return [p for p in git(["ls-files", "-z"], root).split("\0") if p]


__all__ = ["WorkingTreeTexts", "texts_at", "tracked_files"]
