"""How the CLI prints a library error: the hint as the library wrote it (naming settings),
followed by the flags that set them; the library's text itself names no flag."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from tinygen.cli import cli
from tinygen.commands.flags import FLAGS, error_text, spelled
from tinygen.config import Settings, load_settings
from tinygen.errors import ConfigError, ExitCode, LLMContextError, RepoError


def test_hints_get_the_flags_of_the_settings_they_name() -> None:
    exc = LLMContextError("the prompt is too long", hint="lower `budget`", settings=("budget",))
    assert error_text(exc) == "the prompt is too long\n  hint: lower `budget` (--budget)"
    both = RepoError("x", hint="use `repo` U with `ref` main", settings=("repo", "ref"))
    assert error_text(both).endswith("hint: use `repo` U with `ref` main (--repo, --ref)")


def test_a_bad_override_is_answered_with_its_flag() -> None:
    """The library names the setting (`max_rounds`); the CLI adds the flag that sets it."""
    with pytest.raises(ConfigError) as info:
        load_settings(None, {"max_rounds": "lots", "vote": "x"}, env={})
    text = error_text(info.value)
    assert text.startswith("setting `max_rounds` = 'lots' is not valid"), text
    assert text.endswith("hint: fix the value or remove it to use the default (--max-rounds)")


def test_settings_without_a_flag_are_spelled_as_their_variable() -> None:
    assert spelled(("max_tokens", "request_timeout")) == [
        "TINYGEN_MAX_TOKENS",
        "TINYGEN_REQUEST_TIMEOUT",
    ]
    assert spelled(("jobs", "jobs", "no_such_setting")) == ["--jobs"]
    exc = RepoError("x", hint="check the URL")  # names no setting: printed as it is
    assert error_text(exc) == "x\n  hint: check the URL"
    assert error_text(RepoError("x")) == "x"


def test_every_setting_has_a_spelling() -> None:
    for name in Settings.__dataclass_fields__:
        assert spelled((name,)), name
    assert all(flag.startswith("--") for flag in FLAGS.values())


def test_a_web_page_url_is_answered_with_the_flags_to_use() -> None:
    result = CliRunner().invoke(
        cli,
        ["run", "--repo", "https://github.com/o/r/tree/main", "Rename it"],
        env={"ANTHROPIC_API_KEY": "sk-ant-unused"},
    )
    assert result.exit_code == ExitCode.REPO, result.output
    assert "it is a web page, not a repository URL" in result.output
    assert "hint: use `repo` https://github.com/o/r with `ref` main (--repo, --ref)" in (
        result.output
    )
