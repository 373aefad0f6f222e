from __future__ import annotations

from pathlib import Path

import pytest

from tinygen.redact import hidden_paths, redact


@pytest.mark.parametrize(
    "secret",
    [
        "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWx",
        "ghp_0123456789abcdefghijABCDEFGHIJ",
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnop",
        "AKIAABCDEFGHIJKLMNOP",
    ],
)
def test_known_secret_shapes_are_masked(secret: str) -> None:
    out = redact(f"failed with {secret} in the middle")
    assert secret not in out
    assert "failed with" in out and "in the middle" in out


def test_headers_and_url_credentials_are_masked() -> None:
    out = redact(
        "Authorization: Bearer abc.def.ghi x-api-key: k123456 https://user:p4ssw0rd@host/x"
    )
    for secret in ("abc.def.ghi", "k123456", "p4ssw0rd"):
        assert secret not in out
    assert "https://user:***@host/x" in out


def test_values_of_secret_environment_variables_are_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_SERVICE_TOKEN", "plain-looking-value-42")
    assert "plain-looking-value-42" not in redact("token was plain-looking-value-42")


def test_extra_values_are_masked() -> None:
    assert redact("hello s3cr3tvalue", extra=["s3cr3tvalue"]) == "hello ***"


def test_hidden_paths_show_a_placeholder_while_registered(tmp_path: Path) -> None:
    cache = tmp_path / "clones"
    text = f"git fetch failed in {cache}/github.com/o/r.git"
    with hidden_paths({cache: "<server cache>"}):
        assert redact(text) == "git fetch failed in <server cache>/github.com/o/r.git"
        with hidden_paths({cache: "<server cache>"}):  # a second server on the same cache
            pass
        assert redact(text) == "git fetch failed in <server cache>/github.com/o/r.git"
        assert redact(f"in {tmp_path}/other") == f"in {tmp_path}/other", "only the cache"
    assert redact(text) == text
