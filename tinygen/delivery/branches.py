"""Branch names: validated before git sees them (titles come from a model, refs from the API),
slugs of a plan's title, the next free ``tinygen/<slug>[-N]``, and creating a branch."""

from __future__ import annotations

import re
import tempfile
import unicodedata
from collections.abc import Collection
from pathlib import Path

from tinygen.delivery.remotes import remote_url
from tinygen.errors import RepoError
from tinygen.redact import redact
from tinygen.repo.auth import token_for
from tinygen.repo.git import git, git_bytes
from tinygen.repo.network import git_network

_SLUG_MAX = 48


def validate_branch_name(name: str, cwd: Path | None = None) -> str:
    """``name`` if git accepts it as a branch name; RepoError naming the problem otherwise."""
    shown = redact(name)
    bad = (
        not name
        or name.startswith("-")
        or name == "HEAD"
        or "@{" in name
        or name == "@"
        or len(name) > 200
        or any(ord(c) < 32 or ord(c) == 127 or c.isspace() for c in name)
    )
    if not bad:
        proc = git_bytes(
            ["check-ref-format", "--branch", name],
            cwd if cwd is not None else tempfile.gettempdir(),
            check=False,
        )
        bad = proc.returncode != 0 or proc.stdout.decode().strip() != name
    if bad:
        raise RepoError(
            f"{shown!r} is not a valid branch name",
            hint="use letters, digits, '-', '_', '.' and '/' (no spaces, '..', '~', '^', ':')",
        )
    return name


def slugify(title: str, max_len: int = _SLUG_MAX) -> str:
    """``"Fix: the parser's CRLF bug!"`` -> ``"fix-the-parser-s-crlf-bug"``; never empty."""
    ascii_text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(slug) > max_len:
        cut = slug[:max_len]
        # End on a word boundary when there is one reasonably close.
        slug = cut.rsplit("-", 1)[0] if "-" in cut[max_len // 2 :] else cut
        slug = slug.strip("-")
    return slug or "change"


def local_branches(root: Path) -> set[str]:
    out = git(["for-each-ref", "--format=%(refname)", "refs/heads/"], root)
    return {r[len("refs/heads/") :] for r in out.split()}


def _remote_branches(root: Path, remote: str, token: str | None) -> set[str]:
    """Branches on ``remote`` (ls-remote); its tracking refs if the remote cannot be reached."""
    names: set[str] = set()
    out = git(["for-each-ref", "--format=%(refname)", f"refs/remotes/{remote}/"], root)
    prefix = f"refs/remotes/{remote}/"
    names |= {r[len(prefix) :] for r in out.split() if r != f"{prefix}HEAD"}
    url = remote_url(root, remote)
    if url is None:
        return names
    try:
        listing = git_network(
            ["ls-remote", "--heads", "--end-of-options", url],
            root,
            url=url,
            token=token_for(url, token),
            what=f"list the branches of {redact(url)}",
        )
    except RepoError:
        return names  # offline: the push will say so; a local branch can still be made
    for line in listing.splitlines():
        _sha, _, ref = line.partition("\t")
        if ref.startswith("refs/heads/"):
            names.add(ref[len("refs/heads/") :])
    return names


def _taken(name: str, existing: set[str]) -> bool:
    # `a/b` cannot coexist with a branch `a` (or `a/b/c`): git stores refs as files.
    return name in existing or any(
        e.startswith(name + "/") or name.startswith(e + "/") for e in existing
    )


def branch_name_for(
    root: Path,
    title: str,
    prefix: str = "tinygen/",
    *,
    remote: str | None = "origin",
    token: str | None = None,
    remote_heads: Collection[str] | None = None,
) -> str:
    """``tinygen/<slug of title>``, or ``...-2``, ``...-3`` when taken locally or on ``remote``
    (whose branches are listed, unless the caller has them: ``remote_heads``)."""
    base = prefix + slugify(title)
    validate_branch_name(base, root)
    existing = local_branches(root)
    if remote_heads is not None:
        existing |= set(remote_heads)
    elif remote is not None and remote_url(root, remote) is not None:
        existing |= _remote_branches(root, remote, token)
    blocking = sorted(e for e in existing if base.startswith(e + "/"))
    if blocking:  # no suffix helps when a branch is named like one of our directories
        raise RepoError(
            f"cannot create branches under {prefix!r}: a branch named {blocking[0]!r} exists",
            hint="pass another prefix or an explicit branch name",
        )
    name, n = base, 1
    while _taken(name, existing):
        n += 1
        name = f"{base}-{n}"
    return validate_branch_name(name, root)


def create_branch_at(root: Path, branch: str, sha: str) -> None:
    """Create the local ``branch`` at ``sha``; refuse when it exists (atomically: the empty
    old value makes git fail if the branch appeared meanwhile)."""
    validate_branch_name(branch, root)
    if branch in local_branches(root):
        raise RepoError(
            f"the branch {branch!r} already exists",
            hint="pick another name, or let tinygen choose one (it adds -2, -3, ...)",
        )
    proc = git_bytes(
        ["update-ref", "-m", "tinygen: create branch", f"refs/heads/{branch}", sha, ""],
        root,
        check=False,
    )
    if proc.returncode != 0:
        raise RepoError(
            f"could not create the branch {branch!r}: "
            + redact(proc.stderr.decode("utf-8", "replace").strip()),
            hint="another branch with that name (or a name prefix of it) exists; pick another",
        )
