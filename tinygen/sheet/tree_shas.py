"""git's tree SHAs of the folders of a sheet's working tree: the keys of folder summaries
(and, for the root, of the overview).

They are computed from the walk's listing (mode and blob of every tracked file,
working-tree content for changed files): for a clean checkout they equal
``git rev-parse HEAD:folder``, so a record made by any clone of the same commit (the
Action's cache, a teammate's run) is found again. ``tree-shas.bin`` in the state folder
keeps the folder SHAs of the last listing a reader hashed (under a digest of that
listing), which spares a warm read hashing every tree again; it is only a cache:
unreadable or stale, it is ignored.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import subprocess
from collections.abc import Iterable
from pathlib import Path

from tinygen.repo.atomic import replace_file
from tinygen.repo.git import git_env
from tinygen.sheet.model import Sheet

SHAS_NAME = "tree-shas.bin"  # the folder SHAs of the last listing read (see folder_shas)
ROOT = ""  # the repository's own folder: its record is the overview

_TREE_MODE_BYTES = b"40000 "


Tracked = tuple[str, str, str]  # (path, mode, SHA): a tracked path as git's tree holds it


def tree_shas(entries: Iterable[Tracked]) -> dict[str, str]:
    """git's tree SHA of every folder holding ``entries`` ("" for the root), computed the
    way git writes trees: entries sorted by name with folders compared as ``name/``."""
    # folder -> {name: (sort key, the entry as the tree object holds it)}
    folders: dict[str, dict[bytes, tuple[bytes, bytes]]] = {ROOT: {}}
    modes: dict[str, bytes] = {}
    for path, mode, sha in entries:
        parent, _, name = path.rpartition("/")
        here = folders.get(parent)
        if here is None:
            here = folders[parent] = {}
            up = parent.rpartition("/")[0]
            while up not in folders:  # a folder not seen yet (the root always is)
                folders[up] = {}
                up = up.rpartition("/")[0]
        head = modes.get(mode)
        if head is None:
            head = modes[mode] = mode.encode() + b" "
        raw = name.encode("utf-8", "surrogateescape")
        here[raw] = (raw, head + raw + b"\0" + bytes.fromhex(sha))
    shas: dict[str, str] = {}
    # deepest first, so that a folder's subfolders are in it when it is written
    for folder in sorted(folders, key=lambda p: p.count("/") + (p != ROOT), reverse=True):
        body = b"".join([entry for _key, entry in sorted(folders[folder].values())])
        digest = hashlib.sha1(b"tree %d\0%s" % (len(body), body)).digest()
        shas[folder] = digest.hex()
        if folder != ROOT:
            parent, _, name = folder.rpartition("/")
            raw = name.encode("utf-8", "surrogateescape")
            folders[parent][raw] = (raw + b"/", _TREE_MODE_BYTES + raw + b"\0" + digest)
    return shas


def hash_objects(root: Path, paths: list[str]) -> dict[str, str]:
    """git's blob SHAs of working-tree files (as ``git add`` would store them)."""
    if not paths:
        return {}
    proc = subprocess.run(
        ["git", "hash-object", "--stdin-paths"],
        cwd=root,
        input="\n".join(paths).encode("utf-8", "surrogateescape") + b"\n",
        capture_output=True,
        env=git_env(),
        check=False,
    )
    if proc.returncode != 0:
        return {}
    shas = proc.stdout.decode().split()
    return dict(zip(paths, shas, strict=False)) if len(shas) == len(paths) else {}


def _link_sha(root: Path, path: str) -> str | None:
    """git's blob SHA of a symlink: of the text of its target."""
    try:
        target = os.fsencode(os.readlink(root / path))
    except OSError:
        return None
    h = hashlib.sha1(b"blob %d\0" % len(target))
    h.update(target)
    return h.hexdigest()


def folder_shas(sheet: Sheet, cache: Path | None = None) -> dict[str, str]:
    """The git tree SHA of every folder of the sheet's working tree ("" for the root);
    with ``cache`` (the state folder), kept there for the next call with the same
    listing."""
    known = {f.path: f.blob for f in sheet.files if f.blob}
    entries: list[Tracked] = []
    unknown: list[str] = []
    for path, (mode, blob) in sheet.tracked.items():
        sha = blob or known.get(path)
        if sha is None and mode == "120000":
            sha = _link_sha(sheet.root, path)  # (git hash-object would follow the link)
        if sha is None:
            unknown.append(path)
        else:
            entries.append((path, mode, sha))
    if unknown:
        # changed in the work tree and not read by the walk (skipped: too large, binary);
        # only regular files are given to git, whose one failure would fail them all
        hashable = [
            p
            for p in unknown
            if "\n" not in p
            and sheet.tracked[p][0] != "160000"
            and os.path.isfile(sheet.root / p)
            and not os.path.islink(sheet.root / p)
        ]
        hashed = hash_objects(sheet.root, hashable)
        for path in unknown:
            if path in hashed:
                entries.append((path, sheet.tracked[path][0], hashed[path]))
            else:
                # No SHA to be had: a made-up one, so its folders miss rather than match.
                fake = hashlib.sha1(f"unknown:{path}".encode("utf-8", "surrogateescape"))
                entries.append((path, sheet.tracked[path][0], fake.hexdigest()))
    return _cached_tree_shas(entries, cache) if cache is not None else tree_shas(entries)


def _cached_tree_shas(entries: list[Tracked], folder: Path) -> dict[str, str]:
    """:func:`tree_shas`, kept in ``folder`` under a digest of ``entries``: a warm read
    hashes the listing (a few ms on Django's 6,890 paths) instead of every tree."""
    listing = "\0".join([f"{path}\0{mode}\0{sha}" for path, mode, sha in entries])
    digest = hashlib.sha1(listing.encode("utf-8", "surrogateescape")).hexdigest()
    head = f"tinygen tree shas 1 {digest}\n".encode()
    path = folder / SHAS_NAME
    with contextlib.suppress(OSError, EOFError, ValueError, TypeError):
        data = path.read_bytes()
        if data.startswith(head):
            shas = marshal.loads(memoryview(data)[len(head) :])
            if isinstance(shas, dict) and ROOT in shas:
                return shas
    shas = tree_shas(entries)
    with contextlib.suppress(OSError):  # a cache: a read-only .git only costs the next run
        replace_file(path, head + marshal.dumps(shas))
    return shas
