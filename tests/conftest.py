"""Shared fixtures: an isolated environment per test and real git repositories in tmp_path."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import commit_all, init_repo, write_files

# CI must be reproducible: the same examples on every run (a red CI blocks landing). Local
# runs keep exploring new random examples; a failure found there becomes a regression test.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """``-n auto`` (the default, see pyproject.toml): two workers per CPU. A test spends
    much of its time waiting (git and tinygen subprocesses, local servers), so one worker
    per CPU leaves the CPUs idle: on 2 CPUs, 4 workers ran the suite in 194 s against 244 s
    for 2 (6 workers: 197 s). PYTEST_XDIST_AUTO_NUM_WORKERS still decides when set."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None  # pytest-xdist's own hook reads it
    return 2 * len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None


@pytest.fixture(scope="session")
def trusted_ca_file(tmp_path_factory: pytest.TempPathFactory) -> Path | None:
    """The only certificate the tests' TLS clients trust: a throwaway one whose key is
    discarded at once, so no client can reach a real HTTPS service (tests stay on loopback;
    a test of TLS passes its own certificate). Also fast: every httpx client (each anthropic
    and openai SDK client, each ``httpx.get``) builds an SSL context, and loading certifi's
    bundle into it costs 30-70 ms of CPU; this file, under 1 ms. None without ``openssl``."""
    path = tmp_path_factory.mktemp("tls") / "test-ca.pem"
    try:
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-days", "2", "-subj", "/CN=tinygen tests trust nothing else",
             "-keyout", os.devnull, "-out", str(path)],
            check=True, capture_output=True,
        )  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return None
    return path


@pytest.fixture(autouse=True)
def isolated_env(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    trusted_ca_file: Path | None,
) -> Path:
    """No user config, keys or tokens leak into a test; git identity is fixed; TLS clients
    trust only ``trusted_ca_file`` (SSL_CERT_FILE: Python's ssl, httpx and the SDKs on it)."""
    home = tmp_path_factory.mktemp("home")
    if trusted_ca_file is not None:
        monkeypatch.setenv("SSL_CERT_FILE", str(trusted_ca_file))
        monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    for name, value in {
        "GIT_AUTHOR_NAME": "Test Author",
        "GIT_AUTHOR_EMAIL": "author@example.invalid",
        "GIT_COMMITTER_NAME": "Test Author",
        "GIT_COMMITTER_EMAIL": "author@example.invalid",
    }.items():
        monkeypatch.setenv(name, value)
    for name in list(os.environ):
        providers = ("OPENAI_", "OPENROUTER_", "OLLAMA_")
        if name.startswith(("TINYGEN_", "ANTHROPIC_", "GITHUB_", *providers)) or name in (
            "GH_TOKEN",
            "CI",
        ):
            monkeypatch.delenv(name, raising=False)
    (home / ".gitconfig").write_text(
        '[init]\n\tdefaultBranch = main\n[protocol "file"]\n\tallow = always\n'
    )
    return home


RepoFactory = Callable[..., Path]


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    """A local Messages API server for the real anthropic SDK, scripted by each test."""
    with FakeAnthropic() as server:
        yield server


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    """A local Chat Completions server for the real openai SDK, scripted by each test."""
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def make_repo(tmp_path: Path) -> RepoFactory:
    """``make_repo({"a.py": "x = 1\\n"})`` -> path of a new repository with one commit."""
    counter = iter(range(1000))

    def factory(
        files: Mapping[str, str | bytes] | None = None,
        *,
        commit: bool = True,
        name: str | None = None,
    ) -> Path:
        root = tmp_path / (name or f"repo{next(counter)}")
        init_repo(root)
        if files:
            write_files(root, files)
            if commit:
                commit_all(root, "initial")
        return root

    return factory


@pytest.fixture
def bare_remote(tmp_path: Path) -> Callable[[Path], Path]:
    """Make a bare clone of a repository and set it as that repository's ``origin``."""

    def factory(repo: Path) -> Path:
        bare = tmp_path / f"{repo.name}-remote.git"
        subprocess.run(["git", "clone", "--bare", "--quiet", str(repo), str(bare)], check=True)
        subprocess.run(["git", "remote", "add", "origin", str(bare)], cwd=repo, check=True)
        subprocess.run(["git", "fetch", "--quiet", "origin"], cwd=repo, check=True)
        return bare

    return factory


@pytest.fixture
def pair(
    request: pytest.FixtureRequest,
    make_repo: RepoFactory,
    bare_remote: Callable[[Path], Path],
) -> tuple[Path, Path]:
    """(a repository made from the test module's ``FILES``, its bare ``origin``)."""
    repo = make_repo(request.module.FILES)
    return repo, bare_remote(repo)


@pytest.fixture
def gh(request: pytest.FixtureRequest, pair: tuple[Path, Path]) -> Iterator[Any]:
    """The fake GitHub serving ``pair``'s remote as the test module's ``REPO``."""
    from tests.fakes.github_server import DEFAULT_TOKEN, FakeGitHub

    with FakeGitHub(token=DEFAULT_TOKEN) as server:
        server.add_repo(request.module.REPO, clone_url=str(pair[1]))
        yield server


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Any]:
    """A throwaway PostgreSQL server for this test process (one per xdist worker)."""
    from tests.postgres import Cluster  # psycopg: only where PostgreSQL tests run

    cluster = Cluster().init()
    yield cluster
    cluster.remove()


@pytest.fixture
def pg_url(pg_cluster: Any) -> Iterator[str]:
    """A new, empty PostgreSQL database for one test; its URL."""
    url: str = pg_cluster.create_database()
    yield url
    pg_cluster.drop_database(url)
