"""Waiting for a pushed commit's CI, table-tested on the in-memory forge with a scripted
clock: how many looks, what state, how the interval grows. No time passes."""

from __future__ import annotations

import pytest

from tinygen.delivery.ci import MAX_POLL, wait_for_checks
from tinygen.github.models import CheckInfo
from tinygen.testing.forge import InMemoryForge

REPO = "octo/demo"
SHA = "a" * 40


def check(state: str, name: str = "tests") -> CheckInfo:
    conclusion = {"pending": None, "success": "success", "failure": "failure"}[state]
    return CheckInfo(name, "check_run", state, conclusion, f"https://ci/{name}")


class Clock:
    """A clock that moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def time(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("script", "state", "looks"),
    [
        ([[check("pending")], [check("pending")], [check("success")]], "passed", 3),
        ([[check("pending")], [check("failure"), check("success", "lint")]], "failed", 2),
        ([[], [], [check("success")]], "passed", 3),  # CI appears a little after the push
        ([[check("success"), check("pending", "slow")], [check("success")]], "passed", 2),
        ([[]], "none", 4),  # nothing appears within the start timeout: 10 + 15 + 22.5 + 33.75
        ([[check("pending")]], "timed_out", 7),  # never completes: the last look is at 200 s
    ],
)
def test_wait_for_checks(script: list[list[CheckInfo]], state: str, looks: int) -> None:
    forge = InMemoryForge()
    forge.add_repo(REPO)
    forge.repos[REPO].ci = script
    clock = Clock()
    report = wait_for_checks(
        forge,
        REPO,
        SHA,
        timeout=200,
        poll=10,
        start_timeout=60,
        sleep=clock.sleep,
        clock=clock.time,
    )
    assert (report.state, report.looks) == (state, looks)
    assert forge.repos[REPO].ci_polls[SHA] == looks
    assert report.checks == script[min(looks, len(script)) - 1]
    # polite: growing from the first interval (the last may be what is left of the limit),
    # never over a minute, never past the limit
    assert clock.sleeps[0] == 10 and clock.sleeps[:-1] == sorted(clock.sleeps[:-1])
    assert clock.now <= 200
    assert max(clock.sleeps) <= MAX_POLL
