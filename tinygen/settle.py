"""What the orchestrator does when votes or money run short; pure apart from the
``validate`` function it is given (the gate and the repository's checks on a diff).

- :func:`settle_undecided`: a file whose vote ended without a k-vote lead has its two
  leading outcomes tried under the repository's checks; the one that passes is kept
  (``settled_by="checks"``), else the plurality stays (low agreement).
- :class:`BestValid`: the best diff the gate passed so far — one whose checks passed
  before one whose checks failed, a later one before an earlier — which a run stopped at
  its cost limit returns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tinygen.models import FileEdit, validation_status
from tinygen.patch import canonical_diff

if TYPE_CHECKING:
    from tinygen.validate import CheckResult, GateReport

Validate = Callable[[str], "tuple[GateReport, list[CheckResult]]"]


def combined_diff(edits: dict[str, FileEdit]) -> str:
    return canonical_diff(
        {e.path: e.before for e in edits.values()}, {e.path: e.after for e in edits.values()}
    )


def _passes(gate: GateReport, checks: list[CheckResult]) -> bool:
    return validation_status(gate, checks) is None


@dataclass
class Validated:
    diff: str
    gate: GateReport
    checks: list[CheckResult]


def settle_undecided(
    edits: dict[str, FileEdit], current: Validated, validate: Validate
) -> Validated:
    """Settle every undecided vote among ``edits`` by the checks (see the module docstring);
    ``current`` is the combined diff as validated now. Returns the diff as validated after."""
    undecided = [
        e for e in edits.values() if e.vote is not None and e.vote.settled_by == "plurality"
    ]
    if not undecided:
        return current
    if _passes(current.gate, current.checks):  # every leading outcome passes as it is
        for edit in undecided:
            assert edit.vote is not None
            edit.vote.settled_by, edit.runner_up = "checks", None
        return current
    for edit in undecided:
        assert edit.vote is not None
        if edit.runner_up is None:
            continue
        leader, edit.after = edit.after, edit.runner_up
        diff = combined_diff(edits)
        gate, checks = validate(diff)
        if _passes(gate, checks):
            edit.vote.settled_by = "checks"
            edit.vote.winner = list(edit.vote.votes)[1]  # the runner-up's label
            current = Validated(diff, gate, checks)
        else:
            edit.after = leader  # neither passes: the plurality stays
        edit.runner_up = None
    return current


class BestValid:
    """The best validated diff so far (see the module docstring)."""

    def __init__(self) -> None:
        self.best: Validated | None = None
        self._seen: set[str] = set()

    def seen(self, diff: str) -> bool:
        return diff in self._seen

    def consider(self, done: Validated) -> None:
        self._seen.add(done.diff)
        if not done.diff or not done.gate.ok:
            return
        if self.best is None or _passes(done.gate, done.checks) >= _passes(
            self.best.gate, self.best.checks
        ):
            self.best = done


__all__ = ["BestValid", "Validated", "combined_diff", "settle_undecided"]
