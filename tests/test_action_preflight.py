"""`tinygen action` checks what it can before its first network call (issue 12 items 17, 18,
23): a missing model key or token, an invalid input, a workflow_dispatch ``issue`` that is
not a number, and an address that would carry the token in plain http all fail at once —
no request to GitHub (no 👀, no status comment), no model call — with the reason as an
error annotation and in the outputs. An event that is skipped anyway needs no key. The
real CLI, the fake GitHub (real PyGithub) and the fake Messages API."""

from __future__ import annotations

from typing import Any

import pytest

from tests.test_action_e2e import REPO, World, script_rename, w  # noqa: F401 (the fixture)
from tinygen.action.preflight import key_hint
from tinygen.errors import ExitCode


def nothing_was_sent(world: World) -> bool:
    return world.gh.requests == [] and world.llm.requests == []


def labeled(world: World) -> int:
    number = world.gh.add_issue(REPO, "Rename load_cfg", body="Rename it to load_config.")
    world.event("issues-labeled", issue__number=number)
    return number


def test_no_model_key_fails_before_github_hears_of_it(w: World) -> None:  # noqa: F811
    del w.env["ANTHROPIC_API_KEY"]
    number = labeled(w)
    result = w.run()
    assert result.exit_code == ExitCode.CONFIG, result.output
    assert w.outputs["status"] == "failed"
    assert "::error" in result.stderr and "no Anthropic API key" in result.stderr
    assert "anthropic-api-key" in result.stderr  # what to do, in the workflow's words
    assert "name it in the `model` input" in result.stderr
    assert nothing_was_sent(w) and w.gh.comments(REPO, number) == []


def test_a_skipped_event_needs_no_model_key(w: World) -> None:  # noqa: F811
    del w.env["ANTHROPIC_API_KEY"]
    w.event("push")
    result = w.run()
    assert result.exit_code == 0, result.output
    assert w.outputs["status"] == "skipped"


def test_a_named_model_is_checked_for_its_own_key(w: World) -> None:  # noqa: F811
    w.env["TINYGEN_INPUT_MODEL"] = "openai:gpt-4.1-mini"
    labeled(w)
    result = w.run()
    assert result.exit_code == ExitCode.CONFIG, result.output
    assert "OPENAI_API_KEY" in result.stderr
    assert nothing_was_sent(w)


def test_no_github_token_fails_before_any_request(w: World) -> None:  # noqa: F811
    del w.env["GITHUB_TOKEN"]
    labeled(w)
    result = w.run()
    assert result.exit_code == ExitCode.CONFIG, result.output
    assert w.outputs["status"] == "failed" and "no GitHub token" in result.stderr
    assert "github-token" in result.stderr
    assert nothing_was_sent(w)


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("GITHUB_SERVER_URL", "http://github.example", "plain http"),
        ("GITHUB_API_URL", "http://api.github.example", "plain http"),
    ],
)
def test_a_plain_http_address_is_refused_before_the_first_write(
    w: World,  # noqa: F811
    variable: str,
    value: str,
    says: str,
) -> None:
    del w.env["TINYGEN_REPO_URL"]  # clone from GITHUB_SERVER_URL, as in a real workflow
    w.env[variable] = value
    number = labeled(w)
    result = w.run()
    assert result.exit_code == ExitCode.REPO, result.output
    assert w.outputs["status"] == "failed" and says in result.stderr
    assert "::error" in result.stderr
    assert nothing_was_sent(w) and w.gh.comments(REPO, number) == []  # no 👀, no comment


def test_an_invalid_input_fails_before_the_first_write(w: World) -> None:  # noqa: F811
    w.env["TINYGEN_INPUT_MAX_ROUNDS"] = "many"
    labeled(w)
    result = w.run()
    assert result.exit_code == ExitCode.CONFIG, result.output
    assert "max-rounds" in result.stderr and "'many'" in result.stderr
    assert nothing_was_sent(w)


@pytest.mark.parametrize("issue", ["abc", "0", "-3", "1.5", "12 13", True, 4.5, [12]])
def test_a_dispatch_issue_that_is_no_number_is_refused(w: World, issue: Any) -> None:  # noqa: F811
    w.event("workflow_dispatch", inputs__prompt="Rename load_cfg", inputs__issue=issue)
    result = w.run()
    assert result.exit_code == ExitCode.CONFIG, result.output
    assert w.outputs["status"] == "failed"
    assert "the workflow_dispatch input 'issue' is" in result.stderr
    assert "not an issue number" in result.stderr and "leave it empty" in result.stderr
    assert nothing_was_sent(w)


@pytest.mark.parametrize(
    ("issue", "number"), [("", None), ("  ", None), ("#7", 7), (" 7 ", 7), (7, 7)]
)
def test_a_dispatch_issue_number_is_read(w: World, issue: Any, number: int | None) -> None:  # noqa: F811
    w.event("workflow_dispatch", inputs__prompt="Rename load_cfg", inputs__issue=issue)
    result = w.run("--dry-run")
    assert result.exit_code == 0, result.output
    assert f'"number": {"null" if number is None else number}' in result.stdout


def test_the_key_hint_names_the_input_that_names_the_model() -> None:
    assert "name it in the `summary-model` input" in key_hint("summary-model")
    assert "name it in the `model` input" in key_hint("model")
    assert "`model` input" not in key_hint("summary-model")
