"""Delivery options shared by `tinygen run` and `tinygen apply`, and the code that acts on them.

    --apply [--force]   write the change into the working tree (run only: apply does that anyway)
    --branch [NAME]     a branch with one commit (default name tinygen/<slug of the title>)
    --push              push that branch (implies --branch)
    --pr                push and open or update a pull request (implies --branch --push)
    --base B --ready --issue N    the pull request's base, not a draft, "Closes #N"
    --to-pr N           a new commit on the head branch of the same-repository pull request N

Everything that can be refused without the model is refused before the model runs: bad
combinations, a missing token, a remote that is not on GitHub, a fork's pull request.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from tinygen.errors import ConfigError, TinygenError

if TYPE_CHECKING:
    from tinygen.delivery.publish import PublishResult
    from tinygen.github import Forge
    from tinygen.models import RunResult
    from tinygen.repo.clone import OpenedRepo

F = TypeVar("F", bound=Callable[..., Any])

_KEYS = ("apply", "force", "branch", "push", "pr", "base", "ready", "issue", "to_pr")


@dataclass(frozen=True)
class DeliveryOptions:
    apply: bool = False
    force: bool = False
    branch: str | None = None  # None: not asked for; "": a generated name
    push: bool = False
    pr: bool = False
    base: str | None = None
    ready: bool = False
    issue: int | None = None
    to_pr: int | None = None

    @property
    def commits(self) -> bool:
        """A commit is wanted (a branch, a push, a pull request, or a push to one)."""
        return self.branch is not None or self.push or self.pr or self.to_pr is not None

    @property
    def needs_github(self) -> bool:
        return self.pr or self.to_pr is not None


def delivery_options(*, with_apply: bool = True) -> Callable[[F], F]:
    """The click options; ``with_apply=False`` for `tinygen apply` (it writes files anyway
    and has its own --force)."""

    def decorate(f: F) -> F:
        opts = [
            click.option(
                "--to-pr",
                "to_pr",
                type=click.IntRange(min=1),
                default=None,
                metavar="N",
                help="Push a new commit to the head branch of pull request N (same repository).",
            ),
            click.option(
                "--issue",
                type=click.IntRange(min=1),
                default=None,
                metavar="N",
                help="The request comes from issue N: the pull request says 'Closes #N'.",
            ),
            click.option("--ready", is_flag=True, help="Open the pull request ready for review."),
            click.option(
                "--base", default=None, metavar="BRANCH", help="Pull request base branch."
            ),
            click.option(
                "--pr", is_flag=True, help="Push a branch and open (or update) a pull request."
            ),
            click.option("--push", is_flag=True, help="Push the branch (never forced)."),
            click.option(
                "--branch",
                is_flag=False,
                flag_value="",
                default=None,
                metavar="[NAME]",
                help="Commit the change to a new branch (default name tinygen/<title>).",
            ),
        ]
        if with_apply:
            opts += [
                click.option(
                    "--force", is_flag=True, help="With --apply: also change files with edits."
                ),
                click.option(
                    "--apply", "apply", is_flag=True, help="Write the change into the checkout."
                ),
            ]
        for opt in opts:
            f = opt(f)
        return f

    return decorate


def pop_options(kwargs: dict[str, Any]) -> DeliveryOptions:
    """Take the delivery options out of a command's keyword arguments; check combinations."""
    opts = DeliveryOptions(**{k: kwargs.pop(k) for k in _KEYS if k in kwargs})
    if opts.force and not opts.apply:
        raise click.UsageError("--force goes with --apply")
    if opts.to_pr is not None and (opts.branch is not None or opts.push or opts.pr):
        raise click.UsageError(
            "--to-pr pushes to the pull request's branch: drop --branch/--push/--pr"
        )
    if not opts.pr:
        for name, value in (
            ("--base", opts.base),
            ("--ready", opts.ready),
            ("--issue", opts.issue),
        ):
            if value:
                raise click.UsageError(f"{name} goes with --pr")
    return opts


# --- before the run -----------------------------------------------------------------------------


def _token() -> str | None:
    return (os.environ.get("GITHUB_TOKEN") or os.environ.get("GH_TOKEN") or "").strip() or None


def github_repository(opened: OpenedRepo) -> str:
    """``owner/name`` on GitHub for the repository being changed: from its URL (or the
    checkout's origin) when that is on github.com / the GITHUB_SERVER_URL host, else from
    GITHUB_REPOSITORY. ConfigError when neither names one."""
    from tinygen.redact import redact
    from tinygen.repo.git import git_bytes
    from tinygen.repo.spec import github_hosts, parse_repo_spec

    spec = opened.spec
    where = spec.display_url
    if spec.kind in ("local", "bare"):
        proc = git_bytes(["remote", "get-url", "origin"], opened.root, check=False)
        url = proc.stdout.decode().strip() if proc.returncode == 0 else ""
        where = redact(url) if url else "(no origin remote)"
        with contextlib.suppress(TinygenError):  # a remote we cannot parse is not GitHub
            spec = parse_repo_spec(url) if url else spec
    if spec.full_name and spec.host and spec.host in github_hosts():
        return spec.full_name
    env = os.environ.get("GITHUB_REPOSITORY", "").strip()
    if env:
        return env
    raise ConfigError(
        f"--pr and --to-pr need a GitHub repository, and the remote {where} is not on GitHub",
        hint="use a github.com remote (or set GITHUB_SERVER_URL for GitHub Enterprise), "
        "or name the repository with GITHUB_REPOSITORY=owner/name",
    )


@dataclass
class Delivery:
    """What ``prepare`` found out; ``deliver`` uses it after the run."""

    opts: DeliveryOptions
    opened: OpenedRepo
    target_commit: str  # the commit the change is made on (a PR's head for --to-pr)
    full_name: str | None = None
    forge: Forge | None = None
    pr_head: str | None = None
    notes: list[str] = field(default_factory=list)
    ref_branch: str | None = None  # the branch --ref named: a pull request's default base


def prepare(opts: DeliveryOptions, opened: OpenedRepo, *, explicit_ref: bool = False) -> Delivery:
    """Check everything the delivery needs before any model call; for --to-pr, fetch the
    pull request's head: the change is made on it (settings still come from the base)."""
    from tinygen.errors import ForgeError

    if opts.to_pr is not None and explicit_ref:
        raise click.UsageError("--to-pr makes the change on the pull request's head: drop --ref")

    delivery = Delivery(opts, opened, opened.base_commit)
    if explicit_ref and opened.base_ref:
        for prefix in ("refs/heads/", "refs/remotes/origin/"):
            if opened.base_ref.startswith(prefix):
                delivery.ref_branch = opened.base_ref[len(prefix) :]
    if opts.apply and not opened.spec.is_local_checkout:
        raise ConfigError(
            "--apply writes into a checkout, and --repo names a remote repository",
            hint="run tinygen inside the checkout, or use --branch --push / --pr",
        )
    if opened.is_clone and opts.branch is not None and not (opts.push or opts.pr):
        raise ConfigError(
            "--branch without --push would leave the branch in tinygen's clone cache",
            hint="add --push (or --pr), or run tinygen in a checkout of the repository",
        )
    if not opts.needs_github:
        if opts.push and opts.branch:
            _refuse_protected_target(delivery, opts.branch, "--branch")
        return delivery
    if _token() is None:
        raise ConfigError(
            "--pr and --to-pr need a GitHub token",
            hint="set GITHUB_TOKEN (or GH_TOKEN) to a token with contents: write and "
            "pull-requests: write on the repository",
        )
    from tinygen.github import GitHubForge, role_at_least

    delivery.full_name = github_repository(opened)
    delivery.forge = GitHubForge()
    # checks the token, the repository and the token's role; names the real default branch
    info = delivery.forge.repo(delivery.full_name)
    if not role_at_least(info.viewer_permission, "write"):
        raise ForgeError(
            f"the token can only {info.viewer_permission} on {delivery.full_name}: pushing a "
            "branch and opening a pull request need write access",
            hint="use a token of a user with write access (contents: write and "
            "pull-requests: write for a fine-grained token)",
        )
    delivery.opened = replace(opened, default_branch=info.default_branch)
    if opts.pr and (opts.branch or opts.issue):
        _refuse_protected_target(delivery, _pr_branch(opts) or "", "--branch")
    if opts.to_pr is not None:
        from tinygen.delivery.gitops import checkout_pr_head

        pull = delivery.forge.pull(delivery.full_name, opts.to_pr)
        if pull.is_fork or pull.state != "open":
            why = (
                f"it comes from another repository ({pull.head_repo_full_name or 'a deleted fork'})"
                if pull.is_fork
                else f"it is {pull.state}"
            )
            raise ForgeError(
                f"cannot push to pull request #{opts.to_pr}: {why}",
                hint="tinygen pushes only to open pull requests from branches of "
                f"{delivery.full_name}; use --pr to open a new one",
            )
        _refuse_protected_target(
            delivery,
            pull.head_ref,
            f"pull request #{opts.to_pr}'s head",
            hint="tinygen pushes only to feature branches; open a new pull request with --pr",
        )
        delivery.target_commit = checkout_pr_head(
            opened.root, remote_url_or_name="origin", head_ref=pull.head_ref
        )
        delivery.pr_head = pull.head_ref
    return delivery


def _refuse_protected_target(
    delivery: Delivery,
    branch: str,
    what: str,
    hint: str = "tinygen pushes only feature branches; pass another --branch NAME",
) -> None:
    """Refuse before the model runs when ``branch`` is one tinygen never pushes to (this also
    checks that the remote can be reached)."""
    from tinygen.delivery.gitops import protected_branches
    from tinygen.errors import RepoError

    protected = protected_branches(
        delivery.opened.root, "origin", default_branch=delivery.opened.default_branch
    )
    if branch in protected:
        raise RepoError(
            f"refusing to push to {branch!r} ({what}): it is the default branch of the "
            "remote (or main/master)",
            hint=hint,
        )


# --- after the run -------------------------------------------------------------------------------


def _say(message: str) -> None:
    from tinygen.redact import redact

    click.echo(redact(f"tinygen: {message}"), err=True)


def deliver(delivery: Delivery, result: RunResult) -> dict[str, Any]:
    """Act on the options for ``result``; report on stderr; return what --json adds."""
    from tinygen.delivery.texts import succeeded

    opts = delivery.opts
    info: dict[str, Any] = {}
    if not (opts.apply or opts.commits):
        return info
    if not result.diff:
        _say("nothing to deliver: the run produced no diff")
        return {"delivery": {"skipped": "no diff"}}
    ok = succeeded(result)
    try:
        if opts.apply:
            if ok:
                from tinygen.repo.apply import apply_diff

                written = apply_diff(delivery.opened.root, result.diff, force=opts.force)
                info["applied"] = written
                _say(f"applied to the working tree: {', '.join(written) or 'nothing to change'}")
            else:
                info["applied"] = []
                _say(f"not applied: the run did not succeed ({result.status})")
        if opts.commits:
            published = _commit(delivery, result, ok)
            if published is not None:
                info |= _published(published)
    except TinygenError as exc:
        if result.diff_path and result.diff_path not in (exc.hint or ""):
            exc.hint = (
                exc.hint + "; " if exc.hint else ""
            ) + f"the diff is saved in {result.diff_path}"
        raise
    return {"delivery": info}


def deliver_reporting(
    delivery: Delivery, result: RunResult
) -> tuple[dict[str, Any], TinygenError | None]:
    """:func:`deliver`, with a failure returned instead of raised, so that the caller prints
    the run's result first and raises it after; --json then says
    ``"delivery": {"error": ..., "hint": ..., "exit_code": ...}``."""
    from tinygen.redact import redact

    try:
        return deliver(delivery, result), None
    except TinygenError as exc:
        report = {
            "error": redact(exc.message),
            "hint": redact(exc.hint) if exc.hint else None,
            "exit_code": int(exc.exit_code),
        }
        return {"delivery": report}, exc


def _commit(delivery: Delivery, result: RunResult, ok: bool) -> PublishResult | None:
    from tinygen.delivery import publish

    opts = delivery.opts
    if opts.to_pr is not None:
        if not ok:
            # a failed change is not pushed onto someone's pull request; the diff is kept
            _say(
                f"not pushed to pull request #{opts.to_pr}: the run did not succeed ({result.status})"
            )
            return None
        assert delivery.forge is not None and delivery.full_name is not None
        out = publish.push_to_pr(
            result, delivery.opened, delivery.forge, full_name=delivery.full_name, number=opts.to_pr
        )
        _say(
            f"pushed {out.commit[:12]} to {out.branch} of pull request #{out.pr_number}: {out.pr_url}"
        )
        return out
    if opts.pr:
        assert delivery.forge is not None and delivery.full_name is not None
        branch = _pr_branch(opts)
        out = publish.publish_pr(
            result,
            delivery.opened,
            delivery.forge,
            full_name=delivery.full_name,
            base=opts.base or delivery.ref_branch,
            draft=not opts.ready,
            issue=opts.issue,
            branch=branch,
        )
        _say(f"pushed {out.commit[:12]} to the branch {out.branch}")
        if not opts.base and delivery.ref_branch:
            _say(f"the pull request goes into {delivery.ref_branch} (--ref); --base changes that")
        _say(
            f"pull request #{out.pr_number} {'opened' if out.created else 'updated'}: {out.pr_url}"
        )
        return out
    out = publish.publish_branch(result, delivery.opened, branch=opts.branch, push=opts.push)
    _say(f"{'pushed' if opts.push else 'created'} the branch {out.branch} at {out.commit[:12]}")
    return out


def _pr_branch(opts: DeliveryOptions) -> str | None:
    """--branch NAME, else tinygen/issue-N with --issue N, else None (a generated name)."""
    return opts.branch or (f"tinygen/issue-{opts.issue}" if opts.issue else None)


def _published(out: PublishResult) -> dict[str, Any]:
    return {
        "branch": out.branch,
        "commit": out.commit,
        "pr_url": out.pr_url,
        "pr_number": out.pr_number,
        "pr_created": out.created,
    }


def deliver_failed_run(delivery: Delivery, run_id: str, error: TinygenError) -> None:
    """The pipeline raised after it had a diff (saved in the run record): with --branch,
    --push or --pr, deliver that diff as a failed run (a draft), so the work is not lost."""
    opts = delivery.opts
    if not (opts.commits and opts.to_pr is None):
        return
    result = failed_result(delivery.opened.root, run_id, error)
    if result is None:
        return
    try:
        deliver(delivery, result)
    except TinygenError as exc:
        _say(f"the diff of the failed run could not be delivered either: {exc.message}")


def failed_result(root: Path, run_id: str, error: TinygenError) -> RunResult | None:
    """A FAILED RunResult from run ``run_id``'s record, if it saved a diff."""
    from tinygen.models import Plan, PlanItem, RunResult, Status
    from tinygen.repo.git import state_dir
    from tinygen.runs import load_run, runs_root

    folder = runs_root(state_dir(root)) / run_id
    diff_file = folder / "diff.patch"
    if not diff_file.is_file():
        return None
    try:
        data = load_run(state_dir(root), run_id)
    except TinygenError:
        data = {}
    raw = data.get("plan") if isinstance(data.get("plan"), dict) else None
    plan = None
    if raw:
        items = tuple(
            PlanItem(str(f.get("path")), f.get("action", "modify"), str(f.get("intent", "")))
            for f in raw.get("files") or []
            if isinstance(f, dict)
        )
        plan = Plan(str(raw.get("summary", "")), str(raw.get("title", "")), items)
    return RunResult(
        run_id=run_id,
        status=Status.FAILED,
        message=error.message,
        diff=diff_file.read_text("utf-8"),
        plan=plan,
        model=str(data.get("model") or ""),
        base_commit=str(data.get("base_commit") or ""),
        diff_path=str(diff_file),
    )


# --- `tinygen apply --branch/--push/--pr/--to-pr` ----------------------------------------------


def deliver_patch(
    text: str, source: str, repo: str, opts: DeliveryOptions
) -> tuple[dict[str, Any], TinygenError | None]:
    """Commit a diff the user already has (placed by content on HEAD, or on the pull
    request's head for --to-pr) instead of writing it into the working tree. The diff goes
    through the same validation gate as a run's, and gets a run record of its own.

    Returns the --json report (``"status"`` is the gate's verdict: ``unverified`` or
    ``invalid``) and the delivery's error, if any, for the caller to raise after printing."""
    from tinygen.config import load_settings
    from tinygen.models import Plan, PlanItem, RunResult, Status
    from tinygen.patch import apply_patch, canonical_diff
    from tinygen.repo.clone import open_repository
    from tinygen.repo.git import repo_root, state_dir
    from tinygen.repo.texts import texts_at
    from tinygen.runs import RunRecorder, runs_root
    from tinygen.validate import PathPolicy, run_gate

    opened = open_repository(str(repo_root(repo)))
    delivery = prepare(opts, opened)
    root, target = opened.root, delivery.target_commit
    settings = load_settings(root, commit=opened.base_commit)
    policy = PathPolicy(settings.protected_paths, settings.allowed_paths)
    files = texts_at(root, target)
    placed = apply_patch(files, text, known_paths=list(files))
    diff = canonical_diff(placed.before, placed.after)
    if not diff:
        _say("nothing to deliver: every hunk is already present")
        return {"status": "no_change", "delivery": {"skipped": "no change"}}, None
    gate = run_gate(root, target, diff, policy)
    # the file's name only: a local path says nothing to reviewers and may be private
    shown = Path(source).name if source != "-" else "standard input"
    record = RunRecorder(runs_root(state_dir(root)))
    items = tuple(
        PlanItem(
            path,
            "create"
            if placed.before.get(path) is None
            else ("delete" if after is None else "modify"),
            f"as in {shown}",
        )
        for path, after in sorted(placed.after.items())
        if after != placed.before.get(path)
    )
    names = ", ".join(i.path for i in items)
    title = f"Apply {shown if source != '-' else 'a patch'} to {names}"
    result = RunResult(
        run_id=record.run_id,
        status=Status.UNVERIFIED if gate.ok else Status.INVALID,
        message="applied from a diff; not reviewed" if gate.ok else gate.summary(),
        diff=diff,
        plan=Plan(
            summary=f"The change from {shown}, applied with `tinygen apply`.",
            title=title,
            files=items,
        ),
        validation=gate.to_dict(),
        base_commit=target,
    )
    result.diff_path = str(record.write_text("diff.patch", diff))
    record.update(
        request={"text": f"tinygen apply {shown}", "source": "prompt"},
        result=result.to_dict(),
        status=str(result.status),
    )
    if not gate.ok:
        _say(f"{gate.summary()}\n(delivered all the same, marked {result.status})")
    out, error = deliver_reporting(delivery, result)
    out["delivery"]["diff"] = diff
    return {"status": str(result.status), **out}, error
