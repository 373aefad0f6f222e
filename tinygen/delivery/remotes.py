"""The remote delivery pushes to: its URL (transport helpers refused), the default branch it
reports itself, and the branches tinygen never pushes to."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tinygen.errors import RepoError
from tinygen.redact import redact
from tinygen.repo.auth import token_for
from tinygen.repo.git import git_bytes
from tinygen.repo.network import git_network
from tinygen.repo.spec import is_transport_trick


def find_remote(root: Path, remote: str) -> tuple[str, bool] | None:
    """(push URL, is a configured remote name) for ``remote``, or None if it names nothing."""
    if not remote or remote.startswith("-"):
        raise RepoError(
            f"{redact(remote)!r} is not a valid remote", hint="pass a remote name or URL"
        )
    proc = git_bytes(["remote", "get-url", "--push", remote], root, check=False)
    if proc.returncode == 0:
        # Several push URLs: the first decides the token (its header is scoped to its host).
        url, named = proc.stdout.decode().strip().splitlines()[0], True
    elif "://" in remote or "/" in remote or ":" in remote:
        url, named = remote, False
    else:
        return None
    if is_transport_trick(url):
        # GIT_ALLOW_PROTOCOL blocks these too; refuse early with a clear message.
        raise RepoError(
            f"refusing the remote URL {redact(url)!r}: transport helpers are not allowed",
            hint="use an https, ssh or file URL",
        )
    return url, named


def remote_url(root: Path, remote: str) -> str | None:
    found = find_remote(root, remote)
    return found[0] if found else None


def require_remote(root: Path, remote: str) -> tuple[str, bool]:
    found = find_remote(root, remote)
    if found is None:
        raise RepoError(
            f"no remote named {redact(remote)!r} in {root}",
            hint="add it with `git remote add origin URL`, or pass the remote's URL",
        )
    return found


@dataclass(frozen=True)
class RemoteState:
    """One listing of a remote (``git ls-remote --symref URL HEAD refs/heads/*``): the
    default branch it reports itself and the tip of each branch. A delivery lists once and
    passes this along instead of asking again for each branch name it considers."""

    default_branch: str | None
    heads: dict[str, str] = field(default_factory=dict)


def remote_state(root: Path, remote: str = "origin", token: str | None = None) -> RemoteState:
    """List ``remote`` once. A remote that cannot be reached is a RepoError."""
    url, _named = require_remote(root, remote)
    out = git_network(
        ["ls-remote", "--symref", "--end-of-options", url, "HEAD", "refs/heads/*"],
        root,
        url=url,
        token=token_for(url, token),
        what=f"list the branches of {redact(url)}",
    )
    default, heads = None, {}
    for line in out.splitlines():
        left, _, ref = line.partition("\t")
        if ref == "HEAD" and left.startswith("ref: refs/heads/"):
            default = left[len("ref: refs/heads/") :]
        elif ref.startswith("refs/heads/") and not left.startswith("ref: "):
            heads[ref[len("refs/heads/") :]] = left
    # an empty repository's HEAD names a branch that does not exist yet
    return RemoteState(default if default in heads else None, heads)


def remote_default_branch(
    root: Path, remote: str = "origin", token: str | None = None
) -> str | None:
    """The default branch ``remote`` itself reports; None when its HEAD names no existing
    branch (an empty repository). A remote that cannot be reached is a RepoError."""
    return remote_state(root, remote, token).default_branch


def protected_branches(
    root: Path,
    remote: str = "origin",
    *,
    default_branch: str | None = None,
    token: str | None = None,
    state: RemoteState | None = None,
) -> set[str]:
    """Branches tinygen never pushes to on ``remote``: its default branch as the remote
    reports it, ``default_branch`` (what the forge says), ``<remote>/HEAD`` of a checkout,
    and main/master by convention. RepoError when the default branch cannot be told at all:
    a push would then be a guess."""
    reported = (
        state.default_branch if state is not None else remote_default_branch(root, remote, token)
    )
    known = {b for b in (default_branch, reported) if b}
    if not any(c in remote for c in "/:"):
        proc = git_bytes(
            ["symbolic-ref", "--quiet", f"refs/remotes/{remote}/HEAD"], root, check=False
        )
        target = proc.stdout.decode().strip()
        prefix = f"refs/remotes/{remote}/"
        if proc.returncode == 0 and target.startswith(prefix):
            known.add(target[len(prefix) :])
    if not known:
        raise RepoError(
            f"cannot tell the default branch of {redact(remote)} (its HEAD names no branch): "
            "refusing to push",
            hint="set the remote repository's HEAD to its default branch, or deliver as a "
            "pull request (`pr`: GitHub names the default branch)",
            settings=("pr",),
        )
    return known | {"main", "master"}
