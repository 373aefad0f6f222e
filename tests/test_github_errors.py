"""GitHub failures become ForgeError messages that say what is missing, never the token."""

from __future__ import annotations

import socket
import time
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from tests.fakes.github_server import DEFAULT_TOKEN, FakeGitHub
from tinygen.errors import ExitCode, ForgeError
from tinygen.github import ForgePolicy, GitHubForge
from tinygen.github.errors import permission_names

TOKEN = DEFAULT_TOKEN
REPO = "octo/demo"


@pytest.fixture
def gh() -> Iterator[FakeGitHub]:
    with FakeGitHub(token=TOKEN) as server:
        server.add_repo(REPO)
        yield server


@pytest.fixture
def forge(gh: FakeGitHub) -> GitHubForge:
    return GitHubForge(token=TOKEN, api_url=gh.api_url, policy=ForgePolicy.fast())


def full_text(err: BaseException) -> str:
    """Everything a user or a log could see of an exception, traceback included."""
    return "".join(traceback.format_exception(err)) + repr(err)


def test_bad_token_401(gh: FakeGitHub) -> None:
    forge = GitHubForge(token="ghp_" + "x" * 36, api_url=gh.api_url, policy=ForgePolicy.fast())
    with pytest.raises(ForgeError) as err:
        forge.repo(REPO)
    e = err.value
    assert e.exit_code == ExitCode.FORGE
    assert "401" in e.message and "read repository octo/demo" in e.message
    assert e.hint is not None and "GITHUB_TOKEN" in e.hint
    assert "x" * 36 not in full_text(e)


def test_missing_token_for_a_write(gh: FakeGitHub) -> None:
    n = gh.add_issue(REPO, "x")
    forge = GitHubForge(api_url=gh.api_url, policy=ForgePolicy.fast())
    with pytest.raises(ForgeError, match="requires authentication to comment on #1") as err:
        forge.comment(REPO, n, "hello")
    assert err.value.hint is not None and "GITHUB_TOKEN" in err.value.hint
    assert gh.comments(REPO, n) == []


def test_403_fine_grained_permission_named(gh: FakeGitHub, forge: GitHubForge) -> None:
    gh.restrict_token(TOKEN, {"metadata": "read", "pull_requests": "read", "issues": "write"})
    with pytest.raises(ForgeError) as err:
        forge.create_or_update_pull(REPO, head="b", base="main", title="T", body="B")
    assert "403" in err.value.message
    assert "pull-requests: write" in err.value.message
    assert err.value.hint is not None and "pull-requests: write" in err.value.hint
    assert gh.pulls(REPO) == []


def test_403_alternatives_from_header(gh: FakeGitHub, forge: GitHubForge) -> None:
    gh.fail_next(
        "GET",
        r"/collaborators/",
        403,
        body={"message": "Resource not accessible by integration"},
        headers={
            "X-Accepted-GitHub-Permissions": "metadata=read; members=read,administration=write"
        },
    )
    with pytest.raises(ForgeError) as err:
        forge.permission(REPO, "alice")
    assert "metadata: read or members: read, administration: write" in err.value.message
    assert "Resource not accessible by integration" in err.value.message


def test_403_classic_token_scopes(gh: FakeGitHub, forge: GitHubForge) -> None:
    n = gh.add_issue(REPO, "x")
    gh.fail_next(
        "POST",
        r"/comments$",
        403,
        body={"message": "Must have admin rights to Repository."},
        headers={"X-Accepted-OAuth-Scopes": "repo", "X-OAuth-Scopes": "read:org, gist"},
    )
    with pytest.raises(ForgeError) as err:
        forge.comment(REPO, n, "hi")
    assert (
        err.value.hint
        == "give the classic token one of the scopes: repo; the token has: read:org, gist"
    )


def test_403_without_headers_names_what_the_operation_needs(
    gh: FakeGitHub, forge: GitHubForge
) -> None:
    n = gh.add_issue(REPO, "x")
    gh.fail_next("POST", r"/reactions$", 403, body={"message": "Forbidden"})
    with pytest.raises(ForgeError) as err:
        forge.react_issue(REPO, n, "eyes")
    assert "issues: write" in err.value.message
    assert "react to #1 in octo/demo" in err.value.message


def test_404_repository_and_number(gh: FakeGitHub, forge: GitHubForge) -> None:
    with pytest.raises(ForgeError, match="could not find repository octo/nope") as err:
        forge.repo("octo/nope")
    assert err.value.hint is not None and "private repository" in err.value.hint
    with pytest.raises(ForgeError, match="could not find issue #99 in octo/demo"):
        forge.issue(REPO, 99)
    with pytest.raises(ForgeError, match="could not find pull request #7 in octo/demo"):
        forge.pull(REPO, 7)
    with pytest.raises(ForgeError, match="could not find comment 5 in octo/demo"):
        forge.edit_comment(REPO, 5, "x")


def test_private_repository_invisible_without_token(gh: FakeGitHub) -> None:
    gh.add_repo("octo/secret", private=True)
    forge = GitHubForge(api_url=gh.api_url, policy=ForgePolicy.fast())
    with pytest.raises(ForgeError, match="could not find repository octo/secret") as err:
        forge.repo("octo/secret")
    assert err.value.hint is not None and "GITHUB_TOKEN" in err.value.hint


def test_422_includes_githubs_error_messages(gh: FakeGitHub, forge: GitHubForge) -> None:
    gh.fail_next(
        "POST",
        r"/pulls$",
        422,
        body={
            "message": "Validation Failed",
            "errors": [
                {
                    "resource": "PullRequest",
                    "code": "custom",
                    "message": "No commits between main and tinygen/x",
                }
            ],
        },
    )
    with pytest.raises(ForgeError) as err:
        forge.create_or_update_pull(REPO, head="tinygen/x", base="main", title="T", body="B")
    assert "422: No commits between main and tinygen/x" in err.value.message


def test_primary_rate_limit_names_reset_time_in_utc(gh: FakeGitHub, forge: GitHubForge) -> None:
    reset = int(time.time()) + 1800
    gh.rate_limited_until(reset)
    with pytest.raises(ForgeError, match="rate limit exceeded") as err:
        forge.repo(REPO)
    expected = datetime.fromtimestamp(reset, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    assert f"resets at {expected}" in err.value.message
    assert len(gh.requests) == 1  # not waited out: over the policy's max wait

    gh.rate_limited_until(None)
    assert forge.repo(REPO).full_name == REPO


def test_rate_limit_on_a_write(gh: FakeGitHub, forge: GitHubForge) -> None:
    reset = int(time.time()) + 600
    gh.fail_next(
        "POST",
        r"/pulls$",
        403,
        body={"message": "API rate limit exceeded for user ID 1."},
        headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)},
    )
    with pytest.raises(ForgeError, match="rate limit exceeded while trying to open a pull request"):
        forge.create_or_update_pull(REPO, head="b", base="main", title="T", body="B")
    assert gh.pulls(REPO) == []


def test_429_retry_after(gh: FakeGitHub, forge: GitHubForge) -> None:
    for _ in range(3):  # the fast policy retries twice
        gh.fail_next(
            "GET",
            r"^/repos/octo/demo$",
            429,
            body={"message": "Too many requests"},
            headers={"Retry-After": "30"},
        )
    with pytest.raises(ForgeError, match="retry after 30 seconds"):
        forge.repo(REPO)


def test_single_429_on_a_read_is_retried(gh: FakeGitHub, forge: GitHubForge) -> None:
    gh.fail_next(
        "GET",
        r"^/repos/octo/demo$",
        429,
        body={"message": "slow down"},
        headers={"Retry-After": "1"},
    )
    assert forge.repo(REPO).full_name == REPO


def test_secondary_rate_limit(gh: FakeGitHub, forge: GitHubForge) -> None:
    n = gh.add_issue(REPO, "x")
    gh.fail_next(
        "POST",
        r"/comments$",
        403,
        body={
            "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
        },
        headers={"Retry-After": "60"},
    )
    with pytest.raises(ForgeError, match=r"rate limit exceeded.*retry after 60 seconds"):
        forge.comment(REPO, n, "x")


def test_server_error_on_comment_without_effect(gh: FakeGitHub, forge: GitHubForge) -> None:
    n = gh.add_issue(REPO, "x")
    gh.fail_next("POST", r"/comments$", 500, body={"message": "Server Error"})
    with pytest.raises(ForgeError, match="HTTP 500 while trying to comment on #1"):
        forge.comment(REPO, n, "status")
    assert gh.comments(REPO, n) == []


def test_persistent_5xx_on_read(gh: FakeGitHub, forge: GitHubForge) -> None:
    for _ in range(3):
        gh.fail_next("GET", r"/issues/1$", 502, body={"message": "Bad Gateway"})
    gh.add_issue(REPO, "x")
    with pytest.raises(ForgeError, match="HTTP 502 while trying to read issue #1") as err:
        forge.issue(REPO, 1)
    assert err.value.hint is not None and "githubstatus" in err.value.hint
    assert len(gh.requests_matching("GET", r"/issues/1$")) == 3


def test_unreachable_server() -> None:
    # A port bound but not listening refuses connections, and stays ours for the whole
    # test: no other test running in parallel can start a server on it meanwhile.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        forge = GitHubForge(
            token=TOKEN, api_url=f"http://127.0.0.1:{port}/api/v3", policy=ForgePolicy.fast()
        )
        with pytest.raises(ForgeError, match=r"cannot reach GitHub at http://127\.0\.0\.1") as err:
            forge.repo(REPO)
    assert err.value.hint is not None and "GITHUB_API_URL" in err.value.hint
    assert TOKEN not in full_text(err.value)


@pytest.mark.parametrize("token", [TOKEN, "plain-secret-value-1234"])
def test_token_echoed_by_server_never_reaches_the_message(gh: FakeGitHub, token: str) -> None:
    gh.add_token(token, "tinygen-bot")
    gh.add_repo("octo/other")
    gh.fail_next("GET", r"^/repos/octo/other$", 400, body={"message": f"bad header: token {token}"})
    forge = GitHubForge(token=token, api_url=gh.api_url, policy=ForgePolicy.fast())
    with pytest.raises(ForgeError) as err:
        forge.repo("octo/other")
    text = full_text(err.value)
    assert "bad header" in text and "HTTP 400" in text
    assert token not in text
    assert err.value.__cause__ is None and err.value.__suppress_context__


def test_permission_names() -> None:
    assert permission_names("pull_requests=write") == ["pull-requests: write"]
    assert permission_names("contents=read; issues=write, pull_requests=read") == [
        "contents: read",
        "issues: write, pull-requests: read",
    ]
    assert permission_names("") == []


@pytest.mark.parametrize("body", [["not", "a", "repository"], "<html>Sign in to the proxy</html>"])
def test_an_answer_pygithub_cannot_use(gh: FakeGitHub, forge: GitHubForge, body: object) -> None:
    # a proxy answering 200 with something that is not the repository JSON
    gh.fail_next("GET", r"^/repos/octo/demo$", 200, body=body)
    with pytest.raises(ForgeError, match="unexpected answer from GitHub") as err:
        forge.repo(REPO)
    assert err.value.hint is not None and "GITHUB_API_URL" in err.value.hint


def test_html_error_page_from_a_proxy(gh: FakeGitHub, forge: GitHubForge) -> None:
    n = gh.add_issue(REPO, "x")
    gh.fail_next("POST", r"/comments$", 502, body="<html><h1>502 Bad Gateway</h1></html>")
    with pytest.raises(ForgeError, match="HTTP 502 while trying to comment on #1"):
        forge.comment(REPO, n, "status")
