from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import commit_all, write_files
from tinygen.config import Settings, load_settings
from tinygen.errors import ConfigError


def test_defaults_without_any_source(make_repo) -> None:
    root = make_repo({"a.py": "x = 1\n"})
    assert load_settings(root, env={}) == Settings()


def test_priority_file_then_env_then_flags(make_repo) -> None:
    root = make_repo({".tinygen.toml": 'budget = 3000\njobs = 2\nchecks = ["pytest -q"]\n'})
    s = load_settings(root, env={"TINYGEN_JOBS": "6"})
    assert (s.budget, s.jobs, s.checks) == (3000, 6, ("pytest -q",))
    s = load_settings(root, {"jobs": 8, "budget": None}, env={"TINYGEN_JOBS": "6"})
    assert (s.budget, s.jobs) == (3000, 8)


def test_pyproject_section_and_dashed_keys(make_repo) -> None:
    root = make_repo(
        {"pyproject.toml": '[tool.tinygen]\nmax-rounds = 1\nprotected-paths = ["secret/**"]\n'}
    )
    s = load_settings(root, env={})
    assert s.max_rounds == 1
    assert s.protected_paths == ("secret/**", ".tinygen.toml")  # the config file always is


def test_config_is_read_from_the_base_commit_not_the_working_tree(make_repo) -> None:
    root = make_repo({".tinygen.toml": "budget = 1111\n"})
    base = commit_all(root, "base")
    write_files(root, {".tinygen.toml": "budget = 9999\n"})  # uncommitted, e.g. a PR head
    assert load_settings(root, env={}, commit=base).budget == 1111
    assert load_settings(root, env={}).budget == 9999


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("budget = 'lots'\n", "budget"),
        ("colour = 'blue'\n", "unknown setting 'colour'"),
        ("budget = [\n", "cannot parse"),
        ("jobs = 0\n", "jobs must be at least 1"),
        ("checks = 5\n", "checks"),
    ],
)
def test_bad_config_names_the_problem(make_repo, content: str, words: str) -> None:
    root = make_repo({".tinygen.toml": content})
    with pytest.raises(ConfigError) as info:
        load_settings(root, env={})
    assert words in str(info.value)


def test_bad_env_value_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(None, env={"TINYGEN_MAX_ROUNDS": "two"})
    assert "TINYGEN_MAX_ROUNDS" in str(info.value)


def test_a_bad_override_names_the_setting_never_a_flag() -> None:
    """An override comes from a flag, an Action input or a request field: the library names
    the setting and lists it in ``settings``, and each front end words the remedy."""
    with pytest.raises(ConfigError) as info:
        load_settings(None, {"max_rounds": "lots"}, env={})
    exc = info.value
    assert exc.message.startswith("setting `max_rounds` = 'lots' is not valid"), exc.message
    assert exc.settings == ("max_rounds",)
    assert "--" not in str(exc)


def test_env_checks_is_one_command_and_lists_split_on_commas() -> None:
    s = load_settings(
        None,
        env={"TINYGEN_CHECKS": "pytest -q, --maxfail=1", "TINYGEN_ALLOWED_PATHS": "a/**, b/**"},
    )
    assert s.checks == ("pytest -q, --maxfail=1",)
    assert s.allowed_paths == ("a/**", "b/**")


def test_the_config_file_stays_protected_whatever_protected_paths_says(make_repo) -> None:
    root = make_repo({".tinygen.toml": 'protected-paths = ["secrets/**"]\n'})
    assert load_settings(root, env={}).protected_paths == ("secrets/**", ".tinygen.toml")
    allowed = make_repo(
        {".tinygen.toml": 'protected-paths = []\nallowed-paths = [".tinygen.toml"]\n'}
    )
    s = load_settings(allowed, env={})
    assert s.protected_paths == (".tinygen.toml",) and s.allowed_paths == (".tinygen.toml",)
