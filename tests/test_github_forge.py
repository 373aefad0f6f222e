"""GitHubForge against the local fake GitHub server, through the real PyGithub client."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

import tinygen.github
from tests.conftest import RepoFactory
from tests.fakes.github_server import DEFAULT_TOKEN, FakeGitHub
from tests.helpers import git
from tinygen.errors import ConfigError, ForgeError
from tinygen.github import ForgePolicy, GitHubForge, PullInfo, role_at_least

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


# -- reads ---------------------------------------------------------------------------------


def test_repo_info(gh: FakeGitHub, forge: GitHubForge) -> None:
    gh.add_repo("octo/secret", default_branch="trunk", private=True)
    info = forge.repo("octo/secret")
    assert info.full_name == "octo/secret"
    assert info.default_branch == "trunk"
    assert info.private is True
    assert info.fork is False
    assert info.clone_url.endswith("/octo/secret.git")
    assert info.viewer_permission == "write"  # the fake gives the token's user write


@pytest.mark.parametrize("role", ["admin", "maintain", "write", "triage", "read", "none"])
def test_permission_reports_every_role(gh: FakeGitHub, forge: GitHubForge, role: str) -> None:
    gh.set_permission(REPO, "carol", role)
    assert forge.permission(REPO, "carol") == role


def test_permission_of_strangers_and_owner(gh: FakeGitHub, forge: GitHubForge) -> None:
    gh.add_repo("octo/private", private=True)
    assert forge.permission(REPO, "octo") == "admin"
    assert forge.permission(REPO, "stranger") == "read"  # public repository
    assert forge.permission("octo/private", "stranger") == "none"


def test_role_at_least() -> None:
    assert role_at_least("maintain", "write")
    assert role_at_least("admin", "write")
    assert not role_at_least("triage", "write")
    assert not role_at_least("bogus", "read")


def test_issue_info(gh: FakeGitHub, forge: GitHubForge) -> None:
    n = gh.add_issue(
        REPO, "Crash on start", body=None, user="dependabot[bot]", labels=["tinygen", "bug"]
    )
    info = forge.issue(REPO, n)
    assert (info.number, info.title, info.body) == (n, "Crash on start", "")
    assert info.user == "dependabot[bot]"
    assert info.user_type == "Bot"
    assert info.labels == ("tinygen", "bug")
    assert info.is_pull_request is False
    assert info.state == "open"
    assert info.html_url.endswith(f"/{REPO}/issues/{n}")


def test_issue_on_a_pull_request_number(gh: FakeGitHub, forge: GitHubForge) -> None:
    n = gh.add_pull(REPO, "feature", title="Add feature")
    assert forge.issue(REPO, n).is_pull_request is True


def test_pull_info_same_repository(gh: FakeGitHub, forge: GitHubForge) -> None:
    n = gh.add_pull(
        REPO, "feature", title="Add feature", body="Body", head_sha="a" * 40, draft=True
    )
    info = forge.pull(REPO, n)
    assert info == PullInfo(
        number=n,
        title="Add feature",
        body="Body",
        user="alice",
        head_ref="feature",
        head_sha="a" * 40,
        head_repo_full_name=REPO,
        base_ref="main",
        base_repo_full_name=REPO,
        is_fork=False,
        state="open",
        draft=True,
        html_url=f"{gh.root_url}/{REPO}/pull/{n}",
    )


def test_pull_info_from_fork_and_deleted_fork(gh: FakeGitHub, forge: GitHubForge) -> None:
    fork_pr = gh.add_pull(REPO, "patch-1", head_repo="eve/demo")
    info = forge.pull(REPO, fork_pr)
    assert info.is_fork is True
    assert info.head_repo_full_name == "eve/demo"

    gone = gh.add_pull(REPO, "patch-2", head_repo="mallory/demo")
    gh.delete_repo("mallory/demo")
    info = forge.pull(REPO, gone)
    assert info.head_repo_full_name is None
    assert info.is_fork is True  # nowhere tinygen could push


def test_find_open_pull(gh: FakeGitHub, forge: GitHubForge) -> None:
    assert forge.find_open_pull(REPO, "tinygen/fix") is None
    gh.add_pull(REPO, "tinygen/fix", head_repo="eve/demo")  # same branch name in a fork
    gh.add_pull(REPO, "tinygen/fix", state="closed")
    assert forge.find_open_pull(REPO, "tinygen/fix") is None
    n = gh.add_pull(REPO, "tinygen/fix")
    found = forge.find_open_pull(REPO, "tinygen/fix")
    assert found is not None and found.number == n
    fork_pr = forge.find_open_pull(REPO, "eve:tinygen/fix")
    assert fork_pr is not None and fork_pr.head_repo_full_name == "eve/demo"
    listed = gh.requests_matching("GET", r"/pulls$")
    assert listed[0].query == {"state": "open", "head": "octo:tinygen/fix"}


def test_find_open_pull_ignores_the_case_of_the_owner(gh: FakeGitHub, forge: GitHubForge) -> None:
    n = gh.add_pull(REPO, "tinygen/fix")
    for name, head in (("Octo/Demo", "tinygen/fix"), (REPO, "OCTO:tinygen/fix")):
        found = forge.find_open_pull(name, head)
        assert found is not None and found.number == n, (name, head)


def test_set_draft_both_ways(gh: FakeGitHub, forge: GitHubForge) -> None:
    n = gh.add_pull(REPO, "tinygen/fix", draft=False)
    assert forge.set_draft(REPO, n, True).draft is True
    assert gh.pulls(REPO)[0]["draft"] is True
    assert forge.pull(REPO, n).draft is True
    assert forge.set_draft(REPO, n, False).draft is False
    assert gh.pulls(REPO)[0]["draft"] is False
    sent = gh.requests_matching("POST", r"^/graphql$")
    assert ["convertPullRequestToDraft" in r.body["query"] for r in sent] == [True, False]
    forge.set_draft(REPO, n, False)  # already ready: no mutation
    assert len(gh.requests_matching("POST", r"^/graphql$")) == 2
    gh.restrict_token(TOKEN, {"pull_requests": "read", "metadata": "read"})
    with pytest.raises(ForgeError, match="pull-requests: write"):
        forge.set_draft(REPO, n, True)
    assert gh.pulls(REPO)[0]["draft"] is False


def test_comments_in_order_with_times(gh: FakeGitHub, forge: GitHubForge) -> None:
    n = gh.add_issue(REPO, "Question")
    gh.add_comment(REPO, n, "first", user="bob", created_at="2024-05-01T10:00:00Z")
    gh.add_comment(
        REPO,
        n,
        "second",
        user="carol",
        created_at="2024-05-01T11:00:00Z",
        updated_at="2024-05-02T09:30:00Z",
    )
    comments = forge.comments(REPO, n)
    assert [(c.user, c.body) for c in comments] == [("bob", "first"), ("carol", "second")]
    assert comments[0].created_at == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    assert comments[1].updated_at == datetime(2024, 5, 2, 9, 30, tzinfo=UTC)
    assert comments[1].html_url.endswith(f"#issuecomment-{comments[1].id}")


# -- writes --------------------------------------------------------------------------------


def test_comment_edit_and_react(gh: FakeGitHub, forge: GitHubForge) -> None:
    n = gh.add_issue(REPO, "Please fix")
    created = forge.comment(REPO, n, "tinygen started")
    assert created.user == "tinygen-bot"
    edited = forge.edit_comment(REPO, created.id, "tinygen finished")
    assert edited.id == created.id and edited.body == "tinygen finished"
    assert [c["body"] for c in gh.comments(REPO, n)] == ["tinygen finished"]

    forge.react(REPO, created.id)
    forge.react_issue(REPO, n, "rocket")
    forge.react_issue(REPO, n, "rocket")  # GitHub answers 200 for an existing reaction
    assert sorted((r["content"], r.get("comment_id"), r.get("issue")) for r in gh.reactions) == [
        ("eyes", created.id, None),
        ("rocket", None, n),
    ]


def test_bad_reaction_and_empty_body_refused_before_any_request(
    gh: FakeGitHub, forge: GitHubForge
) -> None:
    n = gh.add_issue(REPO, "x")
    before = len(gh.requests)
    with pytest.raises(ForgeError, match="not a GitHub reaction") as err:
        forge.react_issue(REPO, n, "thumbsup")
    assert "eyes" in str(err.value)  # the hint lists the valid ones
    with pytest.raises(ForgeError, match="non-empty body"):
        forge.comment(REPO, n, "  ")
    with pytest.raises(ForgeError, match="not a GitHub repository name"):
        forge.repo("../../etc/passwd")
    with pytest.raises(ForgeError, match="not a valid issue number"):
        forge.issue(REPO, 0)
    assert len(gh.requests) == before


def test_create_then_update_pull(gh: FakeGitHub, forge: GitHubForge) -> None:
    pr, created = forge.create_or_update_pull(
        REPO, head="tinygen/fix", base="main", title="Fix it", body="first body"
    )
    assert created is True
    assert pr.draft is True and pr.head_ref == "tinygen/fix" and pr.base_ref == "main"

    again, created_again = forge.create_or_update_pull(
        REPO, head="tinygen/fix", base="main", title="Fix it better", body="second body"
    )
    assert created_again is False
    assert again.number == pr.number
    assert (again.title, again.body) == ("Fix it better", "second body")
    pulls = gh.pulls(REPO)
    assert len(pulls) == 1 and pulls[0]["title"] == "Fix it better"


def test_update_with_same_text_sends_no_write(gh: FakeGitHub, forge: GitHubForge) -> None:
    forge.create_or_update_pull(REPO, head="b", base="main", title="T", body="B", draft=False)
    forge.create_or_update_pull(REPO, head="b", base="main", title="T", body="B")
    assert len(gh.requests_matching("POST", r"/pulls$")) == 1
    assert gh.requests_matching("PATCH", r"/pulls/\d+$") == []
    assert gh.pulls(REPO)[0]["draft"] is False


@pytest.mark.parametrize(
    "policy",
    [
        ForgePolicy.fast(),
        # the production retry count, without the waiting
        ForgePolicy(backoff=0.0, seconds_between_requests=0.0, seconds_between_writes=0.0),
    ],
    ids=["fast", "production-retries"],
)
def test_502_after_creating_the_pull_makes_no_duplicate(
    gh: FakeGitHub, policy: ForgePolicy
) -> None:
    forge = GitHubForge(token=TOKEN, api_url=gh.api_url, policy=policy)
    gh.fail_next("POST", r"^/repos/octo/demo/pulls$", 502, after_effect=True)
    pr, created = forge.create_or_update_pull(
        REPO, head="tinygen/fix", base="main", title="Fix", body="Body"
    )
    assert created is True
    assert len(gh.pulls(REPO)) == 1
    assert pr.number == gh.pulls(REPO)[0]["number"]
    assert len(gh.requests_matching("POST", r"/pulls$")) == 1  # POST never retried

    # and a second run (the caller retrying) updates instead of duplicating
    _, created_again = forge.create_or_update_pull(
        REPO, head="tinygen/fix", base="main", title="Fix", body="Body 2"
    )
    assert created_again is False
    assert len(gh.pulls(REPO)) == 1


def test_502_before_creating_reports_and_next_run_creates(
    gh: FakeGitHub, forge: GitHubForge
) -> None:
    gh.fail_next("POST", r"/pulls$", 502, body={"message": "Bad Gateway"})
    with pytest.raises(ForgeError, match="HTTP 502") as err:
        forge.create_or_update_pull(REPO, head="tinygen/fix", base="main", title="Fix", body="B")
    assert "open a pull request from tinygen/fix into main" in str(err.value)
    assert gh.pulls(REPO) == []
    _, created = forge.create_or_update_pull(
        REPO, head="tinygen/fix", base="main", title="Fix", body="B"
    )
    assert created is True and len(gh.pulls(REPO)) == 1


def test_pull_opened_by_someone_else_meanwhile_is_updated(
    gh: FakeGitHub, forge: GitHubForge
) -> None:
    # the POST lands after a concurrent run opened the same pull request: GitHub says 422
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
                    "message": "A pull request already exists for octo:tinygen/fix.",
                }
            ],
        },
        after_effect=True,
    )
    pr, created = forge.create_or_update_pull(
        REPO, head="tinygen/fix", base="main", title="Fix", body="B"
    )
    assert created is False
    assert len(gh.pulls(REPO)) == 1 and gh.pulls(REPO)[0]["number"] == pr.number


def test_comment_after_502_with_effect_is_not_duplicated(
    gh: FakeGitHub, forge: GitHubForge
) -> None:
    n = gh.add_issue(REPO, "x")
    gh.fail_next("POST", r"/issues/\d+/comments$", 502, after_effect=True)
    c = forge.comment(REPO, n, "status: started (run 42)")
    assert c.body == "status: started (run 42)"
    assert len(gh.comments(REPO, n)) == 1


def test_old_comment_with_the_same_text_is_not_taken_for_the_new_one(
    gh: FakeGitHub, forge: GitHubForge
) -> None:
    n = gh.add_issue(REPO, "x")
    gh.add_comment(
        REPO, n, "tinygen: started", user="tinygen-bot", created_at="2020-01-01T00:00:00Z"
    )
    gh.fail_next("POST", r"/issues/\d+/comments$", 502)  # this time nothing was created
    with pytest.raises(ForgeError, match="HTTP 502"):
        forge.comment(REPO, n, "tinygen: started")
    assert len(gh.comments(REPO, n)) == 1


def test_bearer_authorization_and_requests_outside_the_prefix() -> None:
    import urllib.error
    import urllib.request

    with FakeGitHub(token=TOKEN, prefix="/api/v3") as gh:
        gh.add_repo(REPO)
        req = urllib.request.Request(
            f"{gh.api_url}/repos/{REPO}", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        with urllib.request.urlopen(req) as resp:
            assert resp.status == 200
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"{gh.root_url}/repos/{REPO}")
        assert err.value.code == 404


def test_idempotent_get_is_retried(gh: FakeGitHub, forge: GitHubForge) -> None:
    gh.fail_next("GET", r"^/repos/octo/demo$", 503)
    assert forge.repo(REPO).full_name == REPO
    assert len(gh.requests_matching("GET", r"^/repos/octo/demo$")) == 2


def test_pull_against_local_bare_remote_uses_pushed_branch(
    gh: FakeGitHub,
    forge: GitHubForge,
    make_repo: RepoFactory,
    bare_remote: Callable[[Path], Path],
) -> None:
    repo = make_repo({"a.py": "x = 1\n"})
    bare = bare_remote(repo)
    gh.add_repo("octo/local", clone_url=str(bare))
    git(repo, "switch", "-q", "-c", "tinygen/one")
    (repo / "a.py").write_text("x = 2\n")
    git(repo, "commit", "-qam", "change")
    git(repo, "push", "-q", "origin", "tinygen/one")
    sha = git(repo, "rev-parse", "HEAD").strip()
    pr, created = forge.create_or_update_pull(
        "octo/local", head="tinygen/one", base="main", title="T", body="B"
    )
    assert created and pr.head_sha == sha
    with pytest.raises(ForgeError, match="422") as err:
        forge.create_or_update_pull(
            "octo/local", head="not-pushed", base="main", title="T", body="B"
        )
    assert "head is invalid" in str(err.value)


# -- configuration -------------------------------------------------------------------------


def test_enterprise_base_url_with_path_prefix() -> None:
    with FakeGitHub(token=TOKEN, prefix="/api/v3") as gh:
        gh.add_repo(REPO)
        n = gh.add_issue(REPO, "On GHES")
        forge = GitHubForge(token=TOKEN, api_url=gh.api_url + "/", policy=ForgePolicy.fast())
        assert forge.api_url.endswith("/api/v3")
        assert forge.repo(REPO).default_branch == "main"
        assert forge.issue(REPO, n).title == "On GHES"
        c = forge.comment(REPO, n, "hello")
        forge.edit_comment(REPO, c.id, "hello again")
        forge.react(REPO, c.id)
        pr, _ = forge.create_or_update_pull(REPO, head="b", base="main", title="T", body="B")
        forge.create_or_update_pull(REPO, head="b", base="main", title="T2", body="B")
        assert forge.pull(REPO, pr.number).title == "T2"
        assert forge.set_draft(REPO, pr.number, False).draft is False  # GraphQL: /api/graphql
        assert gh.requests_matching("POST", "/graphql")[0].path == "/api/graphql"
        rest = [r for r in gh.requests if r.route != "/graphql"]
        assert rest and all(r.path.startswith("/api/v3/") for r in rest)


def test_token_and_url_from_environment(gh: FakeGitHub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_API_URL", gh.api_url)
    monkeypatch.setenv("GH_TOKEN", TOKEN)
    forge = GitHubForge(policy=ForgePolicy.fast())
    assert forge.has_token and TOKEN not in repr(forge)
    forge.repo(REPO)
    assert gh.requests[-1].headers["Authorization"] == f"token {TOKEN}"
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_other")
    assert GitHubForge()._token == "ghp_other"  # GITHUB_TOKEN wins over GH_TOKEN


def test_anonymous_reads_public_repositories(gh: FakeGitHub) -> None:
    forge = GitHubForge(api_url=gh.api_url, policy=ForgePolicy.fast())
    assert not forge.has_token
    assert forge.repo(REPO).viewer_permission == "read"
    assert "Authorization" not in gh.requests[-1].headers


def test_bad_api_url_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_API_URL", "api.github.com")
    with pytest.raises(ConfigError, match="not a GitHub API URL") as err:
        GitHubForge()
    assert "api/v3" in str(err.value)


def test_default_api_url() -> None:
    assert GitHubForge().api_url == "https://api.github.com"


def test_import_does_not_load_pygithub() -> None:
    code = "import sys, tinygen.github; print('github' in sys.modules, 'requests' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_all_is_complete() -> None:
    public = {name for name in vars(tinygen.github) if not name.startswith("_")}
    modules = {"forge", "models", "errors", "annotations", "app"}
    assert public - modules == set(tinygen.github.__all__)
