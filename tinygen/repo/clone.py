"""Open ``--repo``/``--ref``: a local checkout in place, anything else through the clone cache.

``open_repository("https://github.com/o/r", ref="v1.2")`` gives an :class:`OpenedRepo` whose
``root`` is a git directory later stages make temporary worktrees from, and whose
``base_commit`` is the commit the change is made on.

The clone cache is ``$XDG_CACHE_HOME/tinygen/repos/<host>/<owner>/<name>.git``: a bare,
shallow repository (``--depth=1`` per fetched ref), created empty (GitPython's
``Repo.init`` and ``Remote.create``, whose protocol check refuses ``ext::`` and other
transport helpers) and filled by fetching exactly the ref asked for. That is enough for
everything after this stage: a worktree of the base commit has every blob locally (unlike
a blob-less partial clone, which would fetch blobs lazily from git commands that carry no
token), a commit on top needs only the parent, and a push sends only the new commit
because the remote already has its parent. A lock file serializes clone/fetch of one
cache entry, so two jobs opening the same URL at once share one clone.

(Not ``Repo.clone_from``: it runs git as a process without GitPython's timeout, so a
stalled server would hold a worker forever; it cannot fetch a commit by sha; and a bare
clone keeps branches in ``refs/heads/``, where this cache keeps them in
``refs/remotes/origin/``. Its guards run on every network command instead, see
:mod:`tinygen.repo.network`.)
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tinygen.errors import RefNotFoundError, RepoError
from tinygen.redact import redact
from tinygen.repo.auth import token_for
from tinygen.repo.git import git, git_bytes, head_commit, resolve_commit
from tinygen.repo.network import RemoteRefs, git_network, ls_remote
from tinygen.repo.spec import RepoSpec, github_hosts, parse_repo_spec

_FULL_SHA = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")


@dataclass(frozen=True)
class OpenedRepo:
    spec: RepoSpec
    root: Path  # a checkout (local) or the bare cache repository: make worktrees from it
    base_commit: str
    default_branch: str | None  # the remote's default branch (or origin/HEAD of a checkout)
    remote_url: str | None  # redacted, for display
    is_clone: bool
    base_ref: str | None = None  # the full ref the base came from, e.g. refs/heads/main


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tinygen" / "repos"


def _safe_segment(text: str) -> str:
    seg = re.sub(r"[^A-Za-z0-9._\-]", "_", text)
    return "_" if seg in ("", ".", "..") else seg


def cache_path(spec: RepoSpec, cache_dir: Path | None = None) -> Path:
    """Where ``spec`` is cached: ``<cache>/<host>/<owner>/<name>.git``.

    Local remotes (bare paths, ``file://``) go under ``_local/<hash of the path>/`` so two
    repositories with the same directory name never share a cache entry.
    """
    base = cache_dir if cache_dir is not None else default_cache_dir()
    name = _safe_segment(spec.name or "repo") + ".git"
    if spec.kind in ("bare", "file"):
        digest = hashlib.sha256(spec.url.encode()).hexdigest()[:16]
        return base / "_local" / digest / name
    host = _safe_segment((spec.host or "_").replace(":", "_"))
    owner = [_safe_segment(s) for s in (spec.owner or "_").split("/")]
    if (spec.host or "") in github_hosts():  # GitHub names are case-insensitive: one entry
        owner, name = [o.lower() for o in owner], name.lower()
    return base.joinpath(host, *owner, name)


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock held across processes and threads (one open file per holder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as fh:
        try:
            import fcntl

            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        except ImportError:  # Windows
            import msvcrt

            msvcrt.locking(fh.fileno(), msvcrt.LK_LOCK, 1)  # type: ignore[attr-defined]
        yield  # closing the file releases the lock


def _init_cache(path: Path, url: str) -> None:
    """Create an empty bare repository at ``path`` whose origin is ``url``, atomically (a
    temporary directory, then a rename)."""
    # GitPython: heavy, imported only when a cache entry is created
    from git import Repo
    from git.exc import GitError

    tmp = path.parent / f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        try:
            repo = Repo.init(tmp, mkdir=True, bare=True, expand_vars=False, quiet=True)
            with contextlib.closing(repo):
                repo.create_remote("origin", url)  # refuses ext:: and other helpers
        except GitError as exc:
            raise RepoError(redact(f"cannot create the clone cache {path}: {exc}")) from None
        # Fetched-by-sha bases live in refs/tinygen/; no tag auto-following into the cache.
        git(["config", "remote.origin.tagOpt", "--no-tags"], tmp)
        tmp.rename(path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _check_ref_text(ref: str) -> None:
    if not ref or ref.startswith("-") or any(ord(c) < 32 or c in " ~^:?*[\\" for c in ref):
        raise RepoError(
            f"{redact(ref)!r} is not a valid ref", hint="pass a branch, tag or full commit sha"
        )


def _has_commit(root: Path, sha: str) -> bool:
    proc = git_bytes(["cat-file", "-e", f"{sha}^{{commit}}"], root, check=False)
    return proc.returncode == 0


def _cached_default_branch(root: Path) -> str | None:
    proc = git_bytes(["symbolic-ref", "--quiet", "refs/remotes/origin/HEAD"], root, check=False)
    target = proc.stdout.decode().strip()
    prefix = "refs/remotes/origin/"
    return target[len(prefix) :] if proc.returncode == 0 and target.startswith(prefix) else None


def open_repository(
    spec_or_text: RepoSpec | str,
    *,
    ref: str | None = None,
    cache_dir: Path | None = None,
    token: str | None = None,
) -> OpenedRepo:
    """Open ``--repo``/``--ref``: a local checkout in place, anything else via the clone cache.

    ``ref`` is a branch, tag or commit (a full sha for remote repositories); by default the
    checkout's HEAD, or the remote's default branch.
    """
    spec = parse_repo_spec(spec_or_text) if isinstance(spec_or_text, str) else spec_or_text
    if ref is not None:
        _check_ref_text(ref)
    if spec.kind == "local":
        return _open_local(spec, ref)
    return _open_clone(spec, ref, cache_dir, token)


def _open_local(spec: RepoSpec, ref: str | None) -> OpenedRepo:
    root = Path(spec.url)
    if ref is None and head_commit(root) is None:
        raise RepoError(
            f"{root} has no commits yet", hint="commit something first: tinygen changes a commit"
        )
    base = resolve_commit(root, ref or "HEAD")
    url_proc = git_bytes(["remote", "get-url", "origin"], root, check=False)
    remote_url = redact(url_proc.stdout.decode().strip()) if url_proc.returncode == 0 else None
    return OpenedRepo(
        spec=spec,
        root=root,
        base_commit=base,
        default_branch=_cached_default_branch(root),
        remote_url=remote_url,
        is_clone=False,
        base_ref=_branch_ref(root, ref) if ref else None,
    )


def _branch_ref(root: Path, ref: str) -> str | None:
    """The full name of the branch ``ref`` names (``refs/heads/x`` or ``refs/remotes/origin/x``),
    None for a tag or a commit."""
    # ``ref`` passed _check_ref_text (no leading '-'); rev-parse would echo --end-of-options
    proc = git_bytes(["rev-parse", "--symbolic-full-name", ref], root, check=False)
    full = proc.stdout.decode().strip()
    ok = proc.returncode == 0 and full.startswith(("refs/heads/", "refs/remotes/origin/"))
    return full if ok else None


def _open_clone(
    spec: RepoSpec, ref: str | None, cache_dir: Path | None, token: str | None
) -> OpenedRepo:
    # A network URL never needs git's file transport (redirects, alternates): keep it off.
    allow_local = spec.kind in ("bare", "file")
    url = spec.url
    sent_token = token_for(url, token)
    path = cache_path(spec, cache_dir)
    with file_lock(path.with_name(path.name + ".lock")):
        if not (path / "HEAD").exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            _init_cache(path, url)
        elif git(["remote", "get-url", "origin"], path).strip() != url:
            # Another spelling of the same repository (ssh vs https): fetch from this one.
            git(["remote", "set-url", "origin", url], path)

        # A full sha we already have needs no network at all.
        if ref is not None and _FULL_SHA.match(ref) and _has_commit(path, ref):
            return OpenedRepo(
                spec=spec,
                root=path,
                base_commit=resolve_commit(path, ref),
                default_branch=_cached_default_branch(path),
                remote_url=redact(url),
                is_clone=True,
                base_ref=None,
            )

        patterns = ["HEAD"] if ref is None else ["HEAD", f"refs/heads/{ref}", f"refs/tags/{ref}"]
        if ref is not None and ref.startswith("refs/"):
            patterns = ["HEAD", ref]
        remote = ls_remote(path, url, patterns, token=sent_token, allow_local=allow_local)
        source, local = _choose_ref(spec, ref, remote)
        git_network(
            [
                "fetch",
                "--quiet",
                "--no-tags",
                "--depth=1",
                "--end-of-options",
                url,
                f"+{source}:{local}",
            ],
            path,
            url=url,
            token=sent_token,
            what=f"fetch {ref or remote.default_branch} from {redact(url)}",
            allow_local=allow_local,
        )
        if remote.default_branch:
            git(
                [
                    "symbolic-ref",
                    "refs/remotes/origin/HEAD",
                    f"refs/remotes/origin/{remote.default_branch}",
                ],
                path,
            )
        base = resolve_commit(path, local)
    return OpenedRepo(
        spec=spec,
        root=path,
        base_commit=base,
        default_branch=remote.default_branch,
        remote_url=redact(url),
        is_clone=True,
        base_ref=source if source.startswith("refs/") else None,
    )


def _choose_ref(spec: RepoSpec, ref: str | None, remote: RemoteRefs) -> tuple[str, str]:
    """(what to fetch, the local ref to store it in) for ``ref`` on the remote."""
    if ref is None:
        if not remote.default_branch:
            raise RepoError(
                f"{spec.display_url} has no default branch (an empty repository?)",
                hint="name a branch, tag or commit as `ref`",
                settings=("ref",),
            )
        branch = remote.default_branch
        return f"refs/heads/{branch}", f"refs/remotes/origin/{branch}"
    if f"refs/heads/{ref}" in remote.refs:
        return f"refs/heads/{ref}", f"refs/remotes/origin/{ref}"
    if f"refs/tags/{ref}" in remote.refs:
        return f"refs/tags/{ref}", f"refs/tags/{ref}"
    if ref.startswith("refs/") and ref in remote.refs:
        return ref, f"refs/tinygen/fetched/{ref[len('refs/') :]}"
    if _FULL_SHA.match(ref):
        return ref, f"refs/tinygen/commits/{ref}"
    hint = "pass a branch or tag that exists on the remote, or a full 40-character commit sha"
    if re.fullmatch(r"[0-9a-fA-F]{4,39}", ref):
        hint = "abbreviated commit shas cannot be fetched: pass the full 40-character sha"
    raise RefNotFoundError(f"{spec.display_url} has no branch or tag {ref!r}", hint=hint)


__all__ = [
    "OpenedRepo",
    "cache_path",
    "default_cache_dir",
    "file_lock",
    "open_repository",
]
