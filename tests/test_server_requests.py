"""What `tinygen serve` takes in a request body (issue 12 items 15 and 16): ``/analyze`` takes
``ref`` (and ``model``, ``checks``) as ``/jobs`` does; an unknown field is a 422 naming it,
never silently dropped; a refused ``repoUrl`` is answered in the API's words (what to send),
never with a command-line flag, a library setting or the server's own variables. A real
uvicorn server, the real httpx client, the fake Messages API, local bare repositories."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from tests import test_server_api as api
from tests.fakes.anthropic_server import FakeAnthropic
from tests.helpers import commit_all, git, write_files
from tests.test_server_api import APP, PLAN, no_change, wait_for
from tinygen.server.config import ServerConfig
from tinygen.server.serving import RunningServer

# The API tests' fixtures, shared by name.
fake = api.fake
config = api.config
serve = api.serve
client = api.client

CLI_FLAG = re.compile(r"(?<![\w-])--[a-z]")
LIBRARY_WORDS = ("`repo`", "`ref`", "`to_pr`", "GITHUB_TOKEN", "local path", "pass a")


@pytest.fixture
def two_branches(
    make_repo: Callable[..., Path], bare_remote: Callable[[Path], Path]
) -> tuple[str, str, str]:
    """A bare repository whose default branch and ``feature`` differ: (URL, main, feature)."""
    repo = make_repo(APP)
    main = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "switch", "-q", "-c", "feature")
    write_files(repo, {"app/extra.py": "X = 1\n"})
    feature = commit_all(repo, "feature")
    git(repo, "switch", "-q", "main")
    bare = bare_remote(repo)
    git(repo, "push", "-q", "origin", "feature")
    return f"file://{bare}", main, feature


@pytest.mark.parametrize("path", ["/analyze", "/jobs"])
def test_ref_is_taken_by_analyze_as_by_jobs(
    client: httpx.Client, fake: FakeAnthropic, two_branches: tuple[str, str, str], path: str
) -> None:
    url, main, feature = two_branches
    fake.on(PLAN, no_change)
    response = client.post(path, json={"repoUrl": url, "prompt": "Nothing", "ref": "feature"})
    assert response.status_code in (200, 202), response.text
    job_id = response.json().get("jobId") or response.json()["id"]
    job = wait_for(client, job_id, {"succeeded", "failed"})
    assert job["ref"] == "feature"
    assert job["result"]["baseCommit"] == feature != main


@pytest.mark.parametrize("path", ["/analyze", "/jobs"])
def test_unknown_fields_are_refused_by_name(
    client: httpx.Client, fake: FakeAnthropic, two_branches: tuple[str, str, str], path: str
) -> None:
    url, _main, _feature = two_branches
    body = {
        "repoUrl": url,
        "prompt": "Nothing",
        "reff": "feature",
        "ghp_abcdefghijklmnopqrstuvwx": 1,
    }
    response = client.post(path, json=body)
    assert response.status_code == 422, response.text
    answer = response.json()
    fields = [e["field"] for e in answer["errors"]]
    assert "reff" in fields and len(fields) == 2
    assert "reff: is not a field of this request" in answer["detail"]
    assert "repoUrl, prompt, ref, model, checks" in answer["hint"]
    assert "ghp_abcdefghijklmnopqrstuvwx" not in response.text  # a field name is input too
    assert client.get("/jobs").json()["jobs"] == [] and fake.requests == []


@pytest.mark.parametrize(
    ("url", "says", "hint"),
    [
        ("https://github.com/../../etc/passwd", "'.' or '..' segments", None),
        ("https://github.com/o/%2E%2E/x", "'.' or '..' segments", None),
        ("git@github.com:../../x.git", "'.' or '..' segments", None),
        ("https://user:secret@github.com/o/r", "password or token", None),
        ("ext::sh -c touch% /tmp/pwned", "transport helpers", None),
        ("/etc", "local repositories are not allowed", None),
        ("github.com/o/r", "local repositories are not allowed", None),
        ("https://x y/o/r", "bad host", None),
        (
            "https://github.com/o/r/tree/main",
            "web page",
            "send repoUrl https://github.com/o/r and ref main",
        ),
        ("https://github.com/o/r/pull/7", "web page", "send repoUrl https://github.com/o/r"),
        ("http://github.com/o/r", "is not allowed", None),
        ("https://evil.example/o/r", "not allowed on this server", None),
    ],
)
def test_refused_repository_urls_speak_the_apis_words(
    fake: FakeAnthropic,
    config: ServerConfig,
    serve: Callable[[ServerConfig], RunningServer],
    url: str,
    says: str,
    hint: str | None,
) -> None:
    server = serve(replace(config, allow_local=False))
    for path in ("/analyze", "/jobs"):
        response = httpx.post(
            f"{server.url}{path}", json={"repoUrl": url, "prompt": "x"}, timeout=30
        )
        assert response.status_code == 422, response.text
        answer = response.json()
        assert answer["detail"].startswith("repoUrl: ") and says in answer["detail"], answer
        expected = (
            hint
            or "send repoUrl as https://github.com/OWNER/NAME or git@github.com:OWNER/NAME.git (allowed hosts: github.com)"
        )
        assert answer["hint"] == expected
        text = answer["detail"] + answer["hint"]
        assert not CLI_FLAG.search(text), text
        assert not any(word in text for word in LIBRARY_WORDS), text
        assert "secret" not in response.text
    assert fake.requests == []
