"""pipeline.run with `vote` and `max_cost`: a scripted provider, a real repository, the real
sheet, patch engine, gate and checks. Votes and red flags as recorded; undecided votes
settled by the checks or reported as low agreement; the cost limit never passed."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RepoFactory
from tests.helpers import git, loose_diff
from tests.test_pipeline_table import APP, BAD, BROKEN, SAME, approve, rename, revise, target
from tinygen.config import Settings
from tinygen.errors import ExitCode
from tinygen.llm import Usage
from tinygen.models import Request, Status
from tinygen.pipeline import estimate, run
from tinygen.testing import Answer, ScriptedProvider

MODEL = "claude-sonnet-4-6"
# the same rename, written with a comment and other spacing: the same outcome
RENAME_COMMENTED = {
    "diff": loose_diff(
        "app/config.py",
        APP["app/config.py"],
        "def load_cfg(path: str) -> dict:",
        "def load_config(path:str)->dict:  # renamed",
    )
}
# another outcome: a docstring instead of the rename
DOC = {
    "diff": loose_diff(
        "app/config.py",
        APP["app/config.py"],
        "def load_cfg(path: str) -> dict:",
        'def load_cfg(path: str) -> dict:  # """Load the config."""',
    ).replace('  # """Load the config."""', '\n+    """Load the config."""')
}


@pytest.fixture
def repo(make_repo: RepoFactory) -> Path:
    return make_repo(APP)


def scripted(
    edits: list[dict[str, Any]], verdicts: list[dict[str, Any]], usage: Usage | None = None
) -> ScriptedProvider:
    """Plan app/config.py; then these edit answers and verdicts, each billed ``usage``."""
    provider = ScriptedProvider()

    def answers(*inputs: dict[str, Any]) -> list[Answer]:
        return [Answer.tool(i, usage=usage) for i in inputs]

    files = [{"path": "app/config.py", "action": "modify", "intent": "Rename load_cfg."}]
    plan = {"summary": "Rename.", "title": "Rename", "files": files}
    provider.enqueue(*answers(plan), label="brainstorm")
    provider.enqueue(*answers(*edits), label="edit:app/config.py")
    provider.enqueue(*answers(*verdicts), label="verify")
    return provider


def kinds(provider: ScriptedProvider) -> Counter[str]:
    return Counter(r.label.split(":")[0] for r in provider.requests)


def record_of(repo: Path, run_id: str) -> dict[str, Any]:
    path = repo / ".git" / "tinygen" / "runs" / run_id / "run.json"
    return dict(json.loads(path.read_text()))


def test_agreeing_samples_decide_the_edit_and_the_review(repo: Path) -> None:
    provider = scripted(
        [rename("app/config.py"), RENAME_COMMENTED, rename("app/config.py")], [approve()] * 3
    )
    result = run(
        Request("Rename load_cfg"),
        target(repo),
        Settings(vote=3, max_rounds=1),
        provider,
        model=MODEL,
    )
    assert result.status is Status.APPROVED, result.message
    assert kinds(provider) == {"brainstorm": 1, "edit": 3, "verify": 3}
    assert provider.pending() == {}
    edit = result.edits[0]
    assert edit.vote is not None and edit.attempts == 3
    assert list(edit.vote.votes.values()) == [3]  # comments and spacing did not split the vote
    assert (edit.vote.margin, edit.vote.decided, edit.vote.settled_by) == (3, True, "votes")
    assert result.verdict is not None and result.verdict.vote is not None
    assert result.verdict.vote.votes == {"approve": 3} and result.verdict.vote.confidence == 1.0
    assert not result.low_agreement
    assert "+def load_config" in result.diff
    # every sample read the same cached prompt (plan block and the file's own prompt)
    edits = provider.requests_for("edit")
    assert len({r.messages[0].content[1].text for r in edits}) == 1
    assert all(r.messages[0].content[1].cache for r in edits)
    record = record_of(repo, result.run_id)
    vote = record["result"]["files"][0]["vote"]
    assert (vote["samples"], vote["margin"], vote["red_flags"]) == (3, 3, {})
    assert record["result"]["verdict"]["vote"]["winner"] == "approve"


def test_red_flagged_samples_are_redrawn_and_counted_by_reason(repo: Path) -> None:
    # batch 1 (k=3): inexact, syntax, rename -> batch 2 (3 - 1 + a spare): empty, rename, rename
    good = rename("app/config.py")
    broken_here = {"diff": BROKEN["diff"].replace("app/main.py", "app/config.py")}
    edits = [BAD, broken_here, good, SAME, good, good]
    edits = [{"diff": e["diff"].replace("app/main.py", "app/config.py")} for e in edits]
    provider = scripted(edits, [])
    result = run(
        Request("Rename load_cfg"),
        target(repo),
        Settings(vote=3, max_rounds=0),
        provider,
        model=MODEL,
    )
    assert result.status is Status.UNVERIFIED, result.message
    vote = result.edits[0].vote
    assert vote is not None
    assert vote.samples == 6 and kinds(provider)["edit"] == 6
    assert sum(vote.red_flags.values()) == 3 and vote.votes and max(vote.votes.values()) == 3
    assert set(vote.red_flags) <= {"inexact", "syntax", "empty"}
    # no correction round: a flagged sample is discarded, never repaired
    assert not any(r.correction for r in provider.requests)


def test_an_undecided_vote_is_settled_by_the_checks(repo: Path) -> None:
    # 2 against 2 at max_samples: the plurality (the docstring, seen first) fails the check,
    # the runner-up (the rename) passes it and is kept
    provider = scripted(
        [DOC, rename("app/config.py"), DOC, rename("app/config.py")], [approve()] * 2
    )
    settings = Settings(
        vote=2, max_samples=4, max_rounds=1, checks=("grep -q load_config app/config.py",)
    )
    result = run(Request("Rename load_cfg"), target(repo), settings, provider, model=MODEL)
    assert result.status is Status.APPROVED, result.message
    vote = result.edits[0].vote
    assert vote is not None and not vote.decided
    assert vote.settled_by == "checks" and not result.low_agreement
    assert "+def load_config" in result.diff and "Load the config" not in result.diff
    assert result.checks and all(c.ok for c in result.checks)


def test_an_undecided_vote_without_checks_is_low_agreement(repo: Path) -> None:
    provider = scripted([DOC, rename("app/config.py"), DOC, rename("app/config.py")], [])
    settings = Settings(vote=2, max_samples=4, max_rounds=0)
    result = run(Request("Rename load_cfg"), target(repo), settings, provider, model=MODEL)
    assert result.low_agreement and result.to_dict()["low_agreement"] is True
    vote = result.edits[0].vote
    assert vote is not None and vote.settled_by == "plurality" and vote.margin == 0
    assert "Load the config" in result.diff  # the plurality: first seen of two tied outcomes
    record = record_of(repo, result.run_id)
    assert record["result"]["low_agreement"] is True
    assert record["result"]["files"][0]["vote"]["low_agreement"] is True


def test_deterministic_checks_win_over_an_approving_vote(repo: Path) -> None:
    provider = scripted([rename("app/config.py")] * 2, [approve()] * 2)
    settings = Settings(vote=2, max_rounds=1, checks=("exit 1",))
    result = run(Request("Rename load_cfg"), target(repo), settings, provider, model=MODEL)
    assert result.status is Status.CHECKS_FAILED
    assert result.verdict is not None and result.verdict.vote is not None
    assert result.verdict.vote.votes == {"approve": 2}


def test_a_split_review_revises(repo: Path) -> None:
    # round 1: approve, revise (lead 0) -> revise x3 (lead 3): revise; round 2: approve x2
    provider = scripted(
        [rename("app/config.py")] * 2,
        [approve(), *[revise("app/main.py")] * 4, approve(), approve()],
    )
    provider.enqueue(*[rename("app/main.py")] * 2, label="edit:app/main.py")
    settings = Settings(vote=2, max_rounds=2)
    result = run(Request("Rename load_cfg"), target(repo), settings, provider, model=MODEL)
    assert result.rounds == 2 and result.status is Status.APPROVED, result.message
    assert "+from app.config import load_config" in result.diff
    assert provider.pending() == {}
    verdict_1 = record_of(repo, result.run_id)["verdict_1"]
    assert verdict_1["vote"]["votes"] == {"approve": 1, "revise": 4}
    assert verdict_1["vote"]["winner"] == "revise" and verdict_1["vote"]["margin"] == 3


PRICES = {"claude-sonnet": {"input": 300, "output": 1500}}  # dear, so a small limit bites


@pytest.fixture
def dear(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps(PRICES))
    monkeypatch.setenv("TINYGEN_PRICES_FILE", str(prices))


def test_never_over_the_cost_limit_wherever_it_falls(repo: Path, dear: None) -> None:
    """Limits from below the first call to above the whole run: the spend never passes the
    limit, the refused call never reaches the provider, and a run stopped after its edit
    keeps the (validated) diff."""
    seen: Counter[tuple[str, bool]] = Counter()
    limits = [0.5 * 1.25**i for i in range(20)]
    # each call billed about what its prompt and a long answer cost (about $1 at these prices)
    billed = Usage(input_tokens=1500, output_tokens=300)
    for limit in limits:
        provider = scripted([rename("app/config.py")] * 3, [approve()] * 3, billed)
        settings = Settings(vote=3, max_rounds=1, max_tokens=400, max_cost=limit)
        result = run(Request("Rename load_cfg"), target(repo), settings, provider, model=MODEL)
        made = len(provider.history)
        assert result.calls == made
        assert result.cost_usd is not None and result.cost_usd <= limit, (limit, result.cost_usd)
        assert result.max_cost == limit
        if result.status is Status.BUDGET_EXCEEDED:
            assert result.status.exit_code == ExitCode.BUDGET_EXCEEDED
            assert "cost limit" in result.message
            if result.diff:  # the best valid diff so far: validated by the gate
                assert result.validation is not None and result.validation.ok
                assert git(repo, "apply", "--check", "-", input=result.diff) == ""
            record = record_of(repo, result.run_id)
            assert record["status"] == "budget_exceeded"
        else:
            assert result.status is Status.APPROVED, result.message
        seen[(str(result.status), bool(result.diff))] += 1
    # the limit fell before any call, mid-run after the edits, and past the whole run
    assert seen[("budget_exceeded", False)] and seen[("budget_exceeded", True)]
    assert seen[("approved", True)]


def test_the_cost_limit_uses_the_real_spend_of_finished_calls(repo: Path, dear: None) -> None:
    """Calls that cost less than their worst case leave room for more calls."""
    provider = scripted([rename("app/config.py")], [approve()])
    settings = Settings(max_rounds=1, max_tokens=400, max_cost=10.0)
    result = run(Request("Rename load_cfg"), target(repo), settings, provider, model=MODEL)
    assert result.status is Status.APPROVED
    spent = result.cost_usd or 0.0
    assert 0 < spent < 10.0 and result.usage == Usage(300, 30)


def test_the_estimate_makes_no_call_and_counts_votes(repo: Path) -> None:
    request = Request("Rename `load_cfg` to `load_config` everywhere")
    plain = estimate(request, target(repo), Settings(), model=MODEL)
    voted = estimate(request, target(repo), Settings(vote=3), model=MODEL)
    # load_cfg is defined in one file and used in two
    assert (plain.files.low, plain.files.expected) == (1, 3)
    assert "defining" in plain.files.how
    by_pass = {p.name: p for p in plain.passes}
    assert by_pass["brainstorm"].calls == 1 and by_pass["edit"].calls == 3
    assert by_pass["verify"].calls == 1
    assert by_pass["brainstorm"].usage.cache_write_tokens > 0
    assert by_pass["edit"].usage.cache_read_tokens > 0
    assert {p.name: p.calls for p in voted.passes}["edit"] > 3
    assert plain.cost_usd is not None and voted.cost_usd is not None
    assert plain.cost_low is not None and plain.cost_high is not None
    assert plain.cost_low <= plain.cost_usd <= plain.cost_high
    assert voted.cost_usd > plain.cost_usd
    assert git(repo, "worktree", "list").count("\n") == 1


def test_a_run_records_its_estimate_next_to_its_cost(repo: Path) -> None:
    provider = scripted([rename("app/config.py")], [approve()])
    result = run(
        Request("Rename load_cfg"), target(repo), Settings(max_rounds=1), provider, model=MODEL
    )
    assert result.estimate is not None
    data = result.to_dict()
    assert data["estimate"]["cost_usd"] > 0 and data["cost_usd"] > 0
    assert record_of(repo, result.run_id)["estimate"] == data["estimate"]
