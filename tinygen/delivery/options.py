"""What a front end asks delivery to do, as data (click-free)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DeliveryOptions:
    """``apply`` writes the change into the checkout; ``branch`` (None: not asked for, "": a
    generated name) commits it; ``push`` pushes that branch; ``pr`` opens or updates a pull
    request into ``base`` (a draft unless ``ready``; ``issue`` adds "Closes #N");
    ``to_pr`` adds a commit to pull request N's head.

    Two policies the GitHub Action uses: ``follow_up`` — with ``issue``, the stable branch
    ``tinygen/issue-N`` is built on while its pull request is open and contains the base
    (the run starts from its tip), else ``-2``, ``-3``...; ``attempt_branch`` — with
    ``to_pr``, a failed change goes to ``tinygen/pr-N-attempt-<run id>`` instead of being
    kept only in the run record. ``wait_checks``: after pushing, wait up to that many seconds
    for the repository's CI on the pushed commit and report it."""

    apply: bool = False
    force: bool = False
    branch: str | None = None
    push: bool = False
    pr: bool = False
    base: str | None = None
    ready: bool = False
    issue: int | None = None
    to_pr: int | None = None
    follow_up: bool = False
    attempt_branch: bool = False
    wait_checks: float | None = None  # after the push, wait this long for the repository's CI
    fix_checks: int = 0  # when that CI fails on a pull request: this many follow-up commits

    @property
    def commits(self) -> bool:
        """A commit is wanted (a branch, a push, a pull request, or a push to one)."""
        return self.branch is not None or self.push or self.pr or self.to_pr is not None

    @property
    def needs_github(self) -> bool:
        return self.pr or self.to_pr is not None or self.wait_checks is not None

    @property
    def wanted(self) -> bool:
        return self.apply or self.commits

    def pr_branch(self) -> str | None:
        """The pull request's branch: the one named, else ``tinygen/issue-N`` for an issue,
        else None (a name from the plan's title)."""
        return self.branch or (f"tinygen/issue-{self.issue}" if self.issue else None)
