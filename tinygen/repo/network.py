"""git commands that talk to a remote: their environment, a guard, a timeout, typed failures.

Every network command (``ls-remote``, ``fetch``, ``push``, ``clone``) goes through
:func:`run_network`:

- GitPython's own guards run first: ``Git.check_unsafe_protocols`` on the URL and every
  operand (``ext::``, any ``helper::``) and ``Git.check_unsafe_options`` with GitPython's
  list for that command (``--upload-pack``, ``--receive-pack``, ``--exec``, ``-c``, ...,
  abbreviations included). The URL policy of :mod:`tinygen.repo.spec` already refused
  these for ``--repo``; this catches a URL read back from a repository's own config.
- ``GIT_ALLOW_PROTOCOL`` allows https, http, ssh, git (and file only for local inputs), ssh
  runs in batch mode, and the token travels in a per-command header (:mod:`tinygen.repo.auth`).
- A command that runs longer than :data:`NETWORK_TIMEOUT` is killed.
- What git prints is scrubbed of the token, and :func:`network_error` turns git's failure
  messages into :class:`RepoAuthError`, :class:`RepoNotFoundError`,
  :class:`RefNotFoundError` or :class:`RepoNetworkError` — the one place git's network
  wording is read, so callers branch on the exception class.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tinygen.errors import (
    RefNotFoundError,
    RepoAuthError,
    RepoError,
    RepoNetworkError,
    RepoNotFoundError,
)
from tinygen.redact import redact
from tinygen.repo.auth import header_env, scrub
from tinygen.repo.git import git_bytes

NETWORK_TIMEOUT = 900.0  # seconds for one clone/fetch/push; generous, but never hangs forever


def network_env(url: str, token: str | None, *, allow_local: bool = True) -> dict[str, str]:
    """Environment for one git call that talks to ``url`` (token already chosen by token_for)."""
    protocols = "https:http:ssh:git" + (":file" if allow_local else "")
    env = {"GIT_ALLOW_PROTOCOL": protocols}
    if "GIT_SSH_COMMAND" not in os.environ and "GIT_SSH" not in os.environ:
        env["GIT_SSH_COMMAND"] = "ssh -o BatchMode=yes"  # fail instead of prompting
    env.update(header_env(url, token))
    return env


def refuse_unsafe(args: Sequence[str], url: str) -> None:
    """RepoError when GitPython calls ``url`` or an option in ``args`` unsafe for the command
    ``args[0]``; a network command GitPython has no list for is refused too."""
    # GitPython: heavy, imported only by network commands (never on `tinygen map`'s path)
    from git import Remote, Repo
    from git.cmd import Git
    from git.exc import UnsafeOptionError, UnsafeProtocolError

    unsafe_by_command = {
        "clone": Repo.unsafe_git_clone_options,
        "fetch": Remote.unsafe_git_fetch_options,
        "push": Remote.unsafe_git_push_options,
        "ls-remote": Git.unsafe_git_ls_remote_options,
    }
    command, rest = (args[0], list(args[1:])) if args else ("", [])
    if command not in unsafe_by_command:
        raise RepoError(f"git {command or '(nothing)'} is not a network command tinygen runs")
    try:
        for operand in [url, *(a for a in rest if not a.startswith("-"))]:
            Git.check_unsafe_protocols(operand)
        Git.check_unsafe_options(options=rest, unsafe_options=unsafe_by_command[command])
    except (UnsafeProtocolError, UnsafeOptionError) as exc:
        raise RepoError(
            redact(f"refusing to run git {command} for {url}: {exc}"),
            hint="use an https, ssh or file URL, without git options in it",
        ) from None


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
    refuse_unsafe(args, url)
    env = network_env(url, token, allow_local=allow_local)
    proc = git_bytes(args, cwd, env=env, check=False, timeout=NETWORK_TIMEOUT)
    out = scrub(proc.stdout.decode("utf-8", "replace"), token)
    err = scrub(proc.stderr.decode("utf-8", "replace").strip(), token)
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
    """Like :func:`run_network`, returning stdout; a failure raises :func:`network_error`'s
    exception. ``what`` names the action for the message ("fetch main from <url>")."""
    code, out, err = run_network(args, cwd, url=url, token=token, allow_local=allow_local)
    if code != 0:
        raise network_error(what, redact(url), err, token)
    return out


@dataclass(frozen=True)
class RemoteRefs:
    default_branch: str | None
    refs: dict[str, str]  # full ref name -> sha


def ls_remote(
    cwd: Path,
    url: str,
    patterns: Sequence[str],
    *,
    token: str | None,
    allow_local: bool = True,
) -> RemoteRefs:
    """The remote's refs matching ``patterns`` and its default branch (``--symref HEAD``)."""
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
    return RemoteRefs(default, refs)


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


__all__ = [
    "NETWORK_TIMEOUT",
    "RemoteRefs",
    "git_network",
    "ls_remote",
    "network_env",
    "network_error",
    "refuse_unsafe",
    "run_network",
]
