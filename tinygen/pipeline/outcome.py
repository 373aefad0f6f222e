"""What :func:`tinygen.pipeline.run_and_deliver` did (an ``Outcome``), and the exit code that
follows from it: the run's, the delivery's, then the repository's CI on the pushed commit."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tinygen.errors import ExitCode, TinygenError
from tinygen.models import RunResult

if TYPE_CHECKING:
    from tinygen.delivery.deliver import Delivered

# Exit codes of the repository's CI on the pushed commit (its other states exit 0).
CI_EXIT = {"failed": ExitCode.CI_FAILED, "timed_out": ExitCode.CI_TIMED_OUT}


@dataclass
class Outcome:
    """What :func:`run_and_deliver` did: the run's result (None when it failed before it had
    one), its error, and the delivery's report or error. Front ends word these."""

    run_id: str
    result: RunResult | None = None
    error: TinygenError | None = None
    delivered: Delivered | None = None
    delivery_error: TinygenError | None = None
    # follow-up runs made because the repository's CI failed (DeliveryOptions.fix_checks)
    fixes: list[Outcome] = field(default_factory=list)

    @property
    def last(self) -> Outcome:
        """The last follow-up, or this outcome: whose CI decides the exit code."""
        return self.fixes[-1] if self.fixes else self

    @property
    def exit_code(self) -> int:
        """The run's error; else the delivery's error; else the run's status; else (when
        that is success) the repository's CI on the last pushed commit (12, 13)."""
        if self.error is not None:
            return int(self.error.exit_code)
        if self.delivery_error is not None:
            return int(self.delivery_error.exit_code)
        assert self.result is not None
        code = self.result.status.exit_code
        last = self.last
        if last is not self and (last.error is not None or last.delivery_error is not None):
            return last.exit_code
        ci = last.delivered.ci if last.delivered is not None else None
        if code == ExitCode.OK and ci is not None and ci.state in CI_EXIT:
            code = CI_EXIT[ci.state]  # the repository's CI, after tinygen's own outcome
        return int(code)
