"""InMemoryForge: the same answers as GitHubForge on the fake GitHub server, and its own
set-up, inspection and failure injection."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RepoFactory
from tests.fakes.github_server import DEFAULT_TOKEN, FakeGitHub
from tests.helpers import commit_all, git, write_files
from tinygen.errors import ForgeError
from tinygen.github import Forge, ForgePolicy, GitHubForge
from tinygen.testing import InMemoryForge, Reaction

REPO = "octo/demo"
BOT = "tinygen-bot"  # the fake GitHub's login for its default token


@pytest.fixture
def remote(make_repo: RepoFactory, bare_remote: Callable[[Path], Path]) -> tuple[Path, Path]:
    """A checkout with ``main`` and a pushed ``feature`` branch, and its bare remote."""
    work = make_repo({"a.txt": "one\n"})
    bare = bare_remote(work)
    git(work, "switch", "--quiet", "-c", "feature")
    write_files(work, {"a.txt": "two\n"})
    commit_all(work, "feature")
    git(work, "push", "--quiet", "origin", "feature")
    return work, bare


@dataclass
class Backend:
    forge: Forge
    add_issue: Callable[[str, str, str], int]  # (title, body, user) -> number
    set_permission: Callable[[str, str], None]


def scenario(b: Backend, bare: Path) -> list[Any]:
    """Every Forge method, in the order delivery and the Action use them; a transcript of
    what each answered, without ids, URLs and times (which differ by construction)."""
    f = b.forge
    out: list[Any] = []

    def failed(call: Callable[[], object]) -> str:
        with pytest.raises(ForgeError) as info:
            call()
        return (
            "404"
            if "(404)" in info.value.message
            else "422"
            if "422" in info.value.message
            else "other"
        )

    info = f.repo(REPO)
    out.append(("repo", info.full_name, info.default_branch, info.private, info.fork))
    out.append(("viewer", info.viewer_permission))
    b.set_permission("carol", "triage")
    out.append(("permission", [f.permission(REPO, u) for u in ("carol", "octo", "stranger")]))
    n = b.add_issue("Crash", "It crashes", "alice")
    issue = f.issue(REPO, n)
    out.append(("issue", issue.number, issue.title, issue.body, issue.user, issue.state))
    out.append(("issue is pull", issue.is_pull_request))
    feature_sha = git(bare, "rev-parse", "refs/heads/feature").strip()
    pull, created = f.create_or_update_pull(
        REPO, head="feature", base="main", title="Fix", body="Closes #1", draft=True
    )
    out.append(("created", created, pull.number, pull.head_ref, pull.base_ref, pull.draft))
    out.append(("pull", pull.title, pull.body, pull.user, pull.state, pull.is_fork))
    out.append(("head sha", pull.head_sha == feature_sha, pull.base_repo_full_name))
    again, created = f.create_or_update_pull(
        REPO, head="feature", base="main", title="Fix", body="Closes #1, better", draft=True
    )
    out.append(("updated", created, again.number == pull.number, again.body))
    found = f.find_open_pull(REPO, "feature")
    out.append(("find", found is not None and found.number, f.find_open_pull(REPO, "nope")))
    out.append(("last", getattr(f.last_pull(REPO, "feature"), "number", None)))
    out.append(("ready", f.set_draft(REPO, pull.number, False).draft))
    out.append(("draft", f.set_draft(REPO, pull.number, True).draft))
    out.append(("pull as issue", f.issue(REPO, pull.number).is_pull_request))
    c = f.comment(REPO, n, "Working on it")
    out.append(("comment", c.user, c.body, c.created_at == c.updated_at))
    edited = f.edit_comment(REPO, c.id, "Done")
    out.append(("edited", edited.id == c.id, edited.body, edited.updated_at >= c.updated_at))
    out.append(("comments", [x.body for x in f.comments(REPO, n)]))
    got = f.get_comment(REPO, c.id)
    out.append(("get", got is not None and got.body, f.get_comment(REPO, 999_999)))
    f.react(REPO, c.id, "eyes")
    f.react_issue(REPO, n, "rocket")
    out.append(
        (
            "refused",
            failed(lambda: f.issue(REPO, 999)),
            failed(lambda: f.pull(REPO, n + 100)),
            failed(lambda: f.repo("octo/missing")),
            failed(lambda: f.comment(REPO, n, "  ")),
            failed(lambda: f.react(REPO, c.id, "thumbs")),
            failed(
                lambda: f.create_or_update_pull(
                    REPO, head="never-pushed", base="main", title="t", body=""
                )
            ),
        )
    )
    return out


def test_in_memory_forge_answers_as_github_forge_does(remote: tuple[Path, Path]) -> None:
    _, bare = remote
    with FakeGitHub(token=DEFAULT_TOKEN) as gh:
        gh.add_repo(REPO, clone_url=str(bare))
        real = GitHubForge(token=DEFAULT_TOKEN, api_url=gh.api_url, policy=ForgePolicy.fast())
        expected = scenario(
            Backend(
                real,
                lambda title, body, user: gh.add_issue(REPO, title, body, user=user),
                lambda user, role: gh.set_permission(REPO, user, role),
            ),
            bare,
        )
        real_reactions = sorted(r["content"] for r in gh.reactions)

    memory = InMemoryForge(login=BOT)
    memory.add_repo(REPO, remote=bare)
    got = scenario(
        Backend(
            memory,
            lambda title, body, user: memory.add_issue(REPO, title, body, user=user).number,
            lambda user, role: memory.set_permission(REPO, user, role),
        ),
        bare,
    )
    assert got == expected
    assert sorted(r.content for r in memory.repos[REPO].reactions) == real_reactions
    # and what both said, spelled out
    table = dict((row[0], row[1:]) for row in got)
    assert table["permission"] == (["triage", "admin", "read"],)
    assert table["created"] == (True, 2, "feature", "main", True)  # issues and pulls share numbers
    assert table["updated"] == (False, True, "Closes #1, better")
    assert table["comments"] == (["Done"],)
    assert table["refused"] == ("404", "404", "404", "other", "other", "422")


def test_state_is_plain_data_a_test_can_read(remote: tuple[Path, Path]) -> None:
    _, bare = remote
    forge = InMemoryForge()
    forge.add_repo(REPO, remote=bare, private=True)
    issue = forge.add_issue(REPO, "Add a flag", "Please", user="octo", labels=("tinygen",))
    forge.add_comment(REPO, issue.number, "+1", user="bob")
    status = forge.comment(REPO, issue.number, "Working on it")
    forge.edit_comment(REPO, status.id, "Done")
    forge.react_issue(REPO, issue.number)
    pull, _ = forge.create_or_update_pull(REPO, head="feature", base="main", title="T", body="B")

    state = forge.repos[REPO]
    assert [(c.user, c.body) for c in state.comments_on(issue.number)] == [
        ("bob", "+1"),
        (forge.login, "Done"),
    ]
    assert state.reactions == [Reaction("issue", issue.number, "eyes", forge.login)]
    assert state.pulls[pull.number].draft is True
    assert issue.author_association == "OWNER" and issue.labels == ("tinygen",)
    assert forge.permission(REPO, "stranger") == "none"  # private
    assert [name for name, _ in forge.calls] == [
        "comment",
        "edit_comment",
        "react_issue",
        "create_or_update_pull",
        "permission",
    ]
    assert forge.count("comment") == 1 and forge.count("repo") == 0
    # the clock moves one second per write: times are deterministic and ordered
    first, second = state.comments_on(issue.number)
    assert first.created_at < second.created_at < second.updated_at


def test_head_sha_follows_pushes_like_github(remote: tuple[Path, Path]) -> None:
    work, bare = remote
    forge = InMemoryForge()
    forge.add_repo(REPO, remote=bare)
    pull, _ = forge.create_or_update_pull(REPO, head="feature", base="main", title="T", body="")
    write_files(work, {"a.txt": "three\n"})
    new_sha = commit_all(work, "more")
    git(work, "push", "--quiet", "origin", "feature")
    assert pull.head_sha != new_sha
    assert forge.pull(REPO, pull.number).head_sha == new_sha


def test_closed_and_merged_pulls_are_found_by_last_pull_only() -> None:
    forge = InMemoryForge()
    forge.add_repo(REPO)  # no remote: branches are not checked
    first = forge.add_pull(REPO, head="tinygen/issue-1")
    forge.close_pull(REPO, first.number, merged=True)
    assert forge.find_open_pull(REPO, "tinygen/issue-1") is None
    last = forge.last_pull(REPO, "tinygen/issue-1")
    assert last is not None and last.number == first.number and last.merged
    second, created = forge.create_or_update_pull(
        REPO, head="tinygen/issue-1", base="main", title="Again", body=""
    )
    assert created and second.number == first.number + 1
    assert getattr(forge.last_pull(REPO, "tinygen/issue-1"), "number", None) == second.number


def test_fork_pull_requests() -> None:
    forge = InMemoryForge()
    forge.add_repo(REPO)
    pull = forge.add_pull(REPO, head="patch-1", head_repo="mallory/demo", user="mallory")
    assert pull.is_fork and pull.head_repo_full_name == "mallory/demo"
    assert forge.find_open_pull(REPO, "patch-1") is None  # not a branch of this repository
    found = forge.find_open_pull(REPO, "mallory:patch-1")
    assert found is not None and found.number == pull.number


def test_fail_next_raises_once_and_changes_nothing() -> None:
    forge = InMemoryForge()
    forge.add_repo(REPO)
    issue = forge.add_issue(REPO, "t")
    forge.fail_next("comment", ForgeError("GitHub failed with HTTP 502"))
    with pytest.raises(ForgeError, match="502"):
        forge.comment(REPO, issue.number, "hello")
    assert forge.repos[REPO].comments_on(issue.number) == []
    forge.comment(REPO, issue.number, "hello")  # the next call works
    assert [c.body for c in forge.repos[REPO].comments_on(issue.number)] == ["hello"]
    assert forge.count("comment") == 2
    with pytest.raises(ValueError, match="no method"):
        forge.fail_next("comnent", ForgeError("typo"))


def test_deleted_comment_reads_as_none() -> None:
    forge = InMemoryForge()
    forge.add_repo(REPO)
    issue = forge.add_issue(REPO, "t")
    comment = forge.add_comment(REPO, issue.number, "@tinygen do it", user="alice")
    forge.delete_comment(REPO, comment.id)
    assert forge.get_comment(REPO, comment.id) is None
    with pytest.raises(ForgeError, match="404"):
        forge.edit_comment(REPO, comment.id, "x")
