"""Where a repository is: parse ``--repo`` (a path or a URL) into a :class:`RepoSpec`.

The URL policy lives here: transport helpers (``ext::``, ``fd::``), unknown schemes,
credentials in URLs and text git could read as an option are refused before git sees them
(GitPython's own unsafe-protocol check runs again on every network command, see
:mod:`tinygen.repo.network`). :func:`github_hosts` says which hosts are GitHub's: the
token goes only there (:mod:`tinygen.repo.auth`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from tinygen.env import api_url, server_url
from tinygen.errors import RepoError
from tinygen.redact import redact
from tinygen.repo.git import git_bytes, repo_root

RepoKind = Literal["local", "bare", "file", "https", "http", "ssh", "git"]

# Schemes git may use for remote input; everything else (ext::, fd::, ftp, helpers) is refused.
_URL_SCHEMES = {"https", "http", "ssh", "git", "file"}
_TRANSPORT_TRICK = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*::")
# git's own rule: `[user@]host:path` with no slash before the colon is ssh.
_SCP_LIKE = re.compile(r"^(?:(?P<user>[^@/:\s]+)@)?(?P<host>[^@/:\s]+):(?P<path>.*)$")

_HOST_OK = re.compile(r"^[A-Za-z0-9._\-\[\]:]+$")

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


def _refuse_dot_segments(text: str, path: str) -> None:
    """A URL's path with ``.`` or ``..`` segments names no repository of its own (it would
    walk up: ``https://github.com/../../etc/passwd``)."""
    if any(segment in (".", "..") for segment in path.split("/")):
        raise _bad(text, "its path has '.' or '..' segments", _URL_HINT)


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
        _refuse_dot_segments(text, unquote(parts.path))
        _refuse_web_page(text)
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
        _refuse_dot_segments(text, path)
        owner, name = _split_path(path)
        if not name:
            raise _bad(text, "it names no repository", _URL_HINT)
        return RepoSpec(kind="ssh", url=text, host=host.lower(), owner=owner, name=name)

    if not allow_local:
        raise _bad(text, "local repositories are not allowed here", "pass an https URL")
    return _local_spec(text)


@dataclass(frozen=True)
class GitHubPage:
    """A GitHub web page's URL taken apart: the repository's URL, and the setting the page
    also names with its value (``ref``: a branch or commit page; ``to_pr``: a pull request)."""

    repo_url: str
    setting: str | None = None
    value: str | None = None


def github_page(text: str) -> GitHubPage | None:
    """``text`` as a GitHub web page of a repository (``/o/r/tree/main``, ``/o/r/pull/3``,
    ...), or None when it is not one."""
    parts = urlsplit(text.strip())
    scheme, host = parts.scheme.lower(), (parts.netloc.rsplit("@", 1)[-1]).lower()
    segments = [s for s in parts.path.split("/") if s]
    if not scheme.startswith("http") or host not in github_hosts() or len(segments) < 3:
        return None
    if any(unquote(s) in (".", "..") for s in segments):
        return None  # walks up: no page of one repository
    repo_url = f"{scheme}://{host}/{segments[0]}/{segments[1].removesuffix('.git')}"
    page, rest = segments[2], segments[3:]
    if page == "tree" and rest:
        return GitHubPage(repo_url, "ref", "/".join(rest))
    if page == "commit" and rest:
        return GitHubPage(repo_url, "ref", rest[0])
    if page == "pull" and rest and rest[0].isdigit():
        return GitHubPage(repo_url, "to_pr", rest[0])
    return GitHubPage(repo_url)


def _refuse_web_page(text: str) -> None:
    """A GitHub page URL is not a repository URL: say which URL and setting to use instead."""
    page = github_page(text)
    if page is None:
        return
    also = f" with `{page.setting}` {page.value}" if page.setting else ""
    raise RepoError(
        f"cannot use {redact(text)!r} as a repository: it is a web page, not a repository URL",
        hint=f"use `repo` {page.repo_url}{also}",
        settings=("repo", page.setting) if page.setting else ("repo",),
    )


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


def github_hosts() -> set[str]:
    """Hosts GITHUB_TOKEN may be sent to: github.com and the configured Enterprise host."""
    hosts = {GITHUB_HOST}
    for value in (server_url(), api_url() or ""):
        host = (urlsplit(value).hostname or "").lower()
        if host and host != "api.github.com":
            netloc = urlsplit(value).netloc.rsplit("@", 1)[-1].lower()
            hosts.add(netloc)
    return hosts
