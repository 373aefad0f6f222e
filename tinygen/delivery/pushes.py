"""Pushes: never forced, never to a protected branch (a rejected push is an error that keeps
the local branch), and fetching a pull request's head to build on."""

from __future__ import annotations

import hashlib
from pathlib import Path

from tinygen.delivery.branches import local_branches, validate_branch_name
from tinygen.delivery.remotes import RemoteState, protected_branches, require_remote
from tinygen.errors import RepoError
from tinygen.redact import redact
from tinygen.repo.auth import token_for
from tinygen.repo.git import git, resolve_commit
from tinygen.repo.network import git_network, network_error, run_network


def _refuse_protected(
    root: Path,
    remote: str,
    branch: str,
    default_branch: str | None,
    token: str | None,
    hint: str,
    settings: tuple[str, ...] = (),
    state: RemoteState | None = None,
) -> None:
    protected = protected_branches(
        root, remote, default_branch=default_branch, token=token, state=state
    )
    if branch in protected:
        raise RepoError(
            f"refusing to push to {branch!r}: it is the default branch of {redact(remote)} "
            "(or main/master)",
            hint=hint,
            settings=settings,
        )


def _push(root: Path, remote: str, refspec: str, target: str, token: str | None) -> None:
    url, named = require_remote(root, remote)
    sent = token_for(url, token)
    # Push to a configured remote by name, so that its tracking ref is updated too.
    where = remote if named else url
    code, out, err = run_network(
        ["push", "--porcelain", "--end-of-options", where, refspec], root, url=url, token=sent
    )
    # --porcelain reports each ref on stdout: "!<tab>src:dst<tab>[rejected] (reason)".
    for line in out.splitlines():
        if line.startswith("!"):
            if any(s in line for s in ("non-fast-forward", "fetch first", "[rejected]")):
                raise _rejected(target, url)
            reason = line.split("\t")[-1].strip()
            raise RepoError(f"the push of {target} to {redact(url)} was refused: {reason}")
    if code != 0:
        raise network_error(f"push {target} to {redact(url)}", redact(url), err, sent)


def _rejected(target: str, url: str) -> RepoError:
    return RepoError(
        f"the push of {target} to {redact(url)} was rejected: the remote branch has commits "
        "that are not in ours (non-fast-forward); tinygen never force-pushes",
        hint="the local branch is kept; fetch and rebase it onto the remote branch, "
        "or deliver under another branch name",
    )


def push_branch(
    root: Path,
    branch: str,
    *,
    remote: str = "origin",
    token: str | None = None,
    default_branch: str | None = None,
    state: RemoteState | None = None,
) -> None:
    """Push the local ``branch`` to the same name on ``remote``: never forced, never to a
    protected branch (see :func:`protected_branches`; ``state``: the remote as already
    listed)."""
    validate_branch_name(branch, root)
    _refuse_protected(
        root,
        remote,
        branch,
        default_branch,
        token,
        "tinygen pushes only feature branches; name another `branch`",
        ("branch",),
        state,
    )
    if branch not in local_branches(root):
        raise RepoError(f"there is no local branch {branch!r} to push in {root}")
    _push(root, remote, f"refs/heads/{branch}:refs/heads/{branch}", f"branch {branch!r}", token)


def push_to_ref(
    root: Path,
    sha: str,
    head_ref: str,
    *,
    remote: str = "origin",
    token: str | None = None,
    default_branch: str | None = None,
    state: RemoteState | None = None,
) -> None:
    """Push commit ``sha`` to branch ``head_ref`` on ``remote`` as a fast-forward only, never
    to a protected branch (see :func:`protected_branches`)."""
    validate_branch_name(head_ref, root)
    commit = resolve_commit(root, sha)
    _refuse_protected(
        root,
        remote,
        head_ref,
        default_branch,
        token,
        "tinygen pushes only to feature branches and pull requests' own head branches",
        state=state,
    )
    _push(
        root,
        remote,
        f"{commit}:refs/heads/{head_ref}",
        f"commit {commit[:12]} to the branch {head_ref!r}",
        token,
    )


def checkout_pr_head(
    root: Path,
    *,
    remote_url_or_name: str,
    head_ref: str,
    token: str | None = None,
    depth: int = 1,
) -> str:
    """Fetch branch ``head_ref`` of ``remote_url_or_name`` and return its commit sha.

    The caller then makes ``commit_on_top(root, sha, ...)`` and ``push_to_ref(root, new,
    head_ref)``. The fetched head is kept under ``refs/tinygen/pr-head/`` (not a branch).
    Shallow repositories (the clone cache) fetch only ``depth`` commits of it (enough to ask
    whether it contains another commit, when the caller needs that); a full checkout is
    never made shallow.
    """
    validate_branch_name(head_ref, root)
    url, _named = require_remote(root, remote_url_or_name)
    key = hashlib.sha256(head_ref.encode()).hexdigest()[:20]
    local = f"refs/tinygen/pr-head/{key}"
    shallow = git(["rev-parse", "--is-shallow-repository"], root).strip() == "true"
    git_network(
        [
            "fetch",
            "--quiet",
            "--no-tags",
            *([f"--depth={depth}"] if shallow else []),
            "--end-of-options",
            url,
            f"+refs/heads/{head_ref}:{local}",
        ],
        root,
        url=url,
        token=token_for(url, token),
        what=f"fetch the branch {head_ref!r} from {redact(url)}",
    )
    return resolve_commit(root, local)
