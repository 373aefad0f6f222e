"""What a front end asks delivery to do, as data (click-free), and which options go
together (:meth:`DeliveryOptions.validate`: the rules every front end shares)."""

from __future__ import annotations

from dataclasses import dataclass

from tinygen.errors import OptionsError


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

    def validate(self, *, explicit_ref: bool = False) -> DeliveryOptions:
        """These options, when they go together; else OptionsError naming the first option
        refused and what it needs or excludes. ``explicit_ref``: the run starts from a ref
        the caller named (a pull request's head is its own starting point).

        ``push`` and ``pr`` imply a branch, and ``pr`` a push (see :attr:`commits`):
        naming them together is allowed. ``follow_up`` and ``attempt_branch`` are the
        Action's policies for ``pr`` and ``to_pr``."""
        if self.force and not self.apply:
            raise _needs("force", ("apply",))
        if self.to_pr is not None:
            given = {"branch": self.branch is not None, "push": self.push, "pr": self.pr}
            given["ref"] = explicit_ref
            conflicts = tuple(name for name, on in given.items() if on)
            if conflicts:
                why = (
                    "pushes to the pull request's branch"
                    if conflicts != ("ref",)
                    else "makes the change on the pull request's head"
                )
                raise OptionsError(
                    f"`to_pr` cannot be combined with {_listed(conflicts, 'or')}: it {why}",
                    option="to_pr",
                    conflicts=conflicts,
                    why=why,
                )
        elif self.attempt_branch:
            raise _needs("attempt_branch", ("to_pr",))
        if not self.pr:
            for name, value in (
                ("base", self.base),
                ("ready", self.ready),
                ("issue", self.issue),
                ("follow_up", self.follow_up),
            ):
                if value:
                    raise _needs(name, ("pr",))
        if self.wait_checks is not None and not (self.push or self.pr or self.to_pr is not None):
            raise _needs("wait_checks", ("push", "pr", "to_pr"))
        if self.fix_checks:
            if self.wait_checks is None:
                raise _needs("fix_checks", ("wait_checks",))
            if not (self.pr or self.to_pr is not None):
                raise _needs("fix_checks", ("pr", "to_pr"))
        return self

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


def _listed(names: tuple[str, ...], word: str) -> str:
    quoted = [f"`{n}`" for n in names]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} {word} {quoted[-1]}"


def _needs(option: str, needs: tuple[str, ...]) -> OptionsError:
    return OptionsError(f"`{option}` goes with {_listed(needs, 'or')}", option=option, needs=needs)


__all__ = ["DeliveryOptions"]
