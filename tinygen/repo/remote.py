"""Repository input: parse a path or URL, clone it into the user cache, fetch, pick the base.

``open_repository("https://github.com/o/r", ref="v1.2")`` gives an :class:`OpenedRepo` whose
``root`` is a git directory later stages make temporary worktrees from, and whose
``base_commit`` is the commit the change is made on. A local checkout is used in place.

The clone cache is ``$XDG_CACHE_HOME/tinygen/repos/<host>/<owner>/<name>.git``: a bare,
shallow repository (``--depth=1`` per fetched ref). That is enough for everything after
this stage: a worktree of the base commit has every blob locally (unlike a blob-less
partial clone, which would fetch blobs lazily from git commands that carry no token), a
commit on top needs only the parent, and a push sends only the new commit because the
remote already has its parent. A lock file serializes clone/fetch of one cache entry, so
two jobs opening the same URL at once share one clone.

Tokens: ``token=`` or, for github.com / the GitHub Enterprise host, ``GITHUB_TOKEN`` is
sent as an ``http.<url>.extraHeader`` passed through the environment of each git call
(``GIT_CONFIG_COUNT``), so it is never in a URL, a config file, argv or a message.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import secrets
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from tinygen.errors import (
    RefNotFoundError,
    RepoAuthError,
    RepoError,
    RepoNetworkError,
    RepoNotFoundError,
)
from tinygen.redact import redact
from tinygen.repo.git import git, git_bytes, head_commit, repo_root, resolve_commit

RepoKind = Literal["local", "bare", "file", "https", "http", "ssh", "git"]

# Schemes git may use for remote input; everything else (ext::, fd::, ftp, helpers) is refused.
_URL_SCHEMES = {"https", "http", "ssh", "git", "file"}
_TRANSPORT_TRICK = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*::")
# git's own rule: `[user@]host:path` with no slash before the colon is ssh.
_SCP_LIKE = re.compile(r"^(?:(?P<user>[^@/:\s]+)@)?(?P<host>[^@/:\s]+):(?P<path>.*)$")

_HOST_OK = re.compile(r"^[A-Za-z0-9._\-\[\]:]+$")
_FULL_SHA = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
_NETWORK_TIMEOUT = 900.0  # seconds for one clone/fetch/push; generous, but never hangs forever

GITHUB_HOST = "github.com"


def is_transport_trick(url: str) -> bool:
    """``ext::cmd``, ``fd::17``, ``helper::url``, or text git could read as an option."""
    return bool(_TRANSPORT_TRICK.match(url.strip())) or url.strip().startswith("-")


@dataclass(frozen=True)
class RepoSpec:
    """Where a repository is. ``url`` is what git is given (an absolute path for local kinds)."""

    kind: RepoKind
    url: str
    host: str | None = None
    owner: str | None = None
    name: str = ""

    @property
    def full_name(self) -> str | None:
        """``owner/name`` for a GitHub-like two-segment path, else None."""
        if self.owner and "/" not in self.owner and self.kind not in ("local", "bare", "file"):
            return f"{self.owner}/{self.name}"
        return None

    @property
    def is_local_checkout(self) -> bool:
        return self.kind == "local"

    @property
    def display_url(self) -> str:
        return redact(self.url)


@dataclass(frozen=True)
class OpenedRepo:
    spec: RepoSpec
    root: Path  # a checkout (local) or the bare cache repository: make worktrees from it
    base_commit: str
    default_branch: str | None  # the remote's default branch (or origin/HEAD of a checkout)
    remote_url: str | None  # redacted, for display
    is_clone: bool
    base_ref: str | None = None  # the full ref the base came from, e.g. refs/heads/main


def _bad(text: str, why: str, hint: str) -> RepoError:
    return RepoError(f"cannot use {redact(text)!r} as a repository: {why}", hint=hint)


_URL_HINT = (
    "pass a local path, https://github.com/OWNER/NAME, git@github.com:OWNER/NAME.git, "
    "ssh://host/path or file:///path"
)


def _split_path(path: str) -> tuple[str | None, str]:
    """``"/o/r.git"`` -> ("o", "r"); deeper paths keep every leading segment in the owner."""
    segments = [s for s in path.strip("/").split("/") if s]
    if not segments:
        return None, ""
    name = segments[-1]
    if name.endswith(".git"):
        name = name[: -len(".git")]
    owner = "/".join(segments[:-1]) or None
    return owner, name


def _check_host(text: str, host: str | None) -> str:
    if not host or host.startswith("-") or not _HOST_OK.match(host):
        raise _bad(text, f"bad host {host!r}", _URL_HINT)
    return host


def parse_repo_spec(text: str, *, allow_local: bool = True) -> RepoSpec:
    """Parse ``--repo``: a local checkout, a bare repository path, or a URL git can fetch.

    Transport tricks (``ext::``, ``fd::``, any ``helper::``), unknown schemes, credentials
    embedded in URLs and hosts or paths that could be read as options are refused. With
    ``allow_local=False`` (the HTTP service) paths and ``file://`` are refused too.
    """
    raw = text
    text = text.strip()
    if not text:
        raise _bad(raw, "it is empty", _URL_HINT)
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise _bad(raw, "it contains control characters", _URL_HINT)
    if _TRANSPORT_TRICK.match(text):
        raise _bad(text, "transport helpers (`ext::`, `fd::`, ...) are not allowed", _URL_HINT)
    if text.startswith("-"):
        raise _bad(text, "it starts with '-'", _URL_HINT)

    if "://" in text:
        parts = urlsplit(text)
        scheme = parts.scheme.lower()
        if scheme not in _URL_SCHEMES:
            raise _bad(text, f"the scheme {scheme!r} is not supported", _URL_HINT)
        if parts.password is not None:
            raise _bad(
                text,
                "it contains a password or token",
                "remove it from the URL and set GITHUB_TOKEN instead (it is never written to disk)",
            )
        if parts.query or parts.fragment:
            raise _bad(text, "URLs with a query or fragment are not supported", _URL_HINT)
        if scheme == "file":
            if not allow_local:
                raise _bad(text, "local repositories are not allowed here", "pass an https URL")
            if parts.netloc not in ("", "localhost"):
                raise _bad(text, "file:// URLs must not name a host", "use file:///absolute/path")
            fpath = Path(unquote(parts.path))
            if not fpath.is_absolute() or not fpath.exists():
                raise _bad(text, f"{fpath} does not exist", "pass the path of a git repository")
            _owner, name = _split_path(str(fpath))
            return RepoSpec(kind="file", url=f"file://{fpath.resolve()}", name=name)
        host = _check_host(text, parts.hostname)
        try:
            port = parts.port
        except ValueError:
            raise _bad(text, "its port is not a number", _URL_HINT) from None
        # the scheme's own port is no port: the same host (for the token) and cache entry
        if port is not None and (scheme, port) not in (("https", 443), ("http", 80)):
            host = f"{host}:{port}"
        _refuse_web_page(text, scheme, host, parts.path)
        owner, name = _split_path(unquote(parts.path))
        if not name or name.startswith("-"):
            raise _bad(text, "it names no repository", _URL_HINT)
        # Normalize http(s) to one form so the cache key and the remote URL are stable.
        url = f"{scheme}://{host}/{parts.path.strip('/')}" if scheme.startswith("http") else text
        return RepoSpec(kind=scheme, url=url, host=host.lower(), owner=owner, name=name)  # type: ignore[arg-type]

    scp = _SCP_LIKE.match(text)
    if scp and not Path(text).exists():
        host = _check_host(text, scp.group("host"))
        path = scp.group("path")
        if path.startswith("-"):
            raise _bad(text, "the path starts with '-'", _URL_HINT)
        owner, name = _split_path(path)
        if not name:
            raise _bad(text, "it names no repository", _URL_HINT)
        return RepoSpec(kind="ssh", url=text, host=host.lower(), owner=owner, name=name)

    if not allow_local:
        raise _bad(text, "local repositories are not allowed here", "pass an https URL")
    return _local_spec(text)


def _refuse_web_page(text: str, scheme: str, host: str, path: str) -> None:
    """A GitHub page URL (``/o/r/tree/main``, ``/o/r/pull/3``, ...) is not a repository URL:
    say which URL and option to use instead."""
    segments = [s for s in path.split("/") if s]
    if not scheme.startswith("http") or host.lower() not in github_hosts() or len(segments) < 3:
        return
    repo_url = f"{scheme}://{host.lower()}/{segments[0]}/{segments[1].removesuffix('.git')}"
    page, rest = segments[2], segments[3:]
    option = ""
    if page == "tree" and rest:
        option = f" --ref {'/'.join(rest)}"
    elif page == "commit" and rest:
        option = f" --ref {rest[0]}"
    elif page == "pull" and rest and rest[0].isdigit():
        option = f" --to-pr {rest[0]}"
    raise _bad(text, "it is a web page, not a repository URL", f"use --repo {repo_url}{option}")


def _local_spec(text: str) -> RepoSpec:
    path = Path(text).expanduser()
    if not path.exists():
        hint = (
            f"for GitHub use https://{text}"
            if text.startswith(GITHUB_HOST + "/")
            else "pass the path of a git checkout or bare repository, or a URL"
        )
        raise RepoError(f"{path} does not exist", hint=hint)
    if not path.is_dir():
        raise RepoError(f"{path} is not a directory", hint="pass the repository's directory")
    proc = git_bytes(
        ["rev-parse", "--is-bare-repository", "--is-inside-work-tree"], path, check=False
    )
    flags = proc.stdout.decode().split()
    if proc.returncode != 0 or len(flags) != 2:
        raise RepoError(
            f"{path.resolve()} is not a git repository",
            hint="pass a git checkout, a bare repository or a URL",
        )
    if flags[0] == "true":
        resolved = path.resolve()
        _owner, name = _split_path(str(resolved))
        return RepoSpec(kind="bare", url=str(resolved), name=name)
    if flags[1] != "true":
        raise RepoError(
            f"{path.resolve()} is inside a .git directory", hint="pass the checkout's top level"
        )
    root = repo_root(path)
    return RepoSpec(kind="local", url=str(root), name=root.name)


# --- tokens and the environment of network git calls --------------------------------------


def github_hosts() -> set[str]:
    """Hosts GITHUB_TOKEN may be sent to: github.com and the configured Enterprise host."""
    hosts = {GITHUB_HOST}
    for name in ("GITHUB_SERVER_URL", "GITHUB_API_URL"):
        value = os.environ.get(name, "")
        host = (urlsplit(value).hostname or "").lower()
        if host and host != "api.github.com":
            netloc = urlsplit(value).netloc.rsplit("@", 1)[-1].lower()
            hosts.add(netloc)
    return hosts


def token_for(url: str, token: str | None = None) -> str | None:
    """The token to send to ``url``: ``token`` for https, else GITHUB_TOKEN for GitHub hosts.

    An explicit token is never sent over plain http; the environment's token is never sent
    to a host that is not GitHub's (a URL from a request must not be able to collect it).
    """
    parts = urlsplit(url) if "://" in url else None
    scheme = parts.scheme.lower() if parts else ""
    if token:
        if scheme == "http":
            raise RepoError(
                f"refusing to send a token over plain http to {redact(url)}",
                hint="use an https URL",
            )
        return token if scheme == "https" else None
    if scheme != "https" or parts is None:
        return None
    env_token = os.environ.get("GITHUB_TOKEN") or os.environ.get("GH_TOKEN")
    if env_token and parts.netloc.rsplit("@", 1)[-1].lower() in github_hosts():
        return env_token
    return None


def network_env(url: str, token: str | None, *, allow_local: bool = True) -> dict[str, str]:
    """Environment for one git call that talks to ``url`` (token already chosen by token_for)."""
    protocols = "https:http:ssh:git" + (":file" if allow_local else "")
    env = {"GIT_ALLOW_PROTOCOL": protocols}
    if "GIT_SSH_COMMAND" not in os.environ and "GIT_SSH" not in os.environ:
        env["GIT_SSH_COMMAND"] = "ssh -o BatchMode=yes"  # fail instead of prompting
    if token:
        parts = urlsplit(url)
        prefix = f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}/"
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        key = f"http.{prefix}.extraHeader"
        count = int(os.environ.get("GIT_CONFIG_COUNT", "0") or 0)
        # An empty value first resets headers inherited from config (actions/checkout
        # persists its own), so exactly one Authorization header is sent.
        env[f"GIT_CONFIG_KEY_{count}"] = key
        env[f"GIT_CONFIG_VALUE_{count}"] = ""
        env[f"GIT_CONFIG_KEY_{count + 1}"] = key
        env[f"GIT_CONFIG_VALUE_{count + 1}"] = f"Authorization: Basic {basic}"
        env["GIT_CONFIG_COUNT"] = str(count + 2)
    return env


def _secrets_of(token: str | None) -> list[str]:
    if not token:
        return []
    return [token, base64.b64encode(f"x-access-token:{token}".encode()).decode()]


def run_network(
    args: Sequence[str],
    cwd: Path,
    *,
    url: str,
    token: str | None,
    allow_local: bool = True,
) -> tuple[int, str, str]:
    """Run a git command that talks to ``url``: (exit code, stdout, stderr), both scrubbed of
    the token (and of its base64 header form)."""
    env = network_env(url, token, allow_local=allow_local)
    proc = git_bytes(args, cwd, env=env, check=False, timeout=_NETWORK_TIMEOUT)
    hide = _secrets_of(token)
    out = redact(proc.stdout.decode("utf-8", "replace"), hide)
    err = redact(proc.stderr.decode("utf-8", "replace").strip(), hide)
    return proc.returncode, out, err


def git_network(
    args: Sequence[str],
    cwd: Path,
    *,
    url: str,
    token: str | None,
    what: str,
    allow_local: bool = True,
) -> str:
    """Like :func:`run_network`, returning stdout; a failure becomes a RepoError saying why.

    ``what`` names the action for the message ("fetch main from <url>").
    """
    code, out, err = run_network(args, cwd, url=url, token=token, allow_local=allow_local)
    if code != 0:
        raise network_error(what, redact(url), err, token)
    return out


def network_error(what: str, url: str, err: str, token: str | None) -> RepoError:
    low = err.lower()
    last = err.splitlines()[-1] if err else "no message from git"
    if any(
        s in low
        for s in (
            "authentication failed",
            "could not read username",
            "could not read password",
            "the requested url returned error: 401",
            "the requested url returned error: 403",
            "permission denied (publickey",
        )
    ):
        hint = (
            "check that the token can read (and, to push, write) this repository"
            if token
            else "set GITHUB_TOKEN to a token with access to this repository"
        )
        return RepoAuthError(f"could not {what}: authentication failed ({last})", hint=hint)
    if any(
        s in low
        for s in (
            "repository not found",
            "does not appear to be a git repository",
            "returned error: 404",
            "not found",
        )
    ):
        return RepoNotFoundError(
            f"could not {what}: the repository was not found at {url}",
            hint="check the URL; a private repository also needs GITHUB_TOKEN",
        )
    if "couldn't find remote ref" in low or "not our ref" in low:
        return RefNotFoundError(
            f"could not {what}: the remote has no such ref",
            hint="pass a branch, tag or full commit sha that exists on the remote",
        )
    if _NETWORK_TROUBLE.search(err) or not err:
        return RepoNetworkError(
            f"could not {what}: {err or 'git failed without a message'}",
            hint="the network or the git host failed; try again later",
        )
    return RepoError(f"could not {what}: {err}")


# git's words for a failure of the network or of the host, not of the request (git's own
# messages, classified once here so callers branch on the exception class).
_NETWORK_TROUBLE = re.compile(
    r"could not resolve|failed to connect|connection (refused|reset|timed out)|timed out"
    r"|network is unreachable|unable to access|early eof|remote end hung up"
    r"|could not read from remote|\bssl\b|\btls\b|gnutls|returned error: 5\d\d",
    re.IGNORECASE,
)


# --- the clone cache ------------------------------------------------------------------------


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
    import hashlib

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
def _file_lock(path: Path) -> Iterator[None]:
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
    """Create an empty bare repository at ``path`` atomically (temp dir, then rename)."""
    tmp = path.parent / f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        git(["init", "--bare", "--quiet", str(tmp)], path.parent)
        git(["remote", "add", "origin", url], tmp)
        # Fetched-by-sha bases live in refs/tinygen/; no tag auto-following into the cache.
        git(["config", "remote.origin.tagOpt", "--no-tags"], tmp)
        tmp.rename(path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


@dataclass(frozen=True)
class _RemoteRefs:
    default_branch: str | None
    refs: dict[str, str]  # full ref name -> sha


def _ls_remote(
    cwd: Path, url: str, patterns: Sequence[str], token: str | None, allow_local: bool
) -> _RemoteRefs:
    out = git_network(
        ["ls-remote", "--symref", "--end-of-options", url, *patterns],
        cwd,
        url=url,
        token=token,
        what=f"list the refs of {redact(url)}",
        allow_local=allow_local,
    )
    default = None
    refs: dict[str, str] = {}
    for line in out.splitlines():
        left, _, ref = line.partition("\t")
        if left.startswith("ref: ") and ref == "HEAD":
            target = left[len("ref: ") :]
            if target.startswith("refs/heads/"):
                default = target[len("refs/heads/") :]
        elif ref:
            refs[ref] = left
    return _RemoteRefs(default, refs)


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
    with _file_lock(path.with_name(path.name + ".lock")):
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
        remote = _ls_remote(path, url, patterns, sent_token, allow_local)
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


def _choose_ref(spec: RepoSpec, ref: str | None, remote: _RemoteRefs) -> tuple[str, str]:
    """(what to fetch, the local ref to store it in) for ``ref`` on the remote."""
    if ref is None:
        if not remote.default_branch:
            raise RepoError(
                f"{spec.display_url} has no default branch (an empty repository?)",
                hint="pass --ref with a branch, tag or commit",
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
