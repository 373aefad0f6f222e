"""After a push: wait for the repository's own CI on the pushed commit and report it.

The checks are the commit's check runs and commit statuses, read through the forge. The
wait is polite: the first look comes after ``poll`` seconds and the interval grows by half
each time up to a minute; the forge's client honours ``Retry-After`` and waits out a rate
limit that resets soon (a later reset is an error naming it). The wait ends when every
check has completed (``passed`` or ``failed``), when ``timeout`` passes (``timed_out``), or
when no check has appeared within ``start_timeout`` (``none``: CI did not start — the usual
cause is a push made with a workflow's own GITHUB_TOKEN).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tinygen.github.forge import Forge
from tinygen.github.models import CheckInfo

MAX_POLL = 60.0  # seconds between looks, at most


@dataclass
class CIReport:
    """``state``: passed | failed | timed_out | none."""

    state: str
    sha: str
    checks: list[CheckInfo] = field(default_factory=list)
    looks: int = 0

    @property
    def failed(self) -> list[CheckInfo]:
        return [c for c in self.checks if c.state == "failure"]

    @property
    def pending(self) -> list[CheckInfo]:
        return [c for c in self.checks if c.state == "pending"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "sha": self.sha,
            "checks": [c.to_dict() for c in self.checks],
            "looks": self.looks,
        }


SUMMARY_CHARS = 2000  # of each failed check's summary, in the follow-up request


def ci_feedback(report: CIReport) -> str:
    """What a follow-up run is told about the failed CI: each failed check's name, verdict,
    link and summary (as the check wrote it; only its summary: logs are not fetched)."""
    lines = [
        "",
        f"The repository's CI failed on the previous commit ({report.sha[:12]}) of this change:",
    ]
    for c in report.failed:
        lines.append(f"- {c.name} ({c.conclusion or c.state}): {c.url}")
        summary = c.summary.strip()
        if summary:
            lines += ["  " + line for line in summary[:SUMMARY_CHARS].splitlines()]
    lines.append("Revise the change so that these checks pass.")
    return "\n".join(lines)


def wait_for_checks(
    forge: Forge,
    full_name: str,
    sha: str,
    *,
    timeout: float,
    poll: float,
    start_timeout: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> CIReport:
    """Look at ``sha``'s checks until they complete or a limit passes (see the module doc)."""
    started = clock()
    interval = max(poll, 0.0)
    report = CIReport("none", sha)
    while True:
        sleep(interval)
        report.checks = forge.checks(full_name, sha)
        report.looks += 1
        elapsed = clock() - started
        if report.checks and not report.pending:
            report.state = "failed" if report.failed else "passed"
            return report
        if not report.checks and elapsed >= min(start_timeout, timeout):
            report.state = "none"
            return report
        if elapsed >= timeout:
            report.state = "timed_out"
            return report
        interval = min(max(interval * 1.5, poll), MAX_POLL, max(timeout - elapsed, 0.0))
