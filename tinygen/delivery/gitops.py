"""Git delivery: a branch with one commit, a push, and a commit on top of a PR's head branch.

Every commit is made in a temporary worktree of the base commit, so the user's current
branch, index and working tree never change. Pushes are never forced: a rejected push is an
error that keeps the local branch. Names that come from outside (titles from a model, head
refs from the API) are validated before git sees them.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tinygen.errors import PatchApplyError, PatchParseError, RepoError
from tinygen.redact import redact
from tinygen.repo.auth import token_for
from tinygen.repo.git import git, git_bytes, resolve_commit, temp_worktree
from tinygen.repo.network import git_network, network_error, run_network
from tinygen.repo.spec import is_transport_trick

if TYPE_CHECKING:
    from tinygen.validate.paths import PathPolicy

# Used when git has no identity configured (a fresh CI runner) and no author was given.
DEFAULT_IDENTITY = ("tinygen", "tinygen@users.noreply.github.com")
_SLUG_MAX = 48
_TRAILER_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-]*$")


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    branch: str | None
    parent: str
    message: str  # the full message, trailers included


# --- branch names ---------------------------------------------------------------------------


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


def _local_branches(root: Path) -> set[str]:
    out = git(["for-each-ref", "--format=%(refname)", "refs/heads/"], root)
    return {r[len("refs/heads/") :] for r in out.split()}


def _remote_branches(root: Path, remote: str, token: str | None) -> set[str]:
    """Branches on ``remote`` (ls-remote); its tracking refs if the remote cannot be reached."""
    names: set[str] = set()
    out = git(["for-each-ref", "--format=%(refname)", f"refs/remotes/{remote}/"], root)
    prefix = f"refs/remotes/{remote}/"
    names |= {r[len(prefix) :] for r in out.split() if r != f"{prefix}HEAD"}
    url = _remote_url(root, remote)
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
) -> str:
    """``tinygen/<slug of title>``, or ``...-2``, ``...-3`` when taken locally or on ``remote``."""
    base = prefix + slugify(title)
    validate_branch_name(base, root)
    existing = _local_branches(root)
    if remote is not None and _remote_url(root, remote) is not None:
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


# --- commits --------------------------------------------------------------------------------


def build_message(message: str, trailers: Mapping[str, str]) -> str:
    """The message, a blank line, then ``Key: value`` trailers in the order given."""
    body = "\n".join(line.rstrip() for line in message.strip().splitlines()).strip()
    if not body:
        raise ValueError("a commit message is required")
    lines = []
    for key, value in trailers.items():
        if not _TRAILER_KEY.match(key):
            raise ValueError(f"bad trailer key {key!r}")
        lines.append(f"{key}: {' '.join(str(value).split())}")
    return body + ("\n\n" + "\n".join(lines) if lines else "") + "\n"


def identity_env(root: Path, author: tuple[str, str] | None) -> dict[str, str]:
    env: dict[str, str] = {}
    if author is not None:
        name, email = author
        if any(c in name + email for c in "<>\n\r") or not name.strip() or not email.strip():
            raise ValueError(f"bad author {author!r}")
        env |= {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email}
    fallback = author or DEFAULT_IDENTITY
    for role in ("AUTHOR", "COMMITTER"):
        if f"GIT_{role}_NAME" in env:
            continue
        if git_bytes(["var", f"GIT_{role}_IDENT"], root, check=False).returncode != 0:
            env |= {f"GIT_{role}_NAME": fallback[0], f"GIT_{role}_EMAIL": fallback[1]}
    return env


def commit_on_top(
    root: Path,
    parent_commit: str,
    diff: str,
    *,
    message: str,
    trailers: Mapping[str, str],
    author: tuple[str, str] | None = None,
) -> str:
    """A new commit (not on any branch) whose parent is ``parent_commit`` and whose change is
    ``diff``, applied with ``git apply --index`` in a temporary worktree. Returns its sha."""
    return _commit(root, parent_commit, diff, build_message(message, trailers), author)


def _commit(
    root: Path, parent: str, diff: str, full_message: str, author: tuple[str, str] | None
) -> str:
    if not diff.strip():
        raise PatchParseError("the diff is empty: there is nothing to commit")
    parent_sha = resolve_commit(root, parent)
    env = identity_env(root, author)
    from tinygen.validate.paths import check_path

    policy = _policy_at(root, parent_sha)
    with temp_worktree(root, parent_sha) as wt:
        proc = git_bytes(
            ["apply", "--index", "--whitespace=nowarn", "-"],
            wt,
            input=diff.encode("utf-8"),
            check=False,
        )
        if proc.returncode != 0:
            err = redact(proc.stderr.decode("utf-8", "replace").strip())
            raise PatchApplyError(
                f"the diff does not apply to {parent_sha[:12]}: {err.splitlines()[0] if err else ''}",
                feedback=err,
                hint="the diff must be made against the base commit",
            )
        # Defence in depth: the validation gate checked the paths as it parsed the diff;
        # these are the paths git actually changed (quoted names decoded, both sides of a
        # rename), checked against the tree the commit is made in.
        changed = git(["diff", "--cached", "--name-only", "--no-renames", "-z"], wt)
        if not changed:
            raise PatchApplyError(f"the diff changes nothing in {parent_sha[:12]}")
        for path in changed.split("\0"):
            if path:
                check_path(wt, path, policy)
        # --no-verify: the user's hooks would run in (and could modify) our temp worktree;
        # the validation stage has already run the configured checks.
        git(
            ["commit", "--quiet", "--no-verify", "--cleanup=whitespace", "-F", "-"],
            wt,
            input=full_message,
            env=env,
        )
        return git(["rev-parse", "HEAD"], wt).strip()


def _policy_at(root: Path, commit: str) -> PathPolicy:
    from tinygen.config import load_settings
    from tinygen.validate.paths import PathPolicy

    settings = load_settings(root, commit=commit)
    return PathPolicy(settings.protected_paths, settings.allowed_paths)


def create_branch_at(root: Path, branch: str, sha: str) -> None:
    """Create the local ``branch`` at ``sha``; refuse when it exists (atomically: the empty
    old value makes git fail if the branch appeared meanwhile)."""
    validate_branch_name(branch, root)
    if branch in _local_branches(root):
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


def create_branch_commit(
    root: Path,
    base_commit: str,
    diff: str,
    *,
    branch: str,
    message: str,
    trailers: Mapping[str, str],
    author: tuple[str, str] | None = None,
) -> CommitInfo:
    """Create ``branch`` at a new commit = ``base_commit`` + ``diff``; refuse if it exists.

    The user's HEAD, index and working tree are untouched (the commit is made in a temporary
    worktree); only the new ref ``refs/heads/<branch>`` appears.
    """
    validate_branch_name(branch, root)
    if branch in _local_branches(root):
        raise RepoError(
            f"the branch {branch!r} already exists",
            hint="pick another name, or let tinygen choose one (it adds -2, -3, ...)",
        )
    full = build_message(message, trailers)
    parent = resolve_commit(root, base_commit)
    sha = _commit(root, parent, diff, full, author)
    create_branch_at(root, branch, sha)
    return CommitInfo(sha=sha, branch=branch, parent=parent, message=full)


# --- remotes and pushes ---------------------------------------------------------------------


def _remote(root: Path, remote: str) -> tuple[str, bool] | None:
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


def _remote_url(root: Path, remote: str) -> str | None:
    found = _remote(root, remote)
    return found[0] if found else None


def _require_remote(root: Path, remote: str) -> tuple[str, bool]:
    found = _remote(root, remote)
    if found is None:
        raise RepoError(
            f"no remote named {redact(remote)!r} in {root}",
            hint="add it with `git remote add origin URL`, or pass the remote's URL",
        )
    return found


def remote_default_branch(
    root: Path, remote: str = "origin", token: str | None = None
) -> str | None:
    """The default branch ``remote`` itself reports (``git ls-remote --symref URL HEAD``);
    None when its HEAD names no existing branch (an empty repository). A remote that cannot
    be reached is a RepoError."""
    url, _named = _require_remote(root, remote)
    out = git_network(
        ["ls-remote", "--symref", "--end-of-options", url, "HEAD"],
        root,
        url=url,
        token=token_for(url, token),
        what=f"find the default branch of {redact(url)}",
    )
    for line in out.splitlines():
        left, _, ref = line.partition("\t")
        if ref == "HEAD" and left.startswith("ref: refs/heads/"):
            return left[len("ref: refs/heads/") :]
    return None


def protected_branches(
    root: Path,
    remote: str = "origin",
    *,
    default_branch: str | None = None,
    token: str | None = None,
) -> set[str]:
    """Branches tinygen never pushes to on ``remote``: its default branch as the remote
    reports it, ``default_branch`` (what the forge says), ``<remote>/HEAD`` of a checkout,
    and main/master by convention. RepoError when the default branch cannot be told at all:
    a push would then be a guess."""
    known = {b for b in (default_branch, remote_default_branch(root, remote, token)) if b}
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


def _refuse_protected(
    root: Path,
    remote: str,
    branch: str,
    default_branch: str | None,
    token: str | None,
    hint: str,
    settings: tuple[str, ...] = (),
) -> None:
    if branch in protected_branches(root, remote, default_branch=default_branch, token=token):
        raise RepoError(
            f"refusing to push to {branch!r}: it is the default branch of {redact(remote)} "
            "(or main/master)",
            hint=hint,
            settings=settings,
        )


def _push(root: Path, remote: str, refspec: str, target: str, token: str | None) -> None:
    url, named = _require_remote(root, remote)
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
) -> None:
    """Push the local ``branch`` to the same name on ``remote``: never forced, never to a
    protected branch (see :func:`protected_branches`)."""
    validate_branch_name(branch, root)
    _refuse_protected(
        root,
        remote,
        branch,
        default_branch,
        token,
        "tinygen pushes only feature branches; name another `branch`",
        ("branch",),
    )
    if branch not in _local_branches(root):
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
    url, _named = _require_remote(root, remote_url_or_name)
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
