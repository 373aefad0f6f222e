"""After the run: deliver its result as the prepared options say, or salvage a failed run's
diff. Returns a typed report; front ends word it (nothing here prints).

    apply      the change into the checkout (all files or none; a succeeded run only)
    branch     a commit of the validated tree on the base, on a new branch [pushed]
    pr         that, pushed, with a pull request opened or updated
    to_pr      a commit on top of a pull request's head, pushed (a succeeded run only;
               with ``attempt_branch`` a failed one goes to an attempt branch instead)

A run that did not succeed but produced a diff is still committed and pushed (marked as a
failure, the pull request a draft): work is never lost. A diff that breaks the path policy
is never delivered.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tinygen.delivery import publish
from tinygen.delivery.ci import CIReport, wait_for_checks
from tinygen.delivery.prepare import Prepared
from tinygen.repo.apply import apply_diff
from tinygen.validate import PathPolicy, run_gate

if TYPE_CHECKING:
    from tinygen.config import Settings
    from tinygen.models import RunResult


@dataclass
class Delivered:
    """What delivery did. ``skipped`` says why nothing (or not everything) was delivered."""

    applied: list[str] | None = None  # files written into the checkout
    branch: str | None = None
    commit: str | None = None
    pushed: bool = False
    pr_url: str | None = None
    pr_number: int | None = None
    pr_created: bool = False
    attempt: bool = False  # a failed change went to an attempt branch, not the pull request
    skipped: str | None = None
    ci: CIReport | None = None  # the repository's CI on the pushed commit, when waited for

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "branch": self.branch,
            "commit": self.commit,
            "pr_url": self.pr_url,
            "pr_number": self.pr_number,
            "pr_created": self.pr_created,
        }
        if self.applied is not None:
            data["applied"] = self.applied
        if self.skipped:
            data["skipped"] = self.skipped
        if self.ci is not None:
            data["ci"] = self.ci.to_dict()
        return data


def ensure_validated(result: RunResult, root: Any, settings: Settings) -> None:
    """A result that never went through the gate (a failed run's partial diff) goes through
    it now: its path problems stop delivery, and its tree is what gets committed."""
    if result.validation is not None or not result.diff:
        return

    policy = PathPolicy(protected=settings.protected_paths, allowed=settings.allowed_paths)
    result.validation = run_gate(root, result.base_commit, result.diff, policy)
    result.tree = result.validation.tree


def deliver(prepared: Prepared, result: RunResult, settings: Settings) -> Delivered:
    """Act on ``prepared.opts`` for ``result``."""
    opts = prepared.opts
    done = Delivered()
    if not opts.wanted:
        return done
    if not result.diff:
        done.skipped = "the run produced no diff"
        return done
    ensure_validated(result, prepared.opened.root, settings)
    ok = result.succeeded
    if opts.apply:
        if ok:
            done.applied = apply_diff(prepared.opened.root, result.diff, force=opts.force)
        else:
            done.applied = []
            done.skipped = f"not applied: the run did not succeed ({result.status})"
    if opts.commits:
        _commit(prepared, result, ok, done, settings)
    if opts.wait_checks is not None and done.pushed and done.commit is not None:
        assert prepared.forge is not None and prepared.full_name is not None
        done.ci = wait_for_checks(
            prepared.forge,
            prepared.full_name,
            done.commit,
            timeout=opts.wait_checks,
            poll=settings.ci_poll,
            start_timeout=settings.ci_start_timeout,
        )
    return done


def salvage(prepared: Prepared, partial: RunResult, settings: Settings) -> Delivered:
    """A run failed with an error after it had a diff: commit and push that diff as a stated
    failure where the options commit (never into the checkout, never onto a pull request's
    head), so the work is not lost."""
    opts = prepared.opts
    if not opts.commits:
        return Delivered(skipped="the run failed; its diff is kept in the run record")
    if opts.to_pr is not None and not opts.attempt_branch:
        return Delivered(skipped=f"not pushed to pull request #{opts.to_pr}: the run failed")
    opts = dataclasses.replace(opts, apply=False)
    return deliver(dataclasses.replace(prepared, opts=opts), partial, settings)


def _commit(
    prepared: Prepared, result: RunResult, ok: bool, done: Delivered, settings: Settings
) -> None:
    opts = prepared.opts
    if opts.to_pr is not None:
        if not ok:
            if not opts.attempt_branch:
                done.skipped = (
                    f"not pushed to pull request #{opts.to_pr}: the run did not succeed "
                    f"({result.status})"
                )
                return
            # the pull request's head is never touched by a failed change
            branch = f"tinygen/pr-{opts.to_pr}-attempt-{result.run_id}"
            out = publish.publish_branch(
                result, prepared.opened, branch=branch, push=True, token=prepared.token
            )
            done.attempt = True
        else:
            assert prepared.forge is not None and prepared.full_name is not None
            out = publish.push_to_pr(
                result,
                prepared.opened,
                prepared.forge,
                full_name=prepared.full_name,
                number=opts.to_pr,
                token=prepared.token,
                default_branch=prepared.default_branch,
                settings=settings,
            )
    elif opts.pr:
        assert prepared.forge is not None and prepared.full_name is not None
        out = publish.publish_pr(
            result,
            prepared.opened,
            prepared.forge,
            full_name=prepared.full_name,
            base=opts.base or prepared.ref_branch,
            draft=not opts.ready,
            issue=opts.issue,
            branch=prepared.branch or opts.pr_branch(),
            token=prepared.token,
            default_branch=prepared.default_branch,
            settings=settings,
        )
    else:
        out = publish.publish_branch(
            result, prepared.opened, branch=opts.branch, push=opts.push, token=prepared.token
        )
    done.branch, done.commit = out.branch, out.commit
    done.pushed = opts.push or opts.pr or opts.to_pr is not None
    done.pr_url, done.pr_number, done.pr_created = out.pr_url, out.pr_number, out.created
