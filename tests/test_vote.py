"""First-to-ahead-by-k voting (tinygen.llm.vote): batches, red flags, undecided votes, the
cost limit inside a vote, and the analytic figures the benchmark compares against."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from tinygen.errors import BudgetExceeded, LLMOverloadedError
from tinygen.llm.vote import (
    SPARE,
    RedFlag,
    Sample,
    expected_samples,
    run_vote,
    success_probability,
)


class Script:
    """Draws that return scripted outcomes in order ("a", "b", or "!reason" for a red
    flag), counting the draws and the most in flight at once."""

    def __init__(self, outcomes: list[str | BaseException]) -> None:
        self.outcomes: Iterator[str | BaseException] = iter(outcomes)
        self.draws = 0
        self.lock = threading.Lock()

    def __call__(self) -> Sample[str] | RedFlag:
        with self.lock:
            self.draws += 1
            item = next(self.outcomes)
        if isinstance(item, BaseException):
            raise item
        if item.startswith("!"):
            return RedFlag(item[1:])
        return Sample(item, item.upper(), label=item)


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(4) as executor:
        yield executor


def test_agreeing_samples_decide_in_one_batch_of_k(pool: ThreadPoolExecutor) -> None:
    draw = Script(["a"] * 3)
    vote = run_vote(draw, k=3, max_samples=8, submit=pool.submit)
    assert draw.draws == 3
    assert vote.winner == "A"
    s = vote.summary
    assert (s.samples, s.votes, s.decided, s.settled_by, s.margin) == (
        3,
        {"a": 3},
        True,
        "votes",
        3,
    )
    assert s.confidence == 1.0 and not s.low_agreement


def test_a_later_batch_draws_what_could_still_decide_and_a_spare(
    pool: ThreadPoolExecutor,
) -> None:
    # batch 1 (k=2): a, b -> lead 0 -> batch of 2 + SPARE: a, a, a -> lead 3
    assert SPARE == 1
    draw = Script(["a", "b", "a", "a", "a", "b"])
    vote = run_vote(draw, k=2, max_samples=8, submit=pool.submit)
    assert draw.draws == 5
    assert vote.summary.votes == {"a": 4, "b": 1} and vote.summary.margin == 3
    assert vote.summary.decided and vote.ranked == ["A", "B"]
    assert vote.summary.confidence == pytest.approx(0.8)


def test_red_flagged_samples_are_redrawn_and_counted(pool: ThreadPoolExecutor) -> None:
    # batch 1: a, flag, flag (lead 1) -> batch of 3 - 1 + SPARE: a, flag, a (lead 3)
    draw = Script(["a", "!syntax", "!syntax", "a", "!empty", "a", "a", "a"])
    vote = run_vote(draw, k=3, max_samples=8, submit=pool.submit)
    s = vote.summary
    assert s.red_flags == {"syntax": 2, "empty": 1}
    assert s.votes == {"a": 3} and s.decided
    assert s.samples == draw.draws == 6  # red-flagged draws count as samples
    assert s.samples == sum(s.votes.values()) + sum(s.red_flags.values())


def test_an_undecided_vote_takes_the_plurality_and_says_so(pool: ThreadPoolExecutor) -> None:
    draw = Script(["a", "b", "a", "b", "a", "c"])
    vote = run_vote(draw, k=3, max_samples=6, submit=pool.submit)
    s = vote.summary
    assert s.samples == 6 and draw.draws == 6  # never more than max_samples
    assert (s.winner, s.decided, s.settled_by, s.low_agreement) == ("a", False, "plurality", True)
    assert vote.ranked == ["A", "B", "C"] and s.margin == 1


def test_every_sample_flagged_leaves_no_winner(pool: ThreadPoolExecutor) -> None:
    draw = Script(["!unparsed"] * 4)
    vote = run_vote(draw, k=2, max_samples=4, submit=pool.submit)
    assert vote.winner is None and vote.summary.winner is None
    assert vote.summary.red_flags == {"unparsed": 4}
    assert vote.last_flag == RedFlag("unparsed")
    assert not vote.summary.low_agreement


def _refused() -> BudgetExceeded:
    return BudgetExceeded("limit", limit=1.0, spent=0.9, needed=0.2)


def test_the_cost_limit_ends_a_vote_with_the_samples_it_has(pool: ThreadPoolExecutor) -> None:
    draw = Script(["a", "b", _refused(), _refused(), _refused()])
    vote = run_vote(draw, k=2, max_samples=8, submit=pool.submit)
    s = vote.summary
    assert s.stopped == "budget" and s.samples == 2  # a refused call is not a sample
    assert s.settled_by == "plurality" and s.winner == "a"


def test_the_cost_limit_before_any_outcome_is_raised(pool: ThreadPoolExecutor) -> None:
    draw = Script([_refused(), _refused()])
    with pytest.raises(BudgetExceeded):
        run_vote(draw, k=2, max_samples=8, submit=pool.submit)


def test_another_error_stops_the_vote(pool: ThreadPoolExecutor) -> None:
    draw = Script(["a", LLMOverloadedError("overloaded"), "a", "a"])
    with pytest.raises(LLMOverloadedError):
        run_vote(draw, k=3, max_samples=8, submit=pool.submit)


def test_bad_arguments_are_refused(pool: ThreadPoolExecutor) -> None:
    with pytest.raises(ValueError):
        run_vote(Script([]), k=0, max_samples=8, submit=pool.submit)


@pytest.mark.parametrize("p", [0.6, 0.7, 0.8, 0.9])
@pytest.mark.parametrize("k", [1, 2, 3])
def test_the_analytic_figures_match_a_simulated_two_outcome_vote(p: float, k: int) -> None:
    rng = random.Random(f"{p}-{k}")
    n = 4000
    wins = steps = 0
    for _ in range(n):
        lead = taken = 0
        while abs(lead) < k:
            lead += 1 if rng.random() < p else -1
            taken += 1
        wins += lead > 0
        steps += taken
    assert wins / n == pytest.approx(success_probability(p, k), abs=0.03)
    assert steps / n == pytest.approx(expected_samples(p, k), rel=0.06)


def test_analytic_edges() -> None:
    assert success_probability(0.8, 3) == pytest.approx(1 / (1 + 0.25**3))
    assert success_probability(0.5, 2) == pytest.approx(0.5)
    assert success_probability(0.0, 2) == 0.0
    assert expected_samples(0.5, 3) == 9.0
    assert expected_samples(0.9, 1) == pytest.approx(1.0)
