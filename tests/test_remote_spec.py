"""parse_repo_spec: the forms --repo accepts, and the transport tricks it refuses."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tinygen.errors import RepoError
from tinygen.repo.clone import cache_path
from tinygen.repo.spec import parse_repo_spec


@pytest.mark.parametrize(
    ("text", "kind", "host", "full_name", "url"),
    [
        ("https://github.com/o/r", "https", "github.com", "o/r", "https://github.com/o/r"),
        ("https://github.com/o/r.git", "https", "github.com", "o/r", "https://github.com/o/r.git"),
        ("https://GitHub.com/o/r/", "https", "github.com", "o/r", "https://github.com/o/r"),
        ("git@github.com:o/r.git", "ssh", "github.com", "o/r", "git@github.com:o/r.git"),
        ("ssh://git@ghe.example:2222/o/r.git", "ssh", "ghe.example:2222", "o/r", None),
        ("https://gitlab.example/group/sub/r", "https", "gitlab.example", None, None),
        ("git://example.org/o/r", "git", "example.org", "o/r", None),
    ],
)
def test_urls(text: str, kind: str, host: str, full_name: str | None, url: str | None) -> None:
    spec = parse_repo_spec(text)
    assert (spec.kind, spec.host, spec.full_name) == (kind, host, full_name)
    assert spec.name == "r"
    if url is not None:
        assert spec.url == url


def test_deep_path_keeps_owner_segments() -> None:
    spec = parse_repo_spec("https://gitlab.example/group/sub/r.git")
    assert (spec.owner, spec.name, spec.full_name) == ("group/sub", "r", None)


@pytest.mark.parametrize(
    "text",
    [
        "ext::sh -c touch% /tmp/pwned",
        "fd::17",
        "foo::https://github.com/o/r",
        "ftp://example.org/o/r",
        "-uhttps://github.com/o/r",
        "ssh://-oProxyCommand=touch%20x/o/r",
        "git@-oProxyCommand=x:o/r",
        "git@github.com:-o/r",
        "https://github.com/o/r\n--upload-pack=x",
        "https://user:ghp_secretsecretsecretsecret1234@github.com/o/r",
        "https://github.com/",
        "",
        "   ",
    ],
)
def test_refused(text: str) -> None:
    with pytest.raises(RepoError) as info:
        parse_repo_spec(text)
    assert "cannot use" in str(info.value) or "does not exist" in str(info.value)
    assert "ghp_secret" not in str(info.value)
    assert info.value.hint


def test_local_checkout_bare_and_file(
    make_repo: Callable[..., Path], bare_remote: Callable[[Path], Path]
) -> None:
    repo = make_repo({"a.py": "x = 1\n"})
    (repo / "sub").mkdir()
    local = parse_repo_spec(str(repo / "sub"))
    assert (local.kind, local.url, local.name) == ("local", str(repo.resolve()), repo.name)
    assert local.is_local_checkout

    bare = bare_remote(repo)
    spec = parse_repo_spec(str(bare))
    assert (spec.kind, spec.url, spec.name) == ("bare", str(bare.resolve()), "repo0-remote")
    as_url = parse_repo_spec(f"file://{bare}")
    assert (as_url.kind, as_url.url) == ("file", f"file://{bare.resolve()}")


def test_allow_local_false_refuses_paths_and_file_urls(make_repo: Callable[..., Path]) -> None:
    repo = make_repo({"a.py": "x = 1\n"})
    for text in (str(repo), f"file://{repo}"):
        with pytest.raises(RepoError, match="local repositories are not allowed"):
            parse_repo_spec(text, allow_local=False)
    assert parse_repo_spec("https://github.com/o/r", allow_local=False).kind == "https"


def test_local_errors(tmp_path: Path) -> None:
    with pytest.raises(RepoError, match="does not exist") as info:
        parse_repo_spec("github.com/o/r")
    assert info.value.hint == "for GitHub use https://github.com/o/r"
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(RepoError, match="is not a git repository"):
        parse_repo_spec(str(plain))
    subprocess.run(["git", "init", "-q", str(tmp_path / "r")], check=True)
    with pytest.raises(RepoError, match=r"inside a \.git directory"):
        parse_repo_spec(str(tmp_path / "r" / ".git" / "refs"))


def test_cache_path_layout(tmp_path: Path, make_repo: Callable[..., Path]) -> None:
    spec = parse_repo_spec("https://github.com/o/r.git")
    assert cache_path(spec, tmp_path) == tmp_path / "github.com" / "o" / "r.git"
    assert cache_path(parse_repo_spec("git@github.com:o/r.git"), tmp_path) == cache_path(
        spec, tmp_path
    )
    ghe = parse_repo_spec("https://ghe.example:8443/team/sub/r")
    assert cache_path(ghe, tmp_path) == tmp_path / "ghe.example_8443" / "team" / "sub" / "r.git"
    # Two local repositories with the same name never share an entry.
    a = make_repo({"a": "1"}, name="same")
    b_parent = tmp_path / "other"
    b_parent.mkdir()
    subprocess.run(["git", "init", "-q", "--bare", str(b_parent / "same")], check=True)
    pa = cache_path(parse_repo_spec(str(a)), tmp_path)
    pb = cache_path(parse_repo_spec(str(b_parent / "same")), tmp_path)
    assert pa != pb and pa.name == pb.name == "same.git"
    assert tmp_path / "_local" in pb.parents


@pytest.mark.parametrize(
    ("text", "hint", "settings"),
    [
        (
            "https://github.com/o/r/tree/main",
            "use `repo` https://github.com/o/r with `ref` main",
            ("repo", "ref"),
        ),
        (
            "https://github.com/o/r/tree/feature/x",
            "use `repo` https://github.com/o/r with `ref` feature/x",
            ("repo", "ref"),
        ),
        (
            "https://github.com/o/r/pull/3",
            "use `repo` https://github.com/o/r with `to_pr` 3",
            ("repo", "to_pr"),
        ),
        (
            "https://github.com/o/r/pull/3/files",
            "use `repo` https://github.com/o/r with `to_pr` 3",
            ("repo", "to_pr"),
        ),
        (
            "https://github.com/o/r/commit/abc123",
            "use `repo` https://github.com/o/r with `ref` abc123",
            ("repo", "ref"),
        ),
        ("https://github.com/o/r/issues/9", "use `repo` https://github.com/o/r", ("repo",)),
    ],
)
def test_github_web_pages_are_refused_with_the_right_settings(
    text: str, hint: str, settings: tuple[str, ...]
) -> None:
    """The hint names settings (each front end spells them: --ref, the request's ``ref``)."""
    with pytest.raises(RepoError, match="web page, not a repository URL") as info:
        parse_repo_spec(text)
    assert info.value.hint == hint and info.value.settings == settings


def test_default_ports_and_case_make_one_host_and_one_cache_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tinygen.repo.auth import token_for

    spec = parse_repo_spec("https://github.com:443/o/r")
    assert (spec.host, spec.url) == ("github.com", "https://github.com/o/r")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_" + "t" * 36)
    assert token_for(spec.url) == "ghp_" + "t" * 36  # the token goes to github.com:443 too
    assert parse_repo_spec("https://ghe.example:8443/o/r").host == "ghe.example:8443"
    assert parse_repo_spec("http://example.org:80/o/r").host == "example.org"
    upper = cache_path(parse_repo_spec("https://github.com/Octo/Demo"), tmp_path)
    assert upper == cache_path(parse_repo_spec("git@github.com:octo/demo.git"), tmp_path)
    # elsewhere case may matter: two entries
    a = cache_path(parse_repo_spec("https://git.example/Octo/Demo"), tmp_path)
    assert a != cache_path(parse_repo_spec("https://git.example/octo/demo"), tmp_path)
    with pytest.raises(RepoError, match="port is not a number"):
        parse_repo_spec("https://github.com:x/o/r")
