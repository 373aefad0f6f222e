"""How votes, low agreement and the cost limit read where people see them: the pull request
body, the --json shape and the Action's remedies."""

from __future__ import annotations

import json

from tinygen.action.status import how_to_set
from tinygen.commands._json import run_json
from tinygen.delivery.texts import pr_body, title
from tinygen.llm.vote import VoteSummary
from tinygen.models import FileEdit, Plan, PlanItem, RunResult, Status, Verdict

PLAN = Plan("Double the items.", "Double", (PlanItem("app/calc.py", "modify", "Double."),))


def result(status: Status, settled_by: str, votes: dict[str, int]) -> RunResult:
    vote = VoteSummary(
        k=3,
        samples=8,
        votes=votes,
        red_flags={"syntax": 1, "placeholder": 2},
        winner=next(iter(votes)),
        settled_by=settled_by,  # type: ignore[arg-type]
    )
    edit = FileEdit("app/calc.py", "modify", "x = 1\n", "x = 2\n", attempts=8, vote=vote)
    review = VoteSummary(k=3, samples=3, votes={"approve": 3}, winner="approve", decided=True)
    return RunResult(
        run_id="20260101-000000-abcdef",
        status=status,
        message="stopped at the cost limit" if status is Status.BUDGET_EXCEEDED else "ok",
        diff="diff --git a/app/calc.py b/app/calc.py\n",
        plan=PLAN,
        verdict=Verdict(True, "Fine.", (), 1, vote=review),
        edits=[edit],
        cost_usd=0.42,
        max_cost=0.5,
        model="claude-sonnet-4-6",
    )


def test_low_agreement_is_said_at_the_top_of_the_pull_request() -> None:
    low = result(Status.APPROVED, "plurality", {"3f2a": 3, "9b1c": 2, "77de": 2})
    assert low.low_agreement
    body = pr_body(low)
    assert "**Low agreement:**" in body
    assert body.index("Low agreement") < body.index("## Summary")
    assert "## Votes" in body
    assert (
        "- `app/calc.py`: 8 sample(s), margin 1 of k=3 (43% agreed), low agreement; "
        "red-flagged: syntax 1, placeholder 2" in body
    )
    assert "- review: 3 sample(s), margin 3 of k=3 (100% agreed), decided" in body
    assert "$0.4200; limit $0.5000" in body


def test_a_vote_the_checks_settled_is_not_low_agreement() -> None:
    settled = result(Status.APPROVED, "checks", {"3f2a": 3, "9b1c": 3})
    assert not settled.low_agreement
    body = pr_body(settled)
    assert "Low agreement" not in body and "chosen by the checks" in body


def test_a_run_stopped_at_its_cost_limit_is_a_stated_failure() -> None:
    stopped = result(Status.BUDGET_EXCEEDED, "votes", {"3f2a": 3})
    assert title(stopped).startswith("[budget_exceeded] ")
    assert "did not succeed (budget_exceeded)" in pr_body(stopped)
    data = run_json(stopped, None, None)
    assert data["status"] == "budget_exceeded" and data["exit_code"] == 11
    assert data["max_cost"] == 0.5 and data["low_agreement"] is False
    assert data["files"][0]["vote"]["red_flags"] == {"syntax": 1, "placeholder": 2}
    json.dumps(data)  # plain data all the way down


def test_the_action_names_its_own_inputs_for_vote_and_max_cost() -> None:
    words = how_to_set(("max_cost", "vote"))
    assert "max-cost" in words and "vote" in words and "--" not in words
