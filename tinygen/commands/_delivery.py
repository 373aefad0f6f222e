"""Delivery options shared by `tinygen run` and `tinygen apply`, and the code that acts on them.

    --apply [--force]   write the change into the working tree (run only: apply does that anyway)
    --branch [NAME]     a branch with one commit (default name tinygen/<slug of the title>)
    --push              push that branch (implies --branch)
    --pr                push and open or update a pull request (implies --branch --push)
    --base B --ready --issue N    the pull request's base, not a draft, "Closes #N"
    --to-pr N           a new commit on the head branch of the same-repository pull request N
    (`tinygen apply --check CMD`: CMD runs on the tree that is committed)

Everything that can be refused without the model is refused before the model runs: bad
combinations, a missing token, a remote that is not on GitHub, a fork's pull request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from tinygen.commands.flags import options_text
from tinygen.delivery.options import DeliveryOptions
from tinygen.delivery.prepare import Prepared, prepare
from tinygen.env import app_secrets
from tinygen.errors import OptionsError, TinygenError
from tinygen.github.app import WORKFLOW_TOKEN_NOTE, app_credentials, starts_no_ci
from tinygen.redact import redact
from tinygen.repo.clone import OpenedRepo

if TYPE_CHECKING:
    from tinygen.delivery.ci import CIReport
    from tinygen.delivery.deliver import Delivered
    from tinygen.delivery.patchfile import PatchDelivery
    from tinygen.github.app import AppCredentials
    from tinygen.pipeline import Outcome
    from tinygen.validate import CheckResult

F = TypeVar("F", bound=Callable[..., Any])

_KEYS = (
    "apply",
    "force",
    "branch",
    "push",
    "pr",
    "base",
    "ready",
    "issue",
    "to_pr",
    "wait_checks",
    "fix_checks",
)
WAIT_CHECKS_DEFAULT = 1800.0  # seconds: --wait-checks without a value


def delivery_options(*, with_apply: bool = True) -> Callable[[F], F]:
    """The click options; ``with_apply=False`` for `tinygen apply` (it writes files anyway
    and has its own --force)."""

    def decorate(f: F) -> F:
        opts = [
            click.option(
                "--wait-checks",
                "wait_checks",
                type=click.FloatRange(min=1),
                is_flag=False,
                flag_value=WAIT_CHECKS_DEFAULT,
                default=None,
                metavar="[SECONDS]",
                help="After pushing, wait for the repository's CI on the commit and report it "
                f"(default {WAIT_CHECKS_DEFAULT:.0f} s; exit 12 if it fails, 13 if unfinished).",
            ),
            click.option(
                "--fix-checks",
                "fix_checks",
                type=click.IntRange(min=0),
                default=0,
                metavar="N",
                help="With --wait-checks and a pull request: when its CI fails, revise with the "
                "failures and push again, at most N times (default 0).",
            ),
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
    """Take the delivery options out of a command's keyword arguments; check combinations
    (the library's rules, in flags)."""
    opts = DeliveryOptions(**{k: kwargs.pop(k) for k in _KEYS if k in kwargs})
    try:
        return opts.validate()
    except OptionsError as exc:
        raise click.UsageError(options_text(exc)) from None


# --- wording what delivery did ---------------------------------------------------------------


def _say(message: str) -> None:
    click.echo(redact(f"tinygen: {message}"), err=True)


def prepare_for(
    opts: DeliveryOptions, opened: OpenedRepo, *, explicit_ref: bool = False
) -> Prepared:
    """:func:`tinygen.delivery.prepare.prepare`, with the CLI's own usage errors first."""
    try:
        opts.validate(explicit_ref=explicit_ref)  # before the App's token is minted
    except OptionsError as exc:
        raise click.UsageError(options_text(exc)) from None
    prepared = prepare(opts, opened, explicit_ref=explicit_ref, app=app_for(opts))
    for note in prepared.notes:
        _say(note)
    return prepared


def app_for(opts: DeliveryOptions) -> AppCredentials | None:
    """The GitHub App's credentials from the environment, when delivery goes to GitHub."""
    return app_credentials(*app_secrets()) if opts.needs_github else None


def report(
    prepared: Prepared, delivered: Delivered | None, error: TinygenError | None
) -> dict[str, Any]:
    """Say on stderr what delivery did; return what --json adds (``{}`` without delivery
    options)."""
    opts = prepared.opts
    if not opts.wanted:
        return {}
    info: dict[str, Any] = delivered.to_dict() if delivered is not None else {}
    if delivered is not None:
        _say_delivered(prepared, delivered)
    if error is not None:
        info |= {
            "error": redact(error.message),
            "hint": redact(error.hint) if error.hint else None,
            "exit_code": int(error.exit_code),
            "saved_diff": error.saved_diff,
        }
    return {"delivery": info}


def report_fixes(prepared: Prepared, fixes: list[Outcome]) -> list[dict[str, Any]]:
    """Say what each follow-up for a failed CI did (--fix-checks); their --json entries."""
    out = []
    for n, fix in enumerate(fixes, 1):
        error = fix.error or fix.delivery_error
        status = str(fix.result.status) if fix.result is not None else "failed"
        _say(f"follow-up {n} for the failed CI: run {fix.run_id}: {status}")
        if error is not None:
            _say(f"  error: {error.message}")
        if fix.delivered is not None:
            _say_delivered(prepared, fix.delivered)
        out.append(
            {
                "run_id": fix.run_id,
                "status": status,
                "error": redact(error.message) if error is not None else None,
                "delivery": fix.delivered.to_dict() if fix.delivered is not None else None,
            }
        )
    return out


def _say_delivered(prepared: Prepared, d: Delivered) -> None:
    opts = prepared.opts
    if d.applied is not None and not d.skipped:
        _say(f"applied to the working tree: {', '.join(d.applied) or 'nothing to change'}")
    if d.skipped:
        _say(
            f"nothing to deliver: {d.skipped}" if d.commit is None and not d.applied else d.skipped
        )
    if d.commit is None:
        return
    if opts.to_pr is not None and not d.attempt:
        _say(f"pushed {d.commit[:12]} to {d.branch} of pull request #{d.pr_number}: {d.pr_url}")
    elif opts.pr:
        _say(f"pushed {d.commit[:12]} to the branch {d.branch}")
        if not opts.base and prepared.ref_branch:
            _say(f"the pull request goes into {prepared.ref_branch} (--ref); --base changes that")
        _say(f"pull request #{d.pr_number} {'opened' if d.pr_created else 'updated'}: {d.pr_url}")
    else:
        _say(f"{'pushed' if d.pushed else 'created'} the branch {d.branch} at {d.commit[:12]}")
    if d.ci is not None:
        _say_ci(prepared, d.ci)


def check_lines(results: list[CheckResult]) -> list[str]:
    """Each check's outcome, a failed one's output after it."""
    lines = []
    for r in results:
        status = "ok" if r.ok else ("timed out" if r.timed_out else f"exit {r.exit_code}")
        lines.append(f"check: {r.command}: {status} ({r.seconds:.1f} s)")
        if not r.ok:
            lines.append(r.output_tail.rstrip("\n"))
    return lines


CI_STATES = {
    "passed": "passed",
    "failed": "FAILED",
    "timed_out": "had not finished when the wait ended",
    "none": "did not start (no check appeared on the commit)",
}


def _say_ci(prepared: Prepared, ci: CIReport) -> None:
    _say(f"the repository's CI on {ci.sha[:12]} {CI_STATES[ci.state]}")
    for c in ci.checks:
        _say(f"  {c.name}: {c.conclusion or c.state} {c.url}".rstrip())
    if ci.state == "none" and starts_no_ci(prepared.token, prepared.token_source == "app"):
        _say(f"note: {WORKFLOW_TOKEN_NOTE}")


# --- `tinygen apply --branch/--push/--pr/--to-pr` ----------------------------------------------


def report_patch(out: PatchDelivery) -> dict[str, Any]:
    """Say on stderr what delivering a patch did; return its --json report (``"status"``:
    ``no_change``, ``unverified``, or ``invalid`` / ``checks_failed`` for a change
    delivered all the same)."""
    for note in out.prepared.notes:
        _say(note)
    result = out.result
    if result is None:
        _say("nothing to deliver: every hunk is already present")
        return {"status": str(out.status), "delivery": {"skipped": "no change"}}
    for line in check_lines(result.checks):
        _say(line)
    if result.validation is not None and not result.validation.ok:
        _say(f"{result.validation.summary()}\n(delivered all the same, marked {result.status})")
    elif result.failed_checks:
        _say(f"{result.message}\n(delivered all the same, marked {result.status})")
    info = report(out.prepared, out.delivered, out.error)
    info.setdefault("delivery", {})["diff"] = result.diff
    ran = [c.to_dict() for c in result.checks]
    return {"status": str(out.status), "checks": ran, **info}
