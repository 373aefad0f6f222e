"""The verify pass alone: a scripted provider and a real repository."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RepoFactory
from tests.helpers import pass_context
from tinygen.errors import LLMOutputError, PathPolicyError
from tinygen.models import Plan, PlanItem, Revision, Verdict
from tinygen.passes.verify import MAX_DIFF_CHARS, verify
from tinygen.testing import ScriptedProvider, prompt_text
from tinygen.validate import PathPolicy

PLAN = Plan("Rename.", "Rename", (PlanItem("app/config.py", "modify", "Rename."),))
DIFF = "diff --git a/app/config.py b/app/config.py\n--- a/app/config.py\n+++ b/app/config.py\n"


@pytest.fixture
def repo(make_repo: RepoFactory) -> Path:
    return make_repo({"app/config.py": "X = 1\n", "app/main.py": "Y = 2\n"})


def review(approved: bool, summary: str = "ok", *revisions: tuple[str, str]) -> dict[str, Any]:
    return {
        "approved": approved,
        "summary": summary,
        "revisions": [{"path": p, "feedback": f} for p, f in revisions],
    }


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        pytest.param(
            review(True, " Looks right. "), Verdict(True, "Looks right.", (), 2), id="approve"
        ),
        pytest.param(
            review(False, "No.", ("app/main.py", " Also rename here. ")),
            Verdict(False, "No.", (Revision("app/main.py", "Also rename here."),), 2),
            id="revise",
        ),
        pytest.param(
            review(True, "ok", ("app/main.py", "one")),
            Verdict(False, "ok", (Revision("app/main.py", "one"),), 2),
            id="approved-with-revisions-is-not-approved",
        ),
        pytest.param(
            review(False, "", ("app/main.py", "one"), ("./app/main.py", "two")),
            Verdict(False, "", (Revision("app/main.py", "one\ntwo"),), 2),
            id="revisions-of-one-file-merged",
        ),
        pytest.param(review(False, "Just no."), Verdict(False, "Just no.", (), 2), id="refuse"),
    ],
)
def test_verdicts(repo: Path, answer: dict[str, Any], expected: Verdict) -> None:
    provider = ScriptedProvider()
    provider.enqueue(answer, label="verify")
    assert (
        verify(pass_context(repo, provider), PLAN, DIFF, "Gate: passed", 2, PathPolicy())
        == expected
    )


def test_a_revision_outside_the_repository_fails_the_pass(repo: Path) -> None:
    provider = ScriptedProvider(review(False, "x", ("../../etc/passwd", "edit it")))
    with pytest.raises(PathPolicyError):
        verify(pass_context(repo, provider), PLAN, DIFF, "", 1, PathPolicy())


def test_the_reviewer_sees_the_diff_the_validation_and_the_plan(repo: Path) -> None:
    provider = ScriptedProvider(review(True))
    validation = "Gate: FAILED\n- [syntax] app/config.py: 1 new syntax error"
    verify(pass_context(repo, provider), PLAN, DIFF, validation, 1, PathPolicy())
    (request,) = provider.requests
    text = prompt_text(request)
    assert DIFF in text and validation in text
    assert "- modify app/config.py: Rename." in text  # the plan block
    assert request.label == "verify" and request.tool is not None
    assert request.tool.name == "submit_review"


def test_a_huge_diff_is_cut(repo: Path) -> None:
    provider = ScriptedProvider(review(True))
    diff = DIFF + "+" + "x" * (MAX_DIFF_CHARS + 100) + "\n"
    verify(pass_context(repo, provider), PLAN, diff, "", 1, PathPolicy())
    text = prompt_text(provider.requests[0])
    assert "[... diff cut ...]" in text and "x" * (MAX_DIFF_CHARS + 100) not in text


def test_an_answer_that_does_not_fit_the_schema_is_corrected_once(repo: Path) -> None:
    provider = ScriptedProvider({"summary": "no approved field"}, review(True))
    assert verify(pass_context(repo, provider), PLAN, DIFF, "", 1, PathPolicy()).approved
    provider = ScriptedProvider({"summary": "x"}, {"summary": "y"})
    with pytest.raises(LLMOutputError, match="after one correction"):
        verify(pass_context(repo, provider), PLAN, DIFF, "", 1, PathPolicy())
