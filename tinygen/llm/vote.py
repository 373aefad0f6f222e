"""Reliability from many samples: first-to-ahead-by-k voting with red flags (the MAKER
paper, arXiv 2511.09030).

A *draw* makes one sample and judges it: an outcome (a key that says which answers are the
same, and the value to keep), or a :class:`RedFlag` (a reason). A red-flagged sample is
discarded and another drawn, never repaired. The vote is *decided* when one outcome leads
every other by ``k`` votes; *undecided* when ``max_samples`` draws (red-flagged ones
included) leave no such lead — the caller then settles it (by the repository's checks,
else the plurality, which it reports as low agreement).

Draws run in parallel batches. The first is the fewest samples that could decide (``k``),
so when the samples agree a vote takes one round trip and ``k`` samples; each later batch
is the fewest that could still decide (``k`` minus the leader's lead) plus
:data:`SPARE`, which absorbs a red flag or a stray vote without another round trip (each
round trip is a model call's latency; bench/bench_vote.py measures the trade).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, wait
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from tinygen.errors import BudgetExceeded

T = TypeVar("T")

SPARE = 1  # samples a batch after the first draws beyond the fewest that could decide

Settled = Literal["votes", "checks", "plurality"]


@dataclass(frozen=True)
class RedFlag:
    """Why a sample was discarded (``reason`` is one word, counted per vote)."""

    reason: str
    detail: str = ""


@dataclass(frozen=True)
class Sample(Generic[T]):
    """A sample that passed every red flag: its outcome key and the value to keep."""

    key: str
    value: T
    label: str = ""  # how records name the outcome (default: the key's first 10 characters)


@dataclass
class VoteSummary:
    """What a vote did, for the run record, ``--json`` and the pull request."""

    k: int
    samples: int = 0  # draws made, red-flagged ones included
    votes: dict[str, int] = field(default_factory=dict)  # outcome label -> votes, most first
    red_flags: dict[str, int] = field(default_factory=dict)  # reason -> samples discarded
    winner: str | None = None  # the chosen outcome's label
    decided: bool = False  # the winner led every other outcome by k
    settled_by: Settled = "votes"
    stopped: str | None = None  # "budget": the cost limit ended the sampling early

    @property
    def margin(self) -> int:
        """The winner's lead over the next outcome (its votes when it is alone)."""
        if self.winner is None:
            return 0
        others = [n for label, n in self.votes.items() if label != self.winner]
        return self.votes.get(self.winner, 0) - max(others, default=0)

    @property
    def confidence(self) -> float:
        """The winner's share of the votes (0.0 without votes)."""
        total = sum(self.votes.values())
        return self.votes.get(self.winner or "", 0) / total if total else 0.0

    @property
    def low_agreement(self) -> bool:
        """No outcome led by k, and no check picked one: the plurality was taken."""
        return self.winner is not None and self.settled_by == "plurality"

    def to_dict(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "samples": self.samples,
            "votes": dict(self.votes),
            "red_flags": dict(self.red_flags),
            "winner": self.winner,
            "margin": self.margin,
            "confidence": round(self.confidence, 3),
            "decided": self.decided,
            "settled_by": self.settled_by,
            "low_agreement": self.low_agreement,
            "stopped": self.stopped,
        }


@dataclass
class Vote(Generic[T]):
    """A finished vote: the summary and one value per outcome, most votes first."""

    summary: VoteSummary
    ranked: list[T]
    last_flag: RedFlag | None = None  # the last reason a sample was discarded

    @property
    def winner(self) -> T | None:
        return self.ranked[0] if self.ranked else None


Draw = Callable[[], "Sample[T] | RedFlag"]
Submit = Callable[[Callable[[], Any]], "Future[Any]"]


def run_vote(draw: Draw[T], *, k: int, max_samples: int, submit: Submit) -> Vote[T]:
    """Draw samples (through ``submit``, e.g. a thread pool's) until one outcome leads by
    ``k`` or ``max_samples`` are drawn. A draw's error stops the vote and is raised, except
    :class:`~tinygen.errors.BudgetExceeded`: the vote then ends with the samples it has
    (``stopped="budget"``), and raises it only when it has no outcome at all."""
    if k < 1 or max_samples < 1:
        raise ValueError("k and max_samples must be at least 1")
    counts: dict[str, int] = {}
    values: dict[str, T] = {}
    labels: dict[str, str] = {}
    summary = VoteSummary(k=k)
    last_flag: RedFlag | None = None
    refused: BudgetExceeded | None = None
    while summary.samples < max_samples and refused is None:
        ranked = sorted(counts, key=lambda key: -counts[key])  # stable: first seen wins ties
        lead = counts[ranked[0]] - (counts[ranked[1]] if len(ranked) > 1 else 0) if ranked else 0
        if lead >= k:
            break
        size = k - lead + (SPARE if summary.samples else 0)
        batch = [submit(draw) for _ in range(min(size, max_samples - summary.samples))]
        done, pending = wait(batch, return_when=FIRST_EXCEPTION)
        failed = next((f for f in done if f.exception() is not None), None)
        if failed is not None and not isinstance(failed.exception(), BudgetExceeded):
            for future in pending:
                future.cancel()
            raise failed.exception()  # type: ignore[misc]
        wait(pending)
        for future in batch:
            error = future.exception()
            if isinstance(error, BudgetExceeded):
                refused = error  # not drawn: not a sample
                continue
            if error is not None:
                raise error
            summary.samples += 1
            outcome = future.result()
            if isinstance(outcome, RedFlag):
                summary.red_flags[outcome.reason] = summary.red_flags.get(outcome.reason, 0) + 1
                last_flag = outcome
                continue
            if outcome.key not in counts:
                counts[outcome.key] = 0
                values[outcome.key] = outcome.value
                labels[outcome.key] = outcome.label or outcome.key[:10]
            counts[outcome.key] += 1
    ranked = sorted(counts, key=lambda key: -counts[key])
    if not ranked and refused is not None:
        raise refused
    summary.votes = {labels[key]: counts[key] for key in ranked}
    summary.stopped = "budget" if refused is not None else None
    if ranked:
        summary.winner = labels[ranked[0]]
        summary.decided = summary.margin >= k
        summary.settled_by = "votes" if summary.decided else "plurality"
    return Vote(summary, [values[key] for key in ranked], last_flag)


def success_probability(p: float, k: int) -> float:
    """The chance that first-to-ahead-by-k picks the right one of two outcomes when each
    sample is right with probability ``p`` (no sample limit): 1 / (1 + ((1-p)/p)^k)."""
    if p <= 0.0:
        return 0.0
    return 1.0 / (1.0 + ((1.0 - p) / p) ** k)


def expected_samples(p: float, k: int) -> float:
    """Expected votes until one of two outcomes leads by ``k``, one sample at a time and no
    sample limit: the duration of a ±1 walk from 0 that stops at +k or -k, stepping up with
    probability ``p`` (gambler's ruin)."""
    q = 1.0 - p
    if abs(p - q) < 1e-12:
        return float(k * k)
    ratio = q / p
    reach_top = (1 - ratio**k) / (1 - ratio ** (2 * k))
    return (2 * k * reach_top - k) / (p - q)


__all__ = [
    "SPARE",
    "RedFlag",
    "Sample",
    "Vote",
    "VoteSummary",
    "expected_samples",
    "run_vote",
    "success_probability",
]
