"""`tinygen action`: event → decision → pipeline → delivery → feedback on GitHub.

    load_event ─► decide ─► authorize (API reads) ─► 👀 + status comment
        ─► open the repository (clone of GITHUB_SERVER_URL/GITHUB_REPOSITORY)
        ─► pipeline.run on the base (issue) or the PR head (PR comment)
        ─► publish_pr / push_to_pr ─► status comment, outputs, job summary

Branches: a request from issue N goes to ``tinygen/issue-N``. When that branch exists on
the remote (a workflow re-run, or a second ``/tinygen`` on the issue), its pull request is
open and it contains the base's tip, the run starts from its tip, so the model sees the
earlier attempt, and the new commit goes on top of it (a fast-forward, never a force push;
no commit when nothing changed); the pull request is updated rather than a second one
opened. A branch whose pull request was closed or merged, or that the base moved past, is
left alone: the run starts from the base on ``tinygen/issue-N-2`` (``-3``, ...). A failed
change for a pull request goes to ``tinygen/pr-N-attempt-<run id>``, never to its head.
Configuration always comes from the base branch, never from a PR's head or tinygen's own
branch.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tinygen.action.decide import ActionConfig, Decision, authorize, decide, is_bot
from tinygen.action.event import Event, load_event
from tinygen.action.outputs import StepIO
from tinygen.action.status import StatusComment, diff_block, reply, result_lines
from tinygen.errors import ConfigError, ExitCode, RepoError, TinygenError
from tinygen.redact import redact

if TYPE_CHECKING:
    from tinygen.config import Settings
    from tinygen.github import Forge, GitHubForge
    from tinygen.models import RunResult
    from tinygen.repo.clone import OpenedRepo

WORKFLOWS = ".github/workflows/**"
OK_STATUSES = ("approved", "unverified")


@dataclass
class Outcome:
    """How the step ended: ``status`` is the Action's output (pr-opened, pr-updated,
    no-change, skipped, failed)."""

    status: str
    reason: str
    pr_url: str | None = None
    branch: str | None = None
    diff_path: str | None = None
    run_id: str | None = None
    cost_usd: float | None = None
    exit_code: int = ExitCode.OK


@dataclass(frozen=True)
class _Context:
    env: Mapping[str, str]
    event: Event
    config: ActionConfig
    decision: Decision
    forge: Forge
    token: str | None
    io: StepIO
    status: StatusComment


def run_url(env: Mapping[str, str]) -> str | None:
    server, repo, run_id = (
        env.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/"),
        env.get("GITHUB_REPOSITORY"),
        env.get("GITHUB_RUN_ID"),
    )
    return f"{server}/{repo}/actions/runs/{run_id}" if repo and run_id else None


def make_forge(env: Mapping[str, str]) -> GitHubForge:
    """The forge for GITHUB_API_URL with GITHUB_TOKEN. TINYGEN_GITHUB_PACING=0 turns off the
    pause between requests that GitHub.com advises (for GHES without secondary limits, and
    the tests' local server)."""
    from tinygen.github import ForgePolicy, GitHubForge

    policy = ForgePolicy()
    pacing = env.get("TINYGEN_GITHUB_PACING", "").strip()
    if pacing:
        try:
            seconds = float(pacing)
        except ValueError as exc:
            raise ConfigError(f"TINYGEN_GITHUB_PACING={pacing!r} is not a number") from exc
        policy = dataclasses.replace(
            policy,
            seconds_between_requests=seconds / 4,
            seconds_between_writes=seconds,
            backoff=min(policy.backoff, seconds),
        )
    # "" (not None): never fall back to a token from another variable
    return GitHubForge(
        token=env.get("GITHUB_TOKEN") or "", api_url=env.get("GITHUB_API_URL"), policy=policy
    )


def run_action(
    env: Mapping[str, str],
    io: StepIO,
    *,
    dry_run: bool = False,
    forge: Forge | None = None,
) -> Outcome:
    """Handle the workflow's event. Never raises TinygenError: every end is an Outcome
    whose status and reason are logged, written as outputs and summarized."""
    try:
        dry_run = dry_run or dry_run_requested(env)
        config = ActionConfig.from_env(env)
        event = load_event(env)
    except TinygenError as exc:
        outcome = Outcome("failed", str(exc), exit_code=exc.exit_code)
        io.annotate("error", str(exc))
        _finish(io, outcome, None, None)
        return outcome
    decision = decide(event, config)
    token = env.get("GITHUB_TOKEN") or None
    if dry_run:
        return _dry_run(env, io, event, config, decision, token, forge)

    io.log(f"event {event.name}/{event.action} by @{event.actor}: {decision.reason}")
    if decision.would == "skip" and not decision.reply:
        outcome = Outcome("skipped", decision.reason)
        _finish(io, outcome, event, decision)
        return outcome

    try:
        forge = forge or make_forge(env)
    except TinygenError as exc:
        outcome = Outcome("failed", str(exc), exit_code=exc.exit_code)
        _finish(io, outcome, event, decision)
        return outcome
    status = StatusComment(forge, event.repository, decision.number, run_url(env), io)
    ctx = _Context(env, event, config, decision, forge, token, io, status)
    try:
        # before any reply: only people allowed to use tinygen get an answer
        decision = authorize(decision, event, config, forge)
    except TinygenError as exc:
        if decision.would == "skip":  # the answer to a skip is not worth a failure
            io.annotate("warning", f"could not check the permission to answer: {exc}")
            outcome = Outcome("skipped", decision.reason)
            _finish(io, outcome, event, decision)
            return outcome
        # best effort: say so on GitHub too (never to a bot)
        return _failed(ctx, exc, None, None, comment=not is_bot(event))
    ctx = dataclasses.replace(ctx, decision=decision)
    if decision.would == "skip":
        io.log(f"skipped: {decision.reason}")
        if decision.reply and decision.number is not None:
            reply(forge, event.repository, decision.number, f"🚫 {decision.reason}.", io)
        outcome = Outcome("skipped", decision.reason)
        _finish(io, outcome, event, decision)
        return outcome

    _acknowledge(ctx)
    status.start()
    return _work(ctx)


def _dry_run(
    env: Mapping[str, str],
    io: StepIO,
    event: Event,
    config: ActionConfig,
    decision: Decision,
    token: str | None,
    forge: Forge | None,
) -> Outcome:
    """Decide only: API reads when a token is given, no writes, no LLM call."""
    if decision.would != "skip":
        if token or forge is not None:
            try:
                decision = authorize(decision, event, config, forge or make_forge(env))
            except TinygenError as exc:
                decision = decision.skip(f"could not check on GitHub: {exc.message}")
        else:
            decision = dataclasses.replace(
                decision,
                reason=decision.reason + " (permission not checked: no github-token)",
            )
    data = decision.to_json(event)
    text = json.dumps(data, ensure_ascii=False)
    print(redact(text))
    io.set_output("decision", text)
    outcome = Outcome("skipped", f"dry run: would {decision.would} ({decision.reason})")
    _finish(io, outcome, event, decision)
    return outcome


def _acknowledge(ctx: _Context) -> None:
    """👀 on what triggered the run, at once."""
    event, decision = ctx.event, ctx.decision
    try:
        if decision.trigger == "comment" and event.comment_id:
            ctx.forge.react(event.repository, event.comment_id, "eyes")
        elif decision.number is not None:
            ctx.forge.react_issue(event.repository, decision.number, "eyes")
    except TinygenError as exc:
        ctx.io.annotate("warning", f"could not add the 👀 reaction: {exc}")


def _repo_url(ctx: _Context) -> str:
    # TINYGEN_REPO_URL: for tests (a local bare repository) and self-hosted mirrors
    override = ctx.env.get("TINYGEN_REPO_URL")
    if override:
        return override
    server = ctx.env.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
    return f"{server}/{ctx.event.repository}.git"


def _settings(ctx: _Context, opened: OpenedRepo) -> Settings:
    from tinygen.config import load_settings

    def lines(name: str) -> tuple[str, ...]:
        text = ctx.env.get(f"TINYGEN_INPUT_{name}", "")
        return tuple(v.strip() for v in text.replace(",", "\n").splitlines() if v.strip())

    checks = tuple(
        v.strip() for v in ctx.env.get("TINYGEN_INPUT_CHECKS", "").splitlines() if v.strip()
    )
    overrides: dict[str, Any] = {
        "model": ctx.env.get("TINYGEN_INPUT_MODEL", "").strip() or None,
        "max_rounds": ctx.env.get("TINYGEN_INPUT_MAX_ROUNDS", "").strip() or None,
        "checks": checks,
        "allowed_paths": lines("ALLOWED_PATHS"),
        "protected_paths": lines("PROTECTED_PATHS"),
    }
    settings = load_settings(opened.root, overrides, commit=opened.base_commit)
    # Workflows stay protected whatever the repository or the inputs say, unless the
    # allowed-paths input (the workflow file, not the repository) exempts them.
    if WORKFLOWS not in settings.protected_paths:
        settings = settings.replace(protected_paths=(*settings.protected_paths, WORKFLOWS))
    return settings


@dataclass
class _Plan:
    opened: OpenedRepo
    target_commit: str
    branch: str | None  # the stable branch for an issue, None: publish chooses
    pr_number: int | None  # the pull request the commit goes to (push_to_pr), if any
    pr_url: str | None
    settings: Settings | None = None


MAX_ISSUE_BRANCHES = 50  # tinygen/issue-N, -2, ... -50


def _issue_branches(root: Any, url: str, number: int, token: str | None) -> dict[str, str]:
    """tinygen/issue-N and tinygen/issue-N-<k> on the remote: {branch: tip}."""
    from tinygen.repo.auth import token_for
    from tinygen.repo.network import git_network

    base = f"refs/heads/tinygen/issue-{number}"
    listing = git_network(
        ["ls-remote", "--heads", "--end-of-options", url, base, f"{base}-*"],
        root,
        url=url,
        token=token_for(url, token),
        what=f"look for the branches of issue #{number}",
    )
    tips = {}
    for line in listing.splitlines():
        sha, _, ref = line.partition("\t")
        if ref.startswith("refs/heads/"):
            tips[ref.removeprefix("refs/heads/")] = sha
    return tips


BRANCH_HISTORY = 100  # commits fetched of a tinygen branch, to see whether it has the base


def _issue_branch(ctx: _Context, opened: OpenedRepo, url: str, number: int) -> _Plan:
    """The branch for issue ``number``: ``tinygen/issue-N`` (then ``-2``, ``-3``, ...).

    An existing one is built on only while its pull request is open and it contains the
    base's tip; one whose pull request was closed or merged, or that the base has moved
    past, is left as it is, and the next name is tried: the first name not on the remote
    starts afresh from the base."""
    from tinygen.delivery.gitops import checkout_pr_head
    from tinygen.repo.git import git_bytes

    tips = _issue_branches(opened.root, url, number, ctx.token)
    for k in range(1, MAX_ISSUE_BRANCHES + 1):
        branch = f"tinygen/issue-{number}" + (f"-{k}" if k > 1 else "")
        if branch not in tips:
            return _Plan(opened, opened.base_commit, branch, None, None)
        pull = ctx.forge.find_open_pull(ctx.event.repository, branch)
        if pull is None:
            ctx.io.log(f"{branch} has no open pull request (closed or merged): not reused")
            continue
        tip = checkout_pr_head(
            opened.root,
            remote_url_or_name=url,
            head_ref=branch,
            token=ctx.token,
            depth=BRANCH_HISTORY,
        )
        contains = git_bytes(
            ["merge-base", "--is-ancestor", opened.base_commit, tip], opened.root, check=False
        )
        if contains.returncode != 0:
            ctx.io.log(f"{branch} does not contain the base's tip: not reused ({pull.html_url})")
            continue
        ctx.io.log(f"{branch} has the open pull request {pull.html_url}: the change goes on top")
        return _Plan(opened, tip, branch, None, pull.html_url)
    raise RepoError(
        f"issue #{number} already has {MAX_ISSUE_BRANCHES} tinygen branches that cannot be reused",
        hint=f"delete old tinygen/issue-{number}-* branches",
    )


def _prepare(ctx: _Context) -> _Plan:
    from tinygen.repo.clone import open_repository

    url = _repo_url(ctx)
    decision, full_name = ctx.decision, ctx.event.repository
    ctx.status.progress("setup", f"fetching {redact(url)}")
    if decision.target == "pr":
        assert decision.number is not None
        from tinygen.delivery.gitops import checkout_pr_head

        pull = ctx.forge.pull(full_name, decision.number)
        # the PR's base branch gives the configuration; its head gets the change
        opened = open_repository(url, ref=pull.base_ref, token=ctx.token)
        head = checkout_pr_head(
            opened.root, remote_url_or_name=url, head_ref=pull.head_ref, token=ctx.token
        )
        return _Plan(opened, head, pull.head_ref, decision.number, pull.html_url)
    opened = open_repository(url, ref=ctx.config.base_branch, token=ctx.token)
    if decision.number is None:
        return _Plan(opened, opened.base_commit, None, None, None)
    return _issue_branch(ctx, opened, url, decision.number)


def _work(ctx: _Context) -> Outcome:
    from tinygen.runs import new_run_id

    run_id = new_run_id()
    plan: _Plan | None = None
    try:
        plan = _prepare(ctx)
        result = _run_pipeline(ctx, plan, run_id)
    except TinygenError as exc:
        return _failed(ctx, exc, plan, run_id)
    except Exception as exc:  # a bug: still finish the status comment, then show it
        _failed(ctx, _internal(exc), plan, run_id)
        raise
    try:
        return _deliver(ctx, plan, result)
    except TinygenError as exc:
        return _failed(ctx, exc, plan, run_id, result=result)
    except Exception as exc:
        _failed(ctx, _internal(exc), plan, run_id, result=result)
        raise


def _internal(exc: Exception) -> TinygenError:
    return TinygenError(
        f"internal error ({type(exc).__name__})",
        hint="this is a bug in tinygen: please report it with the run id and the workflow log",
    )


def _run_pipeline(ctx: _Context, plan: _Plan, run_id: str) -> RunResult:
    from tinygen import pipeline
    from tinygen.llm import AnthropicProvider, default_model
    from tinygen.models import Request

    settings = plan.settings = _settings(ctx, plan.opened)
    model = settings.model or default_model()
    provider = AnthropicProvider(
        model=model,
        max_retry_wait=settings.max_retry_wait,
        max_retry_total=settings.max_retry_total,
        timeout=settings.request_timeout,
    )
    decision = ctx.decision
    source = {"label": "issue", "comment": "comment", "dispatch": "dispatch"}[
        decision.trigger or "dispatch"
    ]
    request = Request(
        decision.request,
        source=source,  # type: ignore[arg-type]
        issue_number=decision.number if decision.target == "issue" else None,
    )
    return pipeline.run(
        request,
        pipeline.Target(plan.opened.root, plan.target_commit),
        settings,
        provider,
        model=model,
        progress=ctx.status.progress,
        run_id=run_id,
    )


def _publish(ctx: _Context, plan: _Plan, result: RunResult) -> tuple[str, str | None, str]:
    """Deliver ``result``: (status, pr url, branch)."""
    from tinygen.delivery.publish import publish_pr, push_to_pr

    ctx.status.progress("deliver", "pushing")
    full_name = ctx.event.repository
    if plan.pr_number is not None:
        pushed = push_to_pr(
            result,
            plan.opened,
            ctx.forge,
            full_name=full_name,
            number=plan.pr_number,
            token=ctx.token,
        )
        return "pr-updated", pushed.pr_url or plan.pr_url, pushed.branch
    published = publish_pr(
        result,
        plan.opened,
        ctx.forge,
        full_name=full_name,
        base=ctx.config.base_branch or plan.opened.default_branch,
        draft=ctx.config.draft,
        issue=ctx.decision.number if ctx.decision.target == "issue" else None,
        branch=plan.branch,
        token=ctx.token,
    )
    return ("pr-opened" if published.created else "pr-updated"), published.pr_url, published.branch


def _deliver(ctx: _Context, plan: _Plan, result: RunResult) -> Outcome:
    base = Outcome(
        "no-change",
        result.message,
        pr_url=plan.pr_url,  # an existing pull request stays the place to look
        branch=plan.branch if plan.pr_url else None,
        run_id=result.run_id,
        diff_path=result.diff_path,
        cost_usd=result.cost_usd,
    )
    ok = str(result.status) in OK_STATUSES
    if not result.diff:
        if ok or str(result.status) == "no_change":
            where = f" The pull request stays as it is: {plan.pr_url}" if plan.pr_url else ""
            ctx.status.finish(
                f"✅ **tinygen**: no change needed — {result.message}.{where}", result.run_id
            )
            _finish(ctx.io, base, ctx.event, ctx.decision)
            return base
        return _failed(ctx, TinygenError(result.message), plan, result.run_id, result=result)
    if not ok and ctx.decision.target == "pr":
        # never push an unapproved change onto someone's pull request: show it instead
        return _failed(ctx, TinygenError(result.message), plan, result.run_id, result=result)
    status, pr_url, branch = _publish(ctx, plan, result)
    outcome = dataclasses.replace(base, status=status, pr_url=pr_url, branch=branch)
    if not ok:
        outcome.status, outcome.exit_code = "failed", _exit_for(result)
        outcome.reason = f"{result.status}: {result.message}"
        ctx.status.finish(
            f"⚠️ **tinygen** could not finish: {result.message}\n\n"
            f"The attempt is on the branch `{branch}` as a draft: {pr_url}\n\n"
            + "\n".join(result_lines(result)),
            result.run_id,
        )
        ctx.io.annotate("error", outcome.reason)
    else:
        title = result.plan.title if result.plan else "the change"
        verb = {
            "pr-opened": f"opened {pr_url}",
            "pr-updated": f"updated {pr_url}",
        }[status]
        if ctx.decision.target == "pr":
            verb = f"pushed a new commit to `{branch}`"
        ctx.status.finish(
            f"✅ **tinygen** {verb}: {title}\n\n" + "\n".join(result_lines(result)),
            result.run_id,
        )
    _finish(ctx.io, outcome, ctx.event, ctx.decision)
    return outcome


def _exit_for(result: RunResult) -> int:
    return int(result.status.exit_code)


def _saved_diff(plan: _Plan | None, run_id: str | None) -> str:
    if plan is None or run_id is None:
        return ""
    from tinygen.repo.git import state_dir
    from tinygen.runs import runs_root

    path = runs_root(state_dir(plan.opened.root)) / run_id / "diff.patch"
    return path.read_text("utf-8") if path.is_file() else ""


def _failed(
    ctx: _Context,
    exc: TinygenError,
    plan: _Plan | None,
    run_id: str | None,
    *,
    result: RunResult | None = None,
    comment: bool = True,
) -> Outcome:
    """Report a failure; when a diff exists, push it (issue targets) or show it (PR targets)."""
    outcome = Outcome(
        "failed",
        exc.message,
        run_id=run_id,
        exit_code=int(exc.exit_code) if exc.exit_code != ExitCode.OK else 1,
    )
    if result is not None:
        outcome.exit_code = _exit_for(result) or 1
        outcome.diff_path = result.diff_path
    diff = result.diff if result is not None else _saved_diff(plan, run_id)
    saved = ""
    on_pr = ctx.decision.target == "pr"
    if diff and plan is not None and (on_pr or result is None):
        saved = _push_attempt(ctx, plan, exc, diff, run_id, outcome, result)
    hint = f"\n\nWhat to do: {exc.hint}" if exc.hint else ""
    shown = "" if saved and not on_pr else diff_block(diff)
    ctx.io.annotate("error", str(exc))
    if comment:
        ctx.status.finish(
            f"❌ **tinygen** failed: {exc.message}{hint}{saved}"
            + (f"\n\n{shown}" if shown else "")
            + ("\n\nSee the workflow logs for details." if ctx.status.run_url else ""),
            run_id,
        )
    _finish(ctx.io, outcome, ctx.event, ctx.decision)
    return outcome


def _push_attempt(
    ctx: _Context,
    plan: _Plan,
    exc: TinygenError,
    diff: str,
    run_id: str | None,
    outcome: Outcome,
    result: RunResult | None = None,
) -> str:
    """Push the diff of a failed run, so no work is lost (never one the path policy
    refuses); '' when that fails too. For an issue: the draft pull request on its branch.
    For a pull request: a branch of its own, ``tinygen/pr-N-attempt-<run id>`` — the pull
    request's head is never touched."""
    from tinygen.delivery.publish import publish_branch
    from tinygen.models import RunResult, Status
    from tinygen.validate import PathPolicy, run_gate

    try:
        if result is None:
            settings = plan.settings or _settings(ctx, plan.opened)
            policy = PathPolicy(protected=settings.protected_paths, allowed=settings.allowed_paths)
            gate = run_gate(plan.opened.root, plan.target_commit, diff, policy)
            result = RunResult(
                run_id=run_id or "",
                status=Status.FAILED,
                message=exc.message,
                diff=diff,
                validation=gate.to_dict(),
                base_commit=plan.target_commit,
            )
        if ctx.decision.target == "pr":
            branch = f"tinygen/pr-{plan.pr_number}-attempt-{run_id or result.run_id}"
            publish_branch(result, plan.opened, branch=branch, push=True, token=ctx.token)
            outcome.branch = branch
            return f"\n\nThe attempt is on the branch `{branch}`, not on the pull request" + (
                f": {_compare_url(ctx, plan.branch, branch)}" if plan.branch else ""
            )
        _status, pr_url, branch = _publish(ctx, plan, result)
    except TinygenError as err:
        ctx.io.annotate("warning", f"could not push the attempt: {err}")
        return ""
    outcome.pr_url, outcome.branch = pr_url, branch
    return f"\n\nThe attempt so far is on the branch `{branch}` (draft): {pr_url}"


def _compare_url(ctx: _Context, base: str, head: str) -> str:
    server = ctx.env.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
    return f"{server}/{ctx.event.repository}/compare/{base}...{head}"


def _finish(io: StepIO, outcome: Outcome, event: Event | None, decision: Decision | None) -> None:
    """Outputs, job summary and the final log line."""
    io.set_output("status", outcome.status)
    io.set_output("pr-url", outcome.pr_url or "")
    io.set_output("branch", outcome.branch or "")
    io.set_output("diff-path", outcome.diff_path or "")
    io.set_output("run-id", outcome.run_id or "")
    io.log(f"status: {outcome.status}: {outcome.reason}")
    rows = [("Status", f"**{outcome.status}**"), ("Reason", outcome.reason)]
    if event is not None:
        rows.insert(0, ("Event", f"`{event.name}/{event.action}` by @{event.actor}"))
        if decision is not None and decision.number is not None:
            kind = "pull request" if decision.target == "pr" else "issue"
            rows.insert(1, ("Target", f"{kind} #{decision.number}"))
    for name, value in (
        ("Pull request", outcome.pr_url),
        ("Branch", f"`{outcome.branch}`" if outcome.branch else None),
        ("Run id", f"`{outcome.run_id}`" if outcome.run_id else None),
        ("Cost", f"${outcome.cost_usd:.4f}" if outcome.cost_usd is not None else None),
    ):
        if value:
            rows.append((name, value))
    table = "\n".join(f"| {k} | {_cell(v)} |" for k, v in rows)
    io.summary(f"### tinygen\n\n| | |\n|---|---|\n{table}\n")


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def dry_run_requested(env: Mapping[str, str]) -> bool:
    value = env.get("TINYGEN_INPUT_DRY_RUN", "").strip().lower()
    if value not in ("", "true", "false"):
        raise ConfigError(f"dry-run must be true or false, not {value!r}")
    return value == "true"


__all__ = ["Outcome", "dry_run_requested", "make_forge", "run_action", "run_url"]
