"""Before the run: check everything delivery needs, once, so that nothing is refused after
paid model calls — the token, the repository and the token's role on it, the branches
tinygen never pushes to, a pull request's head (the change is made on it), and an issue's
follow-up branch (the run starts from its tip)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from tinygen.delivery.options import DeliveryOptions
from tinygen.delivery.pushes import checkout_pr_head
from tinygen.delivery.remotes import protected_branches
from tinygen.env import github_token, workflow_repository
from tinygen.errors import ConfigError, ForgeError, RepoError, TinygenError
from tinygen.github import GitHubForge, role_at_least
from tinygen.github.app import AppCredentials, installation_token
from tinygen.redact import redact
from tinygen.repo.apply import refuse_uncommitted
from tinygen.repo.auth import token_for
from tinygen.repo.files import tracked_changes
from tinygen.repo.git import git, git_bytes
from tinygen.repo.network import git_network
from tinygen.repo.spec import github_hosts, parse_repo_spec

if TYPE_CHECKING:
    from tinygen.github import Forge
    from tinygen.repo.clone import OpenedRepo

REMOTE = "origin"
MAX_ISSUE_BRANCHES = 50  # tinygen/issue-N, -2, ... -50
BRANCH_HISTORY = 100  # commits fetched of a tinygen branch, to see whether it has the base


@dataclass
class Prepared:
    """What :func:`prepare` found out; :func:`tinygen.delivery.deliver.deliver` acts on it."""

    opts: DeliveryOptions
    opened: OpenedRepo
    target_commit: str  # the commit the change is made on (a PR head, a follow-up branch tip)
    full_name: str | None = None
    forge: Forge | None = None
    token: str | None = None
    pr_head: str | None = None  # the head branch of the pull request the change goes to
    pr_url: str | None = None  # that pull request, or the follow-up branch's open one
    branch: str | None = None  # the pull request's branch, when known before the run
    ref_branch: str | None = None  # the branch the base came from: a pull request's default base
    # where the token came from: "app" (an installation token tinygen minted), "token" (given)
    token_source: str = "token"
    notes: tuple[str, ...] = ()  # what prepare decided, for the front end to show

    @property
    def default_branch(self) -> str | None:
        return self.opened.default_branch


def github_repository(opened: OpenedRepo) -> str:
    """``owner/name`` on GitHub for the repository being changed: from its URL (or the
    checkout's origin) when that is on github.com / the GITHUB_SERVER_URL host, else from
    GITHUB_REPOSITORY. ConfigError when neither names one."""

    spec = opened.spec
    where = spec.display_url
    if spec.kind in ("local", "bare"):
        proc = git_bytes(["remote", "get-url", REMOTE], opened.root, check=False)
        url = proc.stdout.decode().strip() if proc.returncode == 0 else ""
        where = redact(url) if url else "(no origin remote)"
        with contextlib.suppress(TinygenError):  # a remote we cannot parse is not GitHub
            spec = parse_repo_spec(url) if url else spec
    if spec.full_name and spec.host and spec.host in github_hosts():
        return spec.full_name
    env = workflow_repository()
    if env:
        return env
    raise ConfigError(
        f"a pull request needs a GitHub repository, and the remote {where} is not on GitHub",
        hint="use a github.com remote (or set GITHUB_SERVER_URL for GitHub Enterprise), "
        "or name the repository with GITHUB_REPOSITORY=owner/name",
    )


def prepare(
    opts: DeliveryOptions,
    opened: OpenedRepo,
    *,
    explicit_ref: bool = False,
    forge: Forge | None = None,
    token: str | None = None,
    full_name: str | None = None,
    app: AppCredentials | None = None,
) -> Prepared:
    """Check what the delivery needs before any model call, the options going together
    first (:meth:`DeliveryOptions.validate`: OptionsError). ``forge``/``token``/
    ``full_name`` default to GitHub with GITHUB_TOKEN and the repository's own name; with a
    GitHub ``app`` (and no forge given), the App's installation token is used instead."""
    opts.validate(explicit_ref=explicit_ref)
    prepared = Prepared(opts, opened, opened.base_commit, token=token or github_token())
    if explicit_ref and opened.base_ref:
        for prefix in ("refs/heads/", "refs/remotes/origin/"):
            if opened.base_ref.startswith(prefix):
                prepared.ref_branch = opened.base_ref[len(prefix) :]
    if opts.apply and not opened.spec.is_local_checkout:
        raise ConfigError(
            "applying the change writes into a checkout, and the repository is a remote one",
            hint="run tinygen inside the checkout, or deliver to a branch or pull request",
        )
    if opts.apply and not opts.force:
        # before any model call: which files the change touches is known only after the
        # plan, the checkout's state now (a new file landing on an untracked or ignored one
        # is refused when the change is applied)
        refuse_uncommitted(tracked_changes(opened.root), before_the_run=True)
    if opened.is_clone and opts.branch is not None and not (opts.push or opts.pr):
        raise ConfigError(
            "a branch that is not pushed would stay in tinygen's clone cache",
            hint="push it (or open a pull request), or run tinygen in a checkout",
        )
    if not opts.needs_github:
        if opts.push and opts.branch:
            _refuse_protected_target(prepared, opts.branch, "the branch")
        return prepared
    name = full_name or github_repository(opened)
    if app is not None and forge is None:
        # an App's installation token starts the repository's CI (see tinygen.github.app)
        prepared.token = installation_token(app, name)
        prepared.token_source = "app"
    if prepared.token is None and forge is None:
        raise ConfigError(
            "a pull request needs a GitHub token",
            hint="set GITHUB_TOKEN (or GH_TOKEN) to a token with contents: write and "
            "pull-requests: write on the repository, or give a GitHub App "
            "(TINYGEN_APP_ID and TINYGEN_APP_PRIVATE_KEY)",
        )

    if forge is None:
        forge = GitHubForge(token=prepared.token)
    prepared.forge = forge
    prepared.full_name = name
    # checks the token, the repository and the token's role; names the real default branch
    info = forge.repo(name)
    if not role_at_least(info.viewer_permission, "write"):
        raise ForgeError(
            f"the token can only {info.viewer_permission} on {name}: pushing a branch and "
            "opening a pull request need write access",
            hint="use a token of a user with write access (contents: write and "
            "pull-requests: write for a fine-grained token)",
        )
    prepared.opened = replace(opened, default_branch=info.default_branch)
    if opts.to_pr is not None:
        _prepare_pr_head(prepared, opts.to_pr)
    elif opts.follow_up and opts.issue:
        _prepare_issue_branch(prepared, opts.issue)
    elif opts.pr and (opts.branch or opts.issue):
        _refuse_protected_target(prepared, opts.pr_branch() or "", "the branch")
    return prepared


def _prepare_pr_head(prepared: Prepared, number: int) -> None:
    """The change is made on pull request ``number``'s head: same-repository, open ones only."""

    assert prepared.forge is not None and prepared.full_name is not None
    pull = prepared.forge.pull(prepared.full_name, number)
    if pull.is_fork or pull.state != "open":
        why = (
            f"it comes from another repository ({pull.head_repo_full_name or 'a deleted fork'})"
            if pull.is_fork
            else f"it is {pull.state}"
        )
        raise ForgeError(
            f"cannot push to pull request #{number}: {why}",
            hint="tinygen pushes only to open pull requests from branches of "
            f"{prepared.full_name}; open a new pull request instead",
        )
    _refuse_protected_target(
        prepared,
        pull.head_ref,
        f"pull request #{number}'s head",
        hint="tinygen pushes only to feature branches; open a new pull request instead",
    )
    prepared.target_commit = checkout_pr_head(
        prepared.opened.root,
        remote_url_or_name=REMOTE,
        head_ref=pull.head_ref,
        token=prepared.token,
    )
    prepared.pr_head, prepared.pr_url, prepared.branch = pull.head_ref, pull.html_url, pull.head_ref


def _issue_branches(prepared: Prepared, number: int) -> dict[str, str]:
    """tinygen/issue-N and tinygen/issue-N-<k> on the remote: {branch: tip} (one listing)."""

    root = prepared.opened.root

    url = git(["remote", "get-url", REMOTE], root).strip()
    base = f"refs/heads/tinygen/issue-{number}"
    listing = git_network(
        ["ls-remote", "--heads", "--end-of-options", url, base, f"{base}-*"],
        root,
        url=url,
        token=token_for(url, prepared.token),
        what=f"look for the branches of issue #{number}",
    )
    tips = {}
    for line in listing.splitlines():
        sha, _, ref = line.partition("\t")
        if ref.startswith("refs/heads/"):
            tips[ref.removeprefix("refs/heads/")] = sha
    return tips


def _prepare_issue_branch(prepared: Prepared, number: int) -> None:
    """The branch for issue ``number``: ``tinygen/issue-N`` (then ``-2``, ``-3``, ...).

    An existing one is built on only while its pull request is open and it contains the
    base's tip (the run then starts from its tip, so the model sees the earlier attempt);
    one whose pull request was closed or merged, or that the base has moved past, is left
    as it is, and the next name is tried: the first name not on the remote starts afresh."""

    assert prepared.forge is not None and prepared.full_name is not None
    opened, notes = prepared.opened, list(prepared.notes)
    tips = _issue_branches(prepared, number)
    for k in range(1, MAX_ISSUE_BRANCHES + 1):
        branch = f"tinygen/issue-{number}" + (f"-{k}" if k > 1 else "")
        if branch not in tips:
            prepared.branch, prepared.notes = branch, tuple(notes)
            return
        pull = prepared.forge.find_open_pull(prepared.full_name, branch)
        if pull is None:
            notes.append(f"{branch} has no open pull request (closed or merged): not reused")
            continue
        tip = checkout_pr_head(
            opened.root,
            remote_url_or_name=REMOTE,
            head_ref=branch,
            token=prepared.token,
            depth=BRANCH_HISTORY,
        )
        contains = git_bytes(
            ["merge-base", "--is-ancestor", opened.base_commit, tip], opened.root, check=False
        )
        if contains.returncode != 0:
            notes.append(f"{branch} does not contain the base's tip: not reused ({pull.html_url})")
            continue
        notes.append(f"{branch} has the open pull request {pull.html_url}: the change goes on top")
        prepared.branch, prepared.target_commit, prepared.pr_url = branch, tip, pull.html_url
        prepared.notes = tuple(notes)
        return
    raise RepoError(
        f"issue #{number} already has {MAX_ISSUE_BRANCHES} tinygen branches that cannot be reused",
        hint=f"delete old tinygen/issue-{number}-* branches",
    )


def _refuse_protected_target(
    prepared: Prepared,
    branch: str,
    what: str,
    hint: str = "tinygen pushes only feature branches; name another branch",
) -> None:
    """Refuse before the model runs when ``branch`` is one tinygen never pushes to (this also
    checks that the remote can be reached)."""

    protected = protected_branches(
        prepared.opened.root,
        REMOTE,
        default_branch=prepared.opened.default_branch,
        token=prepared.token,
    )
    if branch in protected:
        raise RepoError(
            f"refusing to push to {branch!r} ({what}): it is the default branch of the "
            "remote (or main/master)",
            hint=hint,
        )
