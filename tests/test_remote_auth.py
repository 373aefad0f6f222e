"""Which token goes where, and how it travels (environment-only git config)."""

from __future__ import annotations

import base64

import pytest

from tinygen.errors import RepoError
from tinygen.repo.auth import token_for
from tinygen.repo.network import network_env


def test_explicit_token_goes_only_over_https() -> None:
    assert token_for("https://ghe.example/o/r", "t0ken-value") == "t0ken-value"
    assert token_for("git@github.com:o/r.git", "t0ken-value") is None  # ssh uses its keys
    assert token_for("file:///srv/r.git", "t0ken-value") is None
    with pytest.raises(RepoError, match="refusing to send a token over plain http"):
        token_for("http://github.com/o/r", "t0ken-value")


def test_env_token_only_for_github_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "env-token-value")
    assert token_for("https://github.com/o/r") == "env-token-value"
    assert token_for("https://evil.example/o/r") is None
    assert token_for("http://github.com/o/r") is None
    assert token_for("git@github.com:o/r.git") is None
    monkeypatch.setenv("GITHUB_API_URL", "https://ghe.corp/api/v3")
    assert token_for("https://ghe.corp/o/r") == "env-token-value"
    monkeypatch.setenv("GITHUB_API_URL", "https://api.github.com")
    assert token_for("https://api.github.com/o/r") is None
    monkeypatch.delenv("GITHUB_TOKEN")
    monkeypatch.setenv("GH_TOKEN", "gh-token-value")
    assert token_for("https://github.com/o/r") == "gh-token-value"


def test_network_env_scopes_the_header_and_appends_to_existing_config(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", "core.abbrev")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", "12")
    env = network_env("https://github.com:443/o/r.git", "secret-token-1")
    assert env["GIT_CONFIG_COUNT"] == "3"
    assert "GIT_CONFIG_KEY_0" not in env  # the caller's entry is kept as it was
    key = "http.https://github.com:443/.extraHeader"
    assert (env["GIT_CONFIG_KEY_1"], env["GIT_CONFIG_VALUE_1"]) == (key, "")  # reset first
    assert env["GIT_CONFIG_KEY_2"] == key
    scheme, _, encoded = env["GIT_CONFIG_VALUE_2"].partition(": Basic ")
    assert scheme == "Authorization"
    assert base64.b64decode(encoded).decode() == "x-access-token:secret-token-1"
    assert env["GIT_ALLOW_PROTOCOL"] == "https:http:ssh:git:file"
    assert "secret-token-1" not in " ".join(f"{k}={v}" for k, v in env.items())


def test_network_env_without_token_or_local() -> None:
    env = network_env("https://github.com/o/r", None, allow_local=False)
    assert not any(k.startswith("GIT_CONFIG") for k in env)
    assert env["GIT_ALLOW_PROTOCOL"] == "https:http:ssh:git"
    assert env["GIT_SSH_COMMAND"] == "ssh -o BatchMode=yes"
