"""pipeline.run_and_deliver in process: a scripted provider, the in-memory forge, a real
checkout with a local bare remote. What each way a run ends leaves on the remote and on
the forge."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import RepoFactory
from tests.helpers import git, loose_diff, status
from tinygen.delivery.options import DeliveryOptions
from tinygen.delivery.prepare import prepare
from tinygen.errors import ExitCode, LLMOverloadedError
from tinygen.models import Request
from tinygen.pipeline import open_workspace, run_and_deliver
from tinygen.testing import InMemoryForge, ScriptedProvider

REPO = "octo/app"
CONFIG = "def load_cfg(path: str) -> dict:\n    return {}\n"
MAIN = "from app.config import load_cfg\n\nload_cfg('x')\n"
PLAN = {
    "summary": "Rename load_cfg to load_config.",
    "title": "Rename load_cfg",
    "files": [{"path": "app/config.py", "action": "modify", "intent": "Rename."}],
}
EDIT = {"diff": loose_diff("app/config.py", CONFIG, "load_cfg", "load_config")}
APPROVE = {"approved": True, "summary": "Looks right.", "revisions": []}
REFUSE = {"approved": False, "summary": "Callers break.", "revisions": []}


@pytest.fixture
def checkout(make_repo: RepoFactory, bare_remote: Callable[[Path], Path]) -> tuple[Path, Path]:
    work = make_repo({"app/__init__.py": "", "app/config.py": CONFIG, "app/main.py": MAIN})
    return work, bare_remote(work)


def deliver_pr(
    checkout: tuple[Path, Path], provider: ScriptedProvider, **settings: object
) -> tuple[InMemoryForge, int, object]:
    work, bare = checkout
    forge = InMemoryForge()
    forge.add_repo(REPO, remote=bare)
    issue = forge.add_issue(REPO, "Rename load_cfg", "Please.")
    workspace = open_workspace(
        str(work), provider=provider, overrides={"model": "claude-sonnet-4-6", **settings}
    )
    opts = DeliveryOptions(pr=True, issue=issue.number)
    prepared = prepare(opts, workspace.opened, forge=forge, full_name=REPO, token="t0ken")
    outcome = run_and_deliver(
        Request("Rename load_cfg", "issue", issue.number), workspace, prepared
    )
    return forge, issue.number, outcome


def test_an_approved_change_becomes_a_draft_pull_request(checkout: tuple[Path, Path]) -> None:
    work, bare = checkout
    before = status(work)
    provider = ScriptedProvider()
    provider.enqueue(PLAN, label="brainstorm")
    provider.enqueue(EDIT, label="edit")
    provider.enqueue(APPROVE, label="verify")
    forge, issue, outcome = deliver_pr(checkout, provider)

    assert outcome.exit_code == ExitCode.OK, outcome.error or outcome.delivery_error
    (pull,) = forge.repos[REPO].pulls.values()
    assert (pull.head_ref, pull.base_ref, pull.draft) == ("tinygen/issue-1", "main", True)
    assert f"Closes #{issue}" in pull.body and pull.title
    # the pushed commit holds exactly the validated diff
    head = git(bare, "rev-parse", f"refs/heads/{pull.head_ref}").strip()
    assert pull.head_sha == head
    shipped = git(bare, "diff", "main", head)
    assert "+def load_config(path: str) -> dict:" in shipped
    assert outcome.result is not None and outcome.result.diff.endswith(shipped.split("\n", 4)[-1])
    assert outcome.delivered is not None and outcome.delivered.pr_created
    assert status(work) == before  # the checkout is untouched
    assert forge.count("repo") == 1  # looked up once, when prepared


def test_an_unapproved_change_is_kept_in_a_draft_that_says_so(checkout: tuple[Path, Path]) -> None:
    provider = ScriptedProvider()
    provider.enqueue(PLAN, label="brainstorm")
    provider.enqueue(EDIT, label="edit")
    provider.enqueue(REFUSE, label="verify")
    forge, _, outcome = deliver_pr(checkout, provider, max_rounds=1)
    assert outcome.exit_code == ExitCode.UNAPPROVED
    (pull,) = forge.repos[REPO].pulls.values()  # the work is kept, said to be unapproved
    assert pull.draft and pull.title.startswith("[unapproved]")


def test_no_change_opens_nothing(checkout: tuple[Path, Path]) -> None:
    provider = ScriptedProvider({"summary": "Already done.", "title": "t", "files": []})
    forge, _, outcome = deliver_pr(checkout, provider)
    assert outcome.exit_code == ExitCode.NO_CHANGE
    assert forge.repos[REPO].pulls == {}
    assert forge.count("create_or_update_pull") == 0


def test_a_run_that_fails_after_its_diff_still_ships_it_as_a_stated_failure(
    checkout: tuple[Path, Path],
) -> None:
    _, bare = checkout
    provider = ScriptedProvider()
    provider.enqueue(PLAN, label="brainstorm")
    provider.enqueue(EDIT, label="edit")
    provider.enqueue(LLMOverloadedError("overloaded after 3 attempts"), label="verify")
    forge, _, outcome = deliver_pr(checkout, provider)
    assert isinstance(outcome.error, LLMOverloadedError)
    assert outcome.exit_code == ExitCode.LLM
    assert outcome.delivered is not None and outcome.delivered.branch is not None
    branch = outcome.delivered.branch
    assert "+def load_config" in git(bare, "diff", "main", f"refs/heads/{branch}")
    (pull,) = forge.repos[REPO].pulls.values()
    assert pull.draft and pull.title.startswith("[failed]")  # never offered as ready
    assert pull.head_ref == branch
