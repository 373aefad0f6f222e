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

A push to the default branch with refresh-summaries on takes another road after the
preflight: no API call, no comment; the branch is cloned and its missing summaries made
(refresh.py). Every road restores the summaries from the folder action.yml caches
(state.py); a refresh keeps what it made there, an issue or comment run only the
summaries it made itself before the repository's checks ran (and only with
``summaries = "auto"``).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tinygen.action.decide import ActionConfig, Decision, authorize, decide, is_bot
from tinygen.action.event import Event, load_event
from tinygen.action.outputs import StepIO
from tinygen.action.preflight import preflight, repo_url, setting_overrides
from tinygen.action.refresh import refresh_summaries
from tinygen.action.state import Carried, MadeHere, keep_made_cache, restore_cache
from tinygen.action.status import (
    StatusComment,
    diff_block,
    error_text,
    remedy,
    reply,
    result_lines,
)
from tinygen.delivery.options import DeliveryOptions
from tinygen.delivery.prepare import prepare
from tinygen.env import action_input, api_url, github_token, server_url, workflow_repository
from tinygen.errors import ConfigError, ExitCode, TinygenError
from tinygen.github import ForgePolicy, GitHubForge
from tinygen.github.app import (
    WORKFLOW_TOKEN_NOTE,
    app_credentials,
    installation_token,
    starts_no_ci,
)
from tinygen.models import Request, Status
from tinygen.pipeline import CI_EXIT, open_workspace, run_and_deliver
from tinygen.redact import redact
from tinygen.repo.clone import open_repository
from tinygen.runs import new_run_id

if TYPE_CHECKING:
    from tinygen.config import Settings
    from tinygen.delivery.deliver import Delivered
    from tinygen.delivery.prepare import Prepared
    from tinygen.github import Forge
    from tinygen.pipeline import Outcome as Done
    from tinygen.pipeline import Workspace

WORKFLOWS = ".github/workflows/**"


@dataclass
class Outcome:
    """How the step ended: ``status`` is the Action's output (pr-opened, pr-updated,
    no-change, summaries-refreshed, skipped, failed)."""

    status: str
    reason: str
    pr_url: str | None = None
    branch: str | None = None
    diff_path: str | None = None
    run_id: str | None = None
    cost_usd: float | None = None
    exit_code: int = ExitCode.OK
    ci: str | None = None  # the repository's CI on the pushed commit, when waited for
    summaries: str | None = None  # a summary refresh's report line


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
    minted: bool = False  # the token is a GitHub App installation token tinygen minted


def run_url(env: Mapping[str, str]) -> str | None:
    server, repo, run_id = server_url(env), workflow_repository(env), env.get("GITHUB_RUN_ID")
    return f"{server}/{repo}/actions/runs/{run_id}" if repo and run_id else None


def make_forge(env: Mapping[str, str], token: str | None = None) -> GitHubForge:
    """The forge for GITHUB_API_URL with GITHUB_TOKEN. TINYGEN_GITHUB_PACING=0 turns off the
    pause between requests that GitHub.com advises (for GHES without secondary limits, and
    the tests' local server)."""

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
        token=token or github_token(env, gh_token=False) or "",
        api_url=api_url(env),
        policy=policy,
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
        return _stopped(io, exc, None, None)
    decision = decide(event, config)
    token = github_token(env, gh_token=False)
    if dry_run:
        return _dry_run(env, io, event, config, decision, token, forge)

    io.log(f"event {_kind(event)} by @{event.actor}: {decision.reason}")
    if decision.would == "skip" and not decision.reply:
        outcome = Outcome("skipped", decision.reason)
        _finish(io, outcome, event, decision)
        return outcome

    minted = False
    try:
        app = app_credentials(action_input(env, "APP_ID"), action_input(env, "PRIVATE_KEY"))
        # before any network call: what the environment alone can tell (token, key, inputs,
        # addresses), so nothing is posted for a run that cannot go ahead
        preflight(env, event, decision, token=token, app=app, forge_given=forge is not None)
        if app is not None and forge is None:
            # the App's installation token starts the repository's CI on what tinygen pushes
            token, minted = installation_token(app, event.repository, api_url(env)), True
        if decision.would == "refresh_summaries":  # no API call, no comment: the clone only
            return _refresh(env, io, event, decision, token)
        forge = forge or make_forge(env, token)
    except TinygenError as exc:
        return _stopped(io, exc, event, decision)
    status = StatusComment(forge, event.repository, decision.number, run_url(env), io)
    ctx = _Context(env, event, config, decision, forge, token, io, status, minted)
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


def _stopped(
    io: StepIO, exc: TinygenError, event: Event | None, decision: Decision | None
) -> Outcome:
    """A failure before the status comment: the log, an annotation, outputs, the summary."""
    text = error_text(exc)
    outcome = Outcome("failed", text, exit_code=exc.exit_code)
    io.annotate("error", text)
    _finish(io, outcome, event, decision)
    return outcome


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


def _refresh(
    env: Mapping[str, str], io: StepIO, event: Event, decision: Decision, token: str | None
) -> Outcome:
    """Make the summaries the default branch's tip is missing; exit as ``tinygen
    summarize`` does (the cost limit's code when it stopped the build, what was made kept)."""
    try:
        report = refresh_summaries(env, io, event, token)
    except TinygenError as exc:
        return _stopped(io, exc, event, decision)
    line = report.line()
    io.log(line)
    outcome = Outcome("summaries-refreshed", line, cost_usd=report.cost_usd, summaries=line)
    for failure in report.failures[:5]:
        io.log(f"  {failure.path or '(overview)'}: {failure.error}")
    problem = report.stopped or (report.failures[0].error if report.failures else None)
    if problem is not None:
        outcome.status, outcome.reason = "failed", f"{problem.message}; {line}"
        outcome.exit_code = int(problem.exit_code) or 1
        io.annotate("error", outcome.reason)
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
    return repo_url(ctx.env, ctx.event.repository)


def _protect_workflows(settings: Settings) -> Settings:
    """Workflows stay protected whatever the repository or the inputs say, unless the
    allowed-paths input (the workflow file, not the repository) exempts them."""
    if WORKFLOWS not in settings.protected_paths:
        settings = settings.replace(protected_paths=(*settings.protected_paths, WORKFLOWS))
    return settings


def _prepare(ctx: _Context) -> tuple[Workspace, Prepared, Carried]:
    """Open the repository (configuration always from the base branch) and prepare the
    delivery: a new commit on the pull request's head (a failed change goes to an attempt
    branch), or a pull request from the issue's follow-up branch. With them, what the
    workflow's cache held (restored into the clone)."""

    url = _repo_url(ctx)
    decision, full_name = ctx.decision, ctx.event.repository
    ctx.status.progress("setup", f"fetching {redact(url)}")
    opts = _delivery_options(ctx)
    if decision.target == "pr":
        assert decision.number is not None
        pull = ctx.forge.pull(full_name, decision.number)
        opened = open_repository(url, ref=pull.base_ref, token=ctx.token)
    else:
        opened = open_repository(url, ref=ctx.config.base_branch, token=ctx.token)
    prepared = prepare(opts, opened, forge=ctx.forge, token=ctx.token, full_name=full_name)
    for note in prepared.notes:
        ctx.io.log(note)
    carried = restore_cache(ctx.env, ctx.io, prepared.opened.root)  # what pushes made
    workspace = open_workspace(
        prepared.opened, overrides=setting_overrides(ctx.env), adjust=_protect_workflows
    )
    return workspace, prepared, carried


def _delivery_options(ctx: _Context) -> DeliveryOptions:
    """What the decision asks delivery to do, checked by the library's rules (the ones the
    command line's options follow) before anything is fetched."""
    decision = ctx.decision
    if decision.target == "pr":
        opts = DeliveryOptions(
            to_pr=decision.number, attempt_branch=True, wait_checks=_wait_checks(ctx)
        )
    else:
        opts = DeliveryOptions(
            pr=True,
            base=ctx.config.base_branch or None,
            ready=not ctx.config.draft,
            issue=decision.number if decision.target == "issue" else None,
            follow_up=True,
            wait_checks=_wait_checks(ctx),
        )
    return opts.validate()


def _request(ctx: _Context) -> Request:
    decision = ctx.decision
    source = {"label": "issue", "comment": "comment", "dispatch": "dispatch"}[
        decision.trigger or "dispatch"
    ]
    return Request(
        decision.request,
        source=source,  # type: ignore[arg-type]
        issue_number=decision.number if decision.target == "issue" else None,
    )


def _work(ctx: _Context) -> Outcome:

    run_id = new_run_id()
    prepared: Prepared | None = None
    try:
        workspace, prepared, carried = _prepare(ctx)
        ctx.status.progress("run", "running")
        # summaries = "auto" may make some: the next runs find them. Only those, taken
        # before the repository's checks ran (which could write anything there): state.py
        auto = workspace.settings.summaries == "auto"
        made = MadeHere(workspace.opened.root, carried, auto=auto)
        try:
            done = run_and_deliver(
                _request(ctx),
                workspace,
                prepared,
                progress=made.watch(ctx.status.progress),
                run_id=run_id,
            )
        finally:
            keep_made_cache(ctx.io, made)
    except TinygenError as exc:
        return _failed(ctx, exc, prepared, run_id)
    except Exception as exc:  # a bug: still finish the status comment, then show it
        _failed(ctx, _internal(exc), prepared, run_id)
        raise
    if done.error is not None:
        partial = done.error.partial
        return _failed(
            ctx,
            done.error,
            prepared,
            run_id,
            done=done,
            diff=partial.diff if partial is not None else "",
        )
    return _report(ctx, prepared, done)


def _internal(exc: Exception) -> TinygenError:
    return TinygenError(
        f"internal error ({type(exc).__name__})",
        hint="this is a bug in tinygen: please report it with the run id and the workflow log",
    )


def _report(ctx: _Context, prepared: Prepared, done: Done) -> Outcome:
    """A run that got to its end: no change (exit 0), a delivery that failed, or what was
    pushed. The exit code is the pipeline's (the run's, then the delivery's, then CI's)."""
    result, delivered = done.result, done.delivered
    assert result is not None
    base = Outcome(
        "no-change",
        result.message,
        pr_url=prepared.pr_url,  # an existing pull request stays the place to look
        branch=prepared.branch if prepared.pr_url else None,
        run_id=result.run_id,
        diff_path=result.diff_path,
        cost_usd=result.cost_usd,
    )
    ok = result.succeeded
    if not result.diff:
        if ok or result.status == Status.NO_CHANGE:
            where = (
                f" The pull request stays as it is: {prepared.pr_url}" if prepared.pr_url else ""
            )
            ctx.status.finish(
                f"✅ **tinygen**: no change needed — {result.message}.{where}", result.run_id
            )
            _finish(ctx.io, base, ctx.event, ctx.decision)
            return base
        return _failed(ctx, TinygenError(result.message), prepared, result.run_id, done=done)
    if done.delivery_error is not None:
        return _failed(ctx, done.delivery_error, prepared, result.run_id, done=done)
    assert delivered is not None
    if not ok and ctx.decision.target == "pr":
        # never an unapproved change onto someone's pull request: an attempt branch instead
        return _failed(ctx, TinygenError(result.message), prepared, result.run_id, done=done)
    pr_url, branch = delivered.pr_url or prepared.pr_url, delivered.branch
    status = "pr-opened" if delivered.pr_created else "pr-updated"
    outcome = dataclasses.replace(
        base, status=status, pr_url=pr_url, branch=branch, exit_code=done.exit_code
    )
    ci = _ci_lines(ctx, delivered, outcome)
    if not ok:
        outcome.status = "failed"
        outcome.reason = f"{result.status}: {result.message}"
        ctx.status.finish(
            f"⚠️ **tinygen** could not finish: {result.message}\n\n"
            f"The attempt is on the branch `{branch}` as a draft: {pr_url}\n\n"
            + "\n".join([*result_lines(result), *ci]),
            result.run_id,
        )
        ctx.io.annotate("error", outcome.reason)
    else:
        title = result.plan.title if result.plan else "the change"
        verb = {"pr-opened": f"opened {pr_url}", "pr-updated": f"updated {pr_url}"}[status]
        if ctx.decision.target == "pr":
            verb = f"pushed a new commit to `{branch}`"
        ctx.status.finish(
            f"✅ **tinygen** {verb}: {title}\n\n" + "\n".join([*result_lines(result), *ci]),
            result.run_id,
        )
    _finish(ctx.io, outcome, ctx.event, ctx.decision)
    return outcome


def _wait_checks(ctx: _Context) -> float | None:
    """The wait-checks input: seconds to wait for the repository's CI, or None."""
    text = action_input(ctx.env, "WAIT_CHECKS")
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not seconds > 0:
        raise ConfigError(
            f"wait-checks must be a number of seconds, not {text[:40]!r}",
            hint="leave it empty to not wait for the repository's CI",
        )
    return seconds


CI_WORDS = {
    "passed": "✅ passed",
    "failed": "❌ failed",
    "timed_out": "⏳ had not finished when tinygen stopped waiting",
    "none": "did not start",
}


def _ci_lines(ctx: _Context, delivered: Delivered, outcome: Outcome) -> list[str]:
    """The repository's CI for the status comment (and the outcome's ci); a note when the
    token's pushes start no CI. Its exit code is the pipeline Outcome's."""
    lines = []
    silent = starts_no_ci(ctx.token, ctx.minted)
    ci = delivered.ci
    if ci is not None:
        outcome.ci = ci.state
        lines.append(f"- CI on `{ci.sha[:12]}`: {CI_WORDS[ci.state]}")
        lines += [f"  - [{c.name}]({c.url}): {c.conclusion or c.state}" for c in ci.checks]
        if ci.state in CI_EXIT:
            ctx.io.annotate("error", f"the repository's CI {ci.state.replace('_', ' ')}")
    if silent and (ci is None or ci.state == "none"):
        lines.append(f"- Note: {WORKFLOW_TOKEN_NOTE}.")
    return lines


def _failed(
    ctx: _Context,
    exc: TinygenError,
    prepared: Prepared | None,
    run_id: str | None,
    *,
    done: Done | None = None,
    diff: str = "",
    comment: bool = True,
) -> Outcome:
    """Report a failure; say where the attempt was pushed (issue targets: the draft pull
    request; PR targets: an attempt branch), or show the diff. The exit code is the
    pipeline's when it ran (``done``), else the error's; a failure never exits 0."""
    code = done.exit_code if done is not None else int(exc.exit_code)
    outcome = Outcome("failed", exc.message, run_id=run_id, exit_code=code or ExitCode.INTERNAL)
    result = done.result if done is not None else None
    delivered = done.delivered if done is not None else None
    # the attempt's push failed (a delivery error beside the run's own): a warning only
    delivery_error = done.delivery_error if done is not None and done.error is not None else None
    if result is not None:
        outcome.diff_path = result.diff_path
        diff = result.diff
    elif exc.saved_diff:
        outcome.diff_path = exc.saved_diff
    saved = ""
    on_pr = ctx.decision.target == "pr"
    if delivery_error is not None:
        ctx.io.annotate("warning", f"could not push the attempt: {delivery_error}")
    elif delivered is not None and delivered.commit is not None:
        outcome.branch = delivered.branch
        if delivered.attempt and prepared is not None:
            compare = f": {_compare_url(ctx, prepared.pr_head, delivered.branch or '')}"
            saved = "\n\nThe attempt is on the branch " + (
                f"`{delivered.branch}`, not on the pull request"
                + (compare if prepared.pr_head else "")
            )
        elif not on_pr:
            outcome.pr_url = delivered.pr_url
            saved = (
                f"\n\nThe attempt so far is on the branch `{delivered.branch}` (draft): "
                f"{delivered.pr_url}"
            )
    what = remedy(exc)
    hint = f"\n\nWhat to do: {what}" if what else ""
    shown = "" if saved and not on_pr else diff_block(diff)
    ctx.io.annotate("error", error_text(exc))
    if comment:
        ctx.status.finish(
            f"❌ **tinygen** failed: {exc.message}{hint}{saved}"
            + (f"\n\n{shown}" if shown else "")
            + ("\n\nSee the workflow logs for details." if ctx.status.run_url else ""),
            run_id,
        )
    _finish(ctx.io, outcome, ctx.event, ctx.decision)
    return outcome


def _compare_url(ctx: _Context, base: str | None, head: str) -> str:
    return f"{server_url(ctx.env)}/{ctx.event.repository}/compare/{base}...{head}"


def _finish(io: StepIO, outcome: Outcome, event: Event | None, decision: Decision | None) -> None:
    """Outputs, job summary and the final log line."""
    io.set_output("status", outcome.status)
    io.set_output("pr-url", outcome.pr_url or "")
    io.set_output("branch", outcome.branch or "")
    io.set_output("diff-path", outcome.diff_path or "")
    io.set_output("run-id", outcome.run_id or "")
    io.set_output("ci", outcome.ci or "")
    io.set_output("summaries", outcome.summaries or "")
    io.log(f"status: {outcome.status}: {outcome.reason}")
    rows = [("Status", f"**{outcome.status}**"), ("Reason", outcome.reason)]
    if event is not None:
        rows.insert(0, ("Event", f"`{_kind(event)}` by @{event.actor}"))
        if decision is not None and decision.number is not None:
            kind = "pull request" if decision.target == "pr" else "issue"
            rows.insert(1, ("Target", f"{kind} #{decision.number}"))
    for name, value in (
        ("Pull request", outcome.pr_url),
        ("Branch", f"`{outcome.branch}`" if outcome.branch else None),
        ("Run id", f"`{outcome.run_id}`" if outcome.run_id else None),
        ("Cost", f"${outcome.cost_usd:.4f}" if outcome.cost_usd is not None else None),
        ("CI", outcome.ci),
        ("Summaries", outcome.summaries),
    ):
        if value:
            rows.append((name, value))
    table = "\n".join(f"| {k} | {_cell(v)} |" for k, v in rows)
    io.summary(f"### tinygen\n\n| | |\n|---|---|\n{table}\n")


def _kind(event: Event) -> str:
    """issues/labeled, issue_comment/created; push (a push has no action)."""
    return f"{event.name}/{event.action}" if event.action else event.name


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def dry_run_requested(env: Mapping[str, str]) -> bool:
    value = action_input(env, "DRY_RUN").lower()
    if value not in ("", "true", "false"):
        raise ConfigError(f"dry-run must be true or false, not {value!r}")
    return value == "true"


__all__ = ["Outcome", "dry_run_requested", "make_forge", "run_action", "run_url"]
