"""Delivery: turn a run's diff into changed files, a branch, a push, or a pull request.

The building blocks live in :mod:`tinygen.delivery.commits` and :mod:`tinygen.delivery.pushes` (commits in temporary worktrees, pushes
that are never forced) and :mod:`tinygen.github` (the forge); this module sequences them::

    publish_branch      diff ─► commit on the base ─► local branch ─► [push]
    publish_pr          publish_branch(push) ─► open or update the pull request
                        (a named branch that already exists: commit on top of it)
    push_to_pr          diff ─► commit on top of a same-repository PR's head ─► push

``result.diff`` is made against ``result.base_commit``. When the commit must go on top of
another commit (a PR head or branch that moved since), the change is first committed on its
own base and then cherry-picked onto the head: git's 3-way merge places it, and a real
conflict is an error naming the files, never a silently different change. What git calls a
conflict only because the head changed adjacent lines is placed by content, and that new
tree goes through the run's validation again (gate, then its checks) before it is committed:
what ships is always what was validated. A head that already contains the change gets no
new commit, so a re-run is idempotent.

A run that did not succeed but produced a diff is still delivered (work is never lost),
with the failure stated in the commit and the pull request, which is then always a draft.
A diff that breaks the path policy is never delivered.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from tinygen.config import Settings, load_settings
from tinygen.delivery.branches import (
    branch_name_for,
    create_branch_at,
    slugify,
    validate_branch_name,
)
from tinygen.delivery.commits import build_message, commit_on_top, identity_env
from tinygen.delivery.pushes import checkout_pr_head, push_branch, push_to_ref
from tinygen.delivery.remotes import RemoteState, protected_branches, remote_state
from tinygen.delivery.texts import (
    MARKER,
    FileChange,
    Step,
    commit_message,
    plain_title,
    pr_body,
    read_steps,
    succeeded,
    title,
)
from tinygen.errors import (
    ForgeError,
    PatchApplyError,
    PatchParseError,
    PathPolicyError,
    RepoError,
    ValidationError,
)
from tinygen.github.forge import Forge
from tinygen.models import RunResult, Status, validation_status
from tinygen.patch import apply_patch, canonical_diff
from tinygen.redact import redact
from tinygen.repo.clone import OpenedRepo
from tinygen.repo.git import git, git_bytes, resolve_commit, temp_worktree
from tinygen.repo.texts import texts_at
from tinygen.repo.trees import commit_tree
from tinygen.validate import CheckResult, PathPolicy, run_checks_on_tree, run_gate

REMOTE = "origin"
BRANCH_PREFIX = "tinygen/"
_REUSE_LOOKS = 10  # default-named branches (tinygen/x, -2, -3, ...) looked at for a re-run


@dataclass(frozen=True)
class PublishResult:
    branch: str
    commit: str
    pr_url: str | None
    pr_number: int | None
    created: bool  # a new pull request was opened (False: updated, or no pull request)


# --- checks -------------------------------------------------------------------------------


def _check_deliverable(result: RunResult) -> None:
    if not result.diff.strip():
        raise PatchParseError(
            f"run {result.run_id} produced no diff ({result.status}): there is nothing to deliver",
            hint="nothing was committed or pushed",
        )
    if not result.base_commit:
        raise RepoError(f"run {result.run_id} names no base commit: cannot commit its diff")
    paths = result.forbidden_paths
    if paths:
        # A failed run is delivered as a draft, but never one that writes where it may not.
        error = PathPolicyError(
            f"not delivered: the diff changes paths the policy forbids ({', '.join(paths)})",
            hint="nothing was committed or pushed; the diff is kept in the run record",
        )
        error.saved_diff = result.diff_path
        raise error


# --- commits --------------------------------------------------------------------------------


def _own_commit(result: RunResult, root: Path) -> str:
    """The run's change as a commit on its base: the tree the gate validated (and the checks
    ran on), committed as it is; a result without one (never validated) is applied anew."""
    message, trailers = commit_message(result)
    base = resolve_commit(root, result.base_commit)
    if result.tree is None:
        return commit_on_top(root, base, result.diff, message=message, trailers=trailers)
    full = build_message(message, trailers)
    return commit_tree(root, result.tree, base, full, identity_env(root, None))


def _commit_for(
    result: RunResult, root: Path, parent: str, settings: Settings | None = None
) -> str | None:
    """A new commit with the run's change whose parent is ``parent``; None when ``parent``
    already contains the change."""
    parent = resolve_commit(root, parent)
    base = resolve_commit(root, result.base_commit)
    own = _own_commit(result, root)
    if parent == base:
        return own
    try:
        return _cherry_pick(root, own, parent)
    except PatchApplyError as conflict:
        # git's merge calls changes to adjacent lines a conflict; the patch engine places
        # hunks by their content and refuses only when that is ambiguous or gone
        diff = _placed_diff(root, parent, result.diff)
        if diff is None:
            raise conflict from None
        if not diff:
            return None
        tree = _revalidated(result, root, parent, diff, settings)
        full = build_message(*commit_message(result))
        return commit_tree(root, tree, parent, full, identity_env(root, None))


def _revalidated(
    result: RunResult, root: Path, head: str, diff: str, settings: Settings | None
) -> str:
    """The tree of ``diff`` (the run's change placed anew on ``head``) after the validation
    the run had: the gate (the run's path policy), then the run's checks when it ran any.
    It must do as well as the run did (a run that passed the gate or its checks may not
    ship a change that fails them); otherwise ValidationError: the head moved, run again."""
    if settings is None:
        settings = load_settings(root, commit=result.base_commit)
    policy = PathPolicy(settings.protected_paths, settings.allowed_paths)
    gate = run_gate(root, head, diff, policy)
    checks: list[CheckResult] = []
    if gate.tree is not None and gate.ok and result.checks:
        commands = [c.command for c in result.checks]
        checks = run_checks_on_tree(
            root,
            gate.tree,
            head,
            commands,
            settings.check_timeout,
            settings.check_memory_mb,
            pass_env=settings.check_env,
        )
    ended = validation_status(gate, checks)
    ran_gate_ok = result.validation is None or result.validation.ok
    new_failure = ended is not None and (
        (ended[0] is Status.INVALID and ran_gate_ok)
        or (ended[0] is Status.CHECKS_FAILED and not result.failed_checks)
    )
    if gate.tree is None or new_failure:
        assert ended is not None  # no tree: the gate refused the change
        why = " ".join(line.strip() for line in ended[1].splitlines())
        error = ValidationError(
            f"the head moved to {head[:12]} since the run's base {result.base_commit[:12]}; "
            f"the change placed on it does not pass validation ({why})",
            hint="nothing was committed or pushed; run tinygen again with `ref` set to the "
            "branch head",
            settings=("ref",),
        )
        error.saved_diff = result.diff_path
        raise error
    return gate.tree


def _placed_diff(root: Path, commit: str, diff: str) -> str | None:
    """``diff`` re-made against ``commit`` by placing its hunks by content; "" if ``commit``
    already has the change; None if a hunk does not fit."""

    files = texts_at(root, commit)
    try:
        placed = apply_patch(files, diff, known_paths=list(files))
    except (PatchApplyError, PatchParseError):
        return None
    return canonical_diff(placed.before, placed.after)


def _cherry_pick(root: Path, commit: str, onto: str) -> str | None:
    """``commit`` replayed onto ``onto`` (git's 3-way merge), or None if it changes nothing."""
    who = git(["show", "-s", "--format=%cn%x00%ce", commit], root).strip().split("\0")
    env = {"GIT_COMMITTER_NAME": who[0], "GIT_COMMITTER_EMAIL": who[1]}
    with temp_worktree(root, onto) as wt:
        proc = git_bytes(
            ["cherry-pick", "--no-commit", commit], wt, env=env, check=False, quiet=True
        )
        if proc.returncode != 0:
            conflicted = git(["diff", "--name-only", "--diff-filter=U"], wt, quiet=True).split()
            err = redact(proc.stderr.decode("utf-8", "replace").strip())
            where = ", ".join(conflicted) if conflicted else (err.splitlines() or ["?"])[-1]
            raise PatchApplyError(
                f"the change does not apply on top of {onto[:12]}: it conflicts in {where}",
                feedback=err,
                hint="that branch changed the same lines since the base; run tinygen again "
                "with `ref` set to the branch head",
                settings=("ref",),
            )
        if git_bytes(["diff", "--cached", "--quiet"], wt, check=False, quiet=True).returncode == 0:
            return None
        git(
            ["commit", "--quiet", "--no-verify", "--reuse-message", commit], wt, env=env, quiet=True
        )
        return git(["rev-parse", "HEAD"], wt, quiet=True).strip()


def _changes(root: Path, base: str, head: str) -> list[FileChange]:
    """The files ``head`` changes since it forked from ``base`` (``git diff --numstat``)."""
    fork = git_bytes(["merge-base", base, head], root, check=False)
    if fork.returncode != 0:
        return []
    start = fork.stdout.decode().strip()
    out = git_bytes(["diff", "--numstat", "-z", "--no-renames", start, head], root)
    changes = []
    for record in out.stdout.decode("utf-8", "surrogateescape").split("\0"):
        added, _, rest = record.partition("\t")
        removed, _, path = rest.partition("\t")
        if path:
            counted = added.isdigit() and removed.isdigit()
            changes.append(
                FileChange(path, int(added) if counted else None, int(removed) if counted else None)
            )
    return changes


def _has_remote(root: Path) -> bool:
    return git_bytes(["remote", "get-url", REMOTE], root, check=False).returncode == 0


# --- delivery modes ---------------------------------------------------------------------------


def publish_branch(
    result: RunResult,
    opened: OpenedRepo,
    *,
    branch: str | None,
    push: bool,
    token: str | None = None,
    state: RemoteState | None = None,
) -> PublishResult:
    """A branch with one commit (the run's change on its base), pushed when ``push``.

    ``branch`` None or "" picks ``tinygen/<slug of the plan title>`` with a suffix when taken
    locally or on the remote. In a checkout the branch is created locally (refused if it
    exists) and the current branch and working tree stay as they are. From the clone cache
    the commit is pushed straight to the remote branch: no branch is left in the cache.
    ``state`` is the remote as the caller already listed it (else it is listed here, once).
    """
    _check_deliverable(result)
    root = opened.root
    if state is None and (push or not branch) and _has_remote(root):
        state = remote_state(root, REMOTE, token)
    heads = state.heads if state is not None else ()
    name = branch or branch_name_for(
        root, plain_title(result), prefix=BRANCH_PREFIX, remote=None, remote_heads=heads
    )
    validate_branch_name(name, root)
    # deliver's pushes check this too; checking first avoids a half-done delivery
    if push and name in protected_branches(
        root, REMOTE, default_branch=opened.default_branch, token=token, state=state
    ):
        raise RepoError(
            f"refusing to push to {name!r}: it is the default branch of the remote "
            "(or main/master)",
            hint="tinygen pushes only feature branches; name another `branch`",
            settings=("branch",),
        )
    if opened.is_clone and push:
        sha = _commit_for(result, root, result.base_commit)
        assert sha is not None  # a diff against its own base always changes something
        push_to_ref(root, sha, name, token=token, default_branch=opened.default_branch, state=state)
        return PublishResult(name, sha, None, None, False)
    sha = _own_commit(result, root)
    create_branch_at(root, name, sha)
    if push:
        push_branch(root, name, token=token, default_branch=opened.default_branch, state=state)
    return PublishResult(name, sha, None, None, False)


def publish_pr(
    result: RunResult,
    opened: OpenedRepo,
    forge: Forge,
    *,
    full_name: str,
    base: str | None = None,
    draft: bool = True,
    issue: int | None = None,
    branch: str | None = None,
    token: str | None = None,
    default_branch: str | None = None,
    settings: Settings | None = None,
) -> PublishResult:
    """Push the change to a branch and open (or update) its pull request into ``base``.

    ``branch`` None: ``tinygen/<slug of the title>`` when tinygen's own open pull request
    comes from it (a re-run of the same request updates that one), else a new branch with
    that name (``-2``, ``-3``, ... when taken). A named branch that already exists on the
    remote gets a commit on top of its head (fast-forward, never forced; none if the head
    already has the change) and its open pull request is updated instead of a second one
    opened.

    Draft state: a new pull request is a draft unless ``draft`` is False; a run that did
    not succeed always makes it a draft (an updated one is converted), and ``draft=False``
    marks an updated one ready for review. Otherwise an update leaves it as it is.

    ``settings``: the run's (its path policy and check limits re-validate a change placed
    anew on a moved head; None: read at the run's base commit).
    """
    _check_deliverable(result)
    root = opened.root
    # the forge is the authority on the default branch (a checkout's origin/HEAD may be
    # missing or stale); deliver's pushes also ask the remote itself
    default = default_branch or forge.repo(full_name).default_branch
    opened = replace(opened, default_branch=default)
    base_branch = base or default
    state = remote_state(root, REMOTE, token)  # the one listing of the remote's branches
    if not branch:
        branch = _own_open_branch(result, state, forge, full_name)
    tip = None
    if branch:
        validate_branch_name(branch, root)
        if branch == base_branch:
            raise RepoError(
                f"refusing to deliver to {branch!r}: it is the pull request's base branch",
                hint="name another `branch`",
                settings=("branch",),
            )
        tip = state.heads.get(branch)
        open_pull = forge.find_open_pull(full_name, branch) if tip is not None else None
        if tip is not None and open_pull is None:
            _refuse_rejected_branch(forge, full_name, branch)
    earlier: list[Step] = []
    changes: list[FileChange] = []
    if tip is None:
        pushed = publish_branch(result, opened, branch=branch, push=True, token=token, state=state)
        name, sha = pushed.branch, pushed.commit
    else:
        assert branch is not None
        name = branch
        head = checkout_pr_head(root, remote_url_or_name=REMOTE, head_ref=name, token=token)
        new = _commit_for(result, root, head, settings)
        if new is not None:
            push_to_ref(root, new, name, token=token, default_branch=default, state=state)
        sha = new or head
        if open_pull is not None:
            # the pull request describes the whole change: its steps so far, then this one
            # (which replaces the last when it added nothing)
            earlier = read_steps(open_pull.body) or [Step("", open_pull.title, "", "")]
            earlier = earlier if new is not None else earlier[:-1]
            changes = _changes(root, opened.base_commit, sha)
    ok = succeeded(result)
    try:
        pull, created = forge.create_or_update_pull(
            full_name,
            head=name,
            base=base_branch,
            title=title(result, earlier),
            body=pr_body(result, issue=issue, earlier=earlier, changes=changes, base=base_branch),
            draft=draft or not ok,
        )
        want = True if not ok else (False if not draft else None)
        if not created and want is not None and pull.draft != want:
            pull = forge.set_draft(full_name, pull.number, want)
    except ForgeError as exc:
        pushed_note = (
            f"the branch {name} was pushed ({sha[:12]}), nothing is lost: once that is "
            f"fixed, deliver again as a pull request (`pr`) with `branch` {name}"
        )
        exc.hint = f"{exc.hint}; {pushed_note}" if exc.hint else pushed_note
        exc.settings = (*exc.settings, "pr", "branch")
        raise
    return PublishResult(name, sha, pull.html_url, pull.number, created)


def _refuse_rejected_branch(forge: Forge, full_name: str, branch: str) -> None:
    """Work is not stacked on a branch whose pull request was closed without merging."""
    last = forge.last_pull(full_name, branch)
    if last is not None and last.state == "closed" and not last.merged:
        raise RepoError(
            f"the branch {branch} belongs to pull request #{last.number}, which was closed "
            "without merging: not adding to it",
            hint=f"delete the branch {branch} on the remote (or reopen #{last.number}), or "
            "deliver under another `branch`",
            settings=("branch",),
        )


def _own_open_branch(
    result: RunResult, state: RemoteState, forge: Forge, full_name: str
) -> str | None:
    """The default-named branch (``tinygen/<slug>``, ``-2``, ...) whose open pull request
    tinygen wrote (its body carries the marker), or None. Names are taken in order, so the
    first one missing on the remote ends the search."""
    base = BRANCH_PREFIX + slugify(plain_title(result))
    for n in range(1, _REUSE_LOOKS + 1):
        name = base if n == 1 else f"{base}-{n}"
        if name not in state.heads:
            return None
        pull = forge.find_open_pull(full_name, name)
        if pull is not None and MARKER in pull.body:
            return name
    return None


def push_to_pr(
    result: RunResult,
    opened: OpenedRepo,
    forge: Forge,
    *,
    full_name: str,
    number: int,
    token: str | None = None,
    default_branch: str | None = None,
    settings: Settings | None = None,
) -> PublishResult:
    """Add the change as a new commit on pull request ``number``'s head branch.

    Only pull requests whose head branch lives in ``full_name`` itself: tinygen does not
    push to forks. The head is fetched fresh; if it moved since the run's base, the change
    is cherry-picked onto it (or, when git calls that a conflict, placed by content and
    validated again: ``settings`` as for :func:`publish_pr`). No new commit when the head
    already has the change.
    """
    _check_deliverable(result)
    pull = forge.pull(full_name, number)
    if pull.is_fork:
        error = ForgeError(
            f"pull request #{number} comes from another repository "
            f"({pull.head_repo_full_name or 'a deleted fork'}); tinygen pushes only to "
            f"branches of {full_name}",
            hint="ask its author to apply the diff, or open a new pull request (`pr`)",
            settings=("pr",),
        )
        error.saved_diff = result.diff_path
        raise error
    if pull.state != "open":
        raise ForgeError(
            f"pull request #{number} is {pull.state}: not pushing to it",
            hint="reopen it first, or open a new pull request (`pr`)",
            settings=("pr",),
        )
    root = opened.root
    head = checkout_pr_head(root, remote_url_or_name=REMOTE, head_ref=pull.head_ref, token=token)
    new = _commit_for(result, root, head, settings)
    if new is not None:
        # the repository's default branch, whatever the pull request's base is
        default = default_branch or forge.repo(full_name).default_branch
        push_to_ref(root, new, pull.head_ref, token=token, default_branch=default)
    return PublishResult(pull.head_ref, new or head, pull.html_url, pull.number, False)


__all__ = [
    "PublishResult",
    "publish_branch",
    "publish_pr",
    "push_to_pr",
]
