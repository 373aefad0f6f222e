"""The git runner (GitPython command objects) and the guards on network commands."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import RepoFactory
from tests.helpers import git as sh_git
from tinygen.errors import RepoError
from tinygen.repo.clone import open_repository
from tinygen.repo.git import git, git_bytes
from tinygen.repo.network import git_network, run_network
from tinygen.repo.spec import RepoSpec

# --- which commands load GitPython ---------------------------------------------------------

_PROBE = """
import sys
from click.testing import CliRunner
from tinygen.cli import cli
result = CliRunner().invoke(cli, sys.argv[1:])
assert result.exit_code == 0, result.output
before = "git" in sys.modules
from tinygen.repo.git import git
git(["rev-parse", "HEAD"], sys.argv[2])
print(f"MAP={before} AFTER={'git' in sys.modules}")
"""


@pytest.mark.parametrize("extra", [[], ["--query", "main", "--budget", "500", "--json"]])
def test_map_never_imports_gitpython_and_git_commands_do(
    make_repo: RepoFactory, extra: list[str]
) -> None:
    """`tinygen map` runs git through subprocess (GitPython's import would cost about half
    its warm budget); every other git command goes through GitPython."""
    root = make_repo({"main.py": "def main():\n    return 1\n"})
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, "map", str(root), *extra],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "MAP=False AFTER=True" in proc.stdout


def test_importing_any_repo_module_loads_no_gitpython() -> None:
    """GitPython is imported inside the functions that run git, never by an import."""
    code = (
        "import importlib, pkgutil, sys, tinygen.repo\n"
        "for m in pkgutil.iter_modules(tinygen.repo.__path__, 'tinygen.repo.'):\n"
        "    importlib.import_module(m.name)\n"
        "print(sorted(m for m in sys.modules if m == 'git' or m.startswith('git.')))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"


# --- the runner ------------------------------------------------------------------------------


def test_input_reaches_git_and_output_is_exact(make_repo: RepoFactory) -> None:
    root = make_repo({"a.txt": "a\n\n"})
    sha = git(["hash-object", "-w", "--stdin"], root, input="x\n").strip()
    assert sha == sh_git(root, "hash-object", "--stdin", input="x\n").strip()
    # stdout is returned byte for byte (no trailing newline removed)
    assert git_bytes(["cat-file", "blob", "HEAD:a.txt"], root).stdout == b"a\n\n"


def test_our_environment_wins_and_a_call_env_stays_in_its_call(
    make_repo: RepoFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_repo({"a.txt": "a\n"})
    monkeypatch.setenv("GIT_TERMINAL_PROMPT", "1")
    monkeypatch.setenv("LC_ALL", "de_DE.UTF-8")
    monkeypatch.setenv("TINYGEN_PROBE_INHERITED", "kept")
    show_env = ["-c", "alias.showenv=!env", "showenv"]
    env = dict(
        line.split("=", 1)
        for line in git(show_env, root, env={"TINYGEN_PROBE_CALL": "only-here"}).splitlines()
        if "=" in line
    )
    assert env["GIT_TERMINAL_PROMPT"] == "0" and env["LC_ALL"] == "C"
    assert env["TINYGEN_PROBE_INHERITED"] == "kept"
    assert env["TINYGEN_PROBE_CALL"] == "only-here"
    assert "TINYGEN_PROBE_CALL" not in git(show_env, root)


def test_a_missing_folder_is_an_error_not_the_current_directory(tmp_path: Path) -> None:
    with pytest.raises(RepoError, match="is not a folder git can run in"):
        git(["rev-parse", "--show-toplevel"], tmp_path / "missing")


def test_a_command_over_its_timeout_is_killed(make_repo: RepoFactory) -> None:
    root = make_repo({"a.txt": "a\n"})
    with pytest.raises(RepoError, match=r"timed out after 0\.5 s"):
        git(["-c", "alias.nap=!sleep 30", "nap"], root, timeout=0.5)


def test_failures_name_the_command_and_git_reason(make_repo: RepoFactory) -> None:
    root = make_repo({"a.txt": "a\n"})
    with pytest.raises(
        RepoError, match=r"git cat-file blob failed in .*path .missing. does not exist"
    ):
        git(["cat-file", "blob", "HEAD:missing"], root)
    proc = git_bytes(["cat-file", "blob", "HEAD:missing"], root, check=False)
    assert proc.returncode == 128 and b"missing" in proc.stderr


# --- GitPython's guards on network commands -----------------------------------------------------


@pytest.fixture
def remote(make_repo: RepoFactory, tmp_path: Path) -> tuple[Path, str]:
    """A checkout and the file:// URL of a bare copy of it."""
    root = make_repo({"a.txt": "a\n"})
    bare = tmp_path / "remote.git"
    sh_git(tmp_path, "clone", "--bare", "-q", str(root), str(bare))
    return root, f"file://{bare}"


@pytest.mark.parametrize(
    "args",
    [
        ["fetch", "--upload-pack=touch {marker}", "{url}", "HEAD"],
        ["fetch", "--upl=touch {marker}", "{url}", "HEAD"],  # git accepts abbreviations
        ["ls-remote", "--upload-pack=touch {marker}", "{url}"],
        ["ls-remote", "--exec=touch {marker}", "{url}"],
        ["push", "--receive-pack=touch {marker}", "{url}", "HEAD:refs/heads/x"],
        ["push", "--exec=touch {marker}", "{url}", "HEAD:refs/heads/x"],
        ["clone", "-u", "touch {marker}", "{url}", "{marker}-clone"],
        ["clone", "-c", "core.sshCommand=touch {marker}", "{url}", "{marker}-clone"],
    ],
)
def test_options_that_run_commands_are_refused(
    remote: tuple[Path, str], tmp_path: Path, args: list[str]
) -> None:
    root, url = remote
    marker = tmp_path / "ran"
    filled = [a.format(marker=marker, url=url) for a in args]
    with pytest.raises(RepoError, match=f"refusing to run git {args[0]}"):
        git_network(filled, root, url=url, token=None, what="test")
    assert not list(tmp_path.glob("ran*")), "git ran the command"


def test_the_same_command_without_the_option_runs(remote: tuple[Path, str]) -> None:
    root, url = remote
    out = git_network(["ls-remote", "--end-of-options", url], root, url=url, token=None, what="x")
    assert "refs/heads/main" in out


@pytest.mark.parametrize("url", ["ext::sh -c touch% {marker}", "ext://sh/{marker}", "fd::17"])
def test_transport_helpers_are_refused(remote: tuple[Path, str], tmp_path: Path, url: str) -> None:
    root, _ = remote
    marker = tmp_path / "ran"
    bad = url.format(marker=marker)
    with pytest.raises(RepoError, match="refusing to run git ls-remote"):
        run_network(["ls-remote", "--end-of-options", bad], root, url=bad, token=None)
    # an operand other than the URL is checked too
    with pytest.raises(RepoError, match="refusing to run git fetch"):
        run_network(["fetch", "origin", bad], root, url="https://example.invalid/o/r", token=None)
    assert not marker.exists()


def test_a_spec_built_by_hand_with_a_transport_helper_is_refused(
    tmp_path: Path,
) -> None:
    """parse_repo_spec refuses ext:: first; GitPython's check (Remote.create) still stops a
    RepoSpec made without it before git is asked to fetch anything."""
    marker = tmp_path / "ran"
    spec = RepoSpec(kind="https", url=f"ext::sh -c touch% {marker}", host="x", owner="o", name="r")
    with pytest.raises(RepoError, match="cannot create the clone cache"):
        open_repository(spec, cache_dir=tmp_path / "cache")
    assert not marker.exists()
    assert not any((tmp_path / "cache").rglob("HEAD")), "a half-made cache entry was left"


def test_a_network_command_gitpython_has_no_list_for_is_refused(
    remote: tuple[Path, str],
) -> None:
    root, url = remote
    with pytest.raises(RepoError, match="not a network command"):
        run_network(["archive", "--remote", url, "HEAD"], root, url=url, token=None)
