"""publish_pr and push_to_pr: the real PyGithub client against the fake GitHub server, local
bare repositories as the remotes it points at."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.fakes.github_server import DEFAULT_TOKEN, FakeGitHub
from tests.helpers import commit_all, git, write_files
from tests.test_publish_branch import FILES, make_result
from tinygen.delivery.publish import publish_pr, push_to_pr
from tinygen.errors import ForgeError, PatchApplyError, RepoError
from tinygen.github import ForgePolicy, GitHubForge
from tinygen.models import Status
from tinygen.repo.clone import OpenedRepo, open_repository
from tinygen.validate.checks import CheckResult

REPO = "octo/demo"
TWO = {"app.py": "def f():\n    return 2\n"}


@pytest.fixture
def forge(gh: FakeGitHub) -> GitHubForge:
    return GitHubForge(token=DEFAULT_TOKEN, api_url=gh.api_url, policy=ForgePolicy.fast())


@pytest.fixture
def opened(pair: tuple[Path, Path]) -> OpenedRepo:
    return open_repository(str(pair[0]))


def _contributor(tmp_path: Path, bare: Path, branch: str, files: dict[str, str]) -> str:
    """Someone else pushes ``branch`` with one more commit; returns its sha."""
    work = tmp_path / f"contrib-{branch.replace('/', '-')}"
    if not work.exists():
        git(tmp_path, "clone", "-q", str(bare), str(work))
    git(work, "fetch", "-q", "origin")
    if git(work, "ls-remote", "--heads", "origin", branch).strip():
        git(work, "switch", "-q", "-C", branch, f"origin/{branch}")
    else:
        git(work, "switch", "-q", "-C", branch, "origin/main")
    write_files(work, files)
    sha = commit_all(work, f"work on {branch}")
    git(work, "push", "-q", "origin", branch)
    return sha


def test_pr_is_opened_as_draft_with_a_full_body(
    pair: tuple[Path, Path], gh: FakeGitHub, forge: GitHubForge, opened: OpenedRepo
) -> None:
    repo, bare = pair
    checks = [
        CheckResult(command="pytest -q", exit_code=0, timed_out=False, seconds=1.25, output_tail="")
    ]
    result = make_result(repo, TWO, checks=checks)

    out = publish_pr(result, opened, forge, full_name=REPO, issue=12)

    assert out.created and out.pr_number == 1
    assert out.pr_url == f"{gh.root_url}/{REPO}/pull/1"
    assert git(bare, "rev-parse", out.branch).strip() == out.commit
    [pull] = gh.pulls(REPO)
    assert pull["draft"] is True
    assert (pull["head_ref"], pull["base_ref"], pull["head_sha"]) == (
        out.branch,
        "main",
        out.commit,
    )
    assert pull["title"] == "Return two from f"
    body = pull["body"]
    for part in (
        "## Summary",
        "Return two from f, as asked.",
        "**Review:** approved — Looks right.",
        "- `app.py` (modify): Change app.py.",
        "- `app.py`: edited app.py",
        "✅ passed (parse, apply)",
        "- `pytest -q`: ✅ passed (1.2 s)",
        "claude-test-1: 3 call(s), 1,200 input, 300 output; $0.0123",
        "Closes #12",
        "tinygen run `20260101-120000-abc123`",
    ):
        assert part in body, part
    assert "WARNING" not in body


def test_ready_opens_a_normal_pr_but_a_failed_run_is_always_a_draft(
    pair: tuple[Path, Path], gh: FakeGitHub, forge: GitHubForge, opened: OpenedRepo
) -> None:
    repo, bare = pair
    ok = publish_pr(make_result(repo, TWO), opened, forge, full_name=REPO, draft=False)
    failed = make_result(
        repo,
        {"lib/util.py": "X = 2\n"},
        title="Bump X",
        status=Status.UNAPPROVED,
        message="not approved after 2 round(s): lib/util.py: wrong value",
        run_id="20260101-130000-def456",
    )
    bad = publish_pr(failed, opened, forge, full_name=REPO, draft=False)
    pulls = {p["number"]: p for p in gh.pulls(REPO)}
    assert pulls[ok.pr_number]["draft"] is False
    assert pulls[bad.pr_number]["draft"] is True
    assert pulls[bad.pr_number]["title"] == "[unapproved] Bump X"
    body = pulls[bad.pr_number]["body"]
    assert (
        "did not succeed (unapproved): not approved after 2 round(s): lib/util.py: wrong value"
        in body
    )
    assert git(bare, "show", f"{bad.branch}:lib/util.py") == "X = 2\n"  # the work is pushed
    assert "Tinygen-Status: unapproved" in git(bare, "log", "-1", "--format=%B", bad.branch)


def test_rerun_on_a_named_branch_updates_the_same_pr(
    pair: tuple[Path, Path], gh: FakeGitHub, forge: GitHubForge, opened: OpenedRepo
) -> None:
    repo, bare = pair
    branch = "tinygen/issue-7"
    first = publish_pr(
        make_result(repo, TWO), opened, forge, full_name=REPO, branch=branch, issue=7
    )
    # The same change again: nothing new to commit, the same pull request.
    again = publish_pr(
        make_result(repo, TWO, run_id="20260101-140000-000002"),
        opened,
        forge,
        full_name=REPO,
        branch=branch,
        issue=7,
    )
    assert (again.created, again.pr_number, again.commit) == (False, first.pr_number, first.commit)
    # Another change on other lines: a new commit on top of the branch, fast-forward.
    third = publish_pr(
        make_result(
            repo, {"lib/util.py": "X = 3\n"}, title="Set X to 3", run_id="20260101-150000-000003"
        ),
        opened,
        forge,
        full_name=REPO,
        branch=branch,
        issue=7,
    )
    assert (third.created, third.pr_number, third.branch) == (False, first.pr_number, branch)
    assert git(bare, "rev-parse", f"{third.commit}^").strip() == first.commit
    assert git(bare, "rev-parse", branch).strip() == third.commit
    assert git(bare, "show", f"{branch}:app.py") == TWO["app.py"]
    assert git(bare, "show", f"{branch}:lib/util.py") == "X = 3\n"
    [pull] = gh.pulls(REPO)
    # the pull request says the whole change (issue 12 item 21): the first step and this one
    assert pull["title"] == "Return two from f; Set X to 3"
    assert "20260101-150000-000003" in pull["body"] and "Closes #7" in pull["body"]
    assert "1. **Set X to 3**" in pull["body"] and "`lib/util.py` (+1 −1)" in pull["body"]
    assert len(gh.requests_matching("POST", r"/pulls$")) == 1


def test_a_502_after_the_pr_was_created_makes_no_duplicate(
    pair: tuple[Path, Path], gh: FakeGitHub, forge: GitHubForge, opened: OpenedRepo
) -> None:
    repo, _bare = pair
    gh.fail_next("POST", rf"^/repos/{REPO}/pulls$", 502, after_effect=True)
    out = publish_pr(make_result(repo, TWO), opened, forge, full_name=REPO)
    assert len(gh.pulls(REPO)) == 1
    assert (out.created, out.pr_number) == (True, gh.pulls(REPO)[0]["number"])
    # A second delivery of the same branch finds it too.
    again = publish_pr(make_result(repo, TWO), opened, forge, full_name=REPO, branch=out.branch)
    assert (again.created, again.pr_number) == (False, out.pr_number)
    assert len(gh.pulls(REPO)) == 1


def test_base_branch_is_never_the_delivery_branch(
    pair: tuple[Path, Path], forge: GitHubForge, opened: OpenedRepo
) -> None:
    repo, bare = pair
    with pytest.raises(RepoError, match="refusing to deliver to 'main'"):
        publish_pr(make_result(repo, TWO), opened, forge, full_name=REPO, branch="main")
    assert git(bare, "branch", "--list").split() == ["*", "main"]


# git's 3-way merge places the first; it calls the second (a change right next to ours) a
# conflict, and the patch engine places it by content.
MOVED = {
    "apart": ("import os\n\n\ndef f():\n    return 1\n", "import os\n\n\ndef f():\n    return 2\n"),
    "adjacent": (
        "def f():\n    return 1\n\n\ndef g():\n    return 3\n",
        "def f():\n    return 2\n\n\ndef g():\n    return 3\n",
    ),
}


@pytest.mark.parametrize("moved", sorted(MOVED))
def test_push_to_pr_commits_on_a_head_that_moved_after_the_base(
    pair: tuple[Path, Path],
    gh: FakeGitHub,
    forge: GitHubForge,
    opened: OpenedRepo,
    tmp_path: Path,
    moved: str,
) -> None:
    repo, bare = pair
    theirs, expected = MOVED[moved]
    result = make_result(repo, TWO)  # made against main
    # The PR branch gained commits since: one on another file, one on the changed file.
    _contributor(tmp_path, bare, "feature/x", {"lib/util.py": "X = 5\n"})
    head = _contributor(tmp_path, bare, "feature/x", {"app.py": theirs})
    number = gh.add_pull(REPO, "feature/x", title="Feature X")
    before = (git(repo, "branch", "--list"), git(repo, "status", "--porcelain"))

    out = push_to_pr(result, opened, forge, full_name=REPO, number=number)

    assert (out.branch, out.pr_number, out.created) == ("feature/x", number, False)
    assert git(bare, "rev-parse", "feature/x").strip() == out.commit
    assert git(bare, "rev-parse", f"{out.commit}^").strip() == head
    assert git(bare, "show", "feature/x:app.py") == expected
    assert git(bare, "show", "feature/x:lib/util.py") == "X = 5\n"
    assert "Tinygen-Run: 20260101-120000-abc123" in git(
        bare, "log", "-1", "--format=%B", "feature/x"
    )
    assert (git(repo, "branch", "--list"), git(repo, "status", "--porcelain")) == before
    # Delivering the same change again adds nothing.
    assert push_to_pr(result, opened, forge, full_name=REPO, number=number).commit == out.commit
    assert git(bare, "rev-parse", "feature/x").strip() == out.commit


def test_push_to_pr_conflict_is_reported_and_nothing_is_pushed(
    pair: tuple[Path, Path], gh: FakeGitHub, forge: GitHubForge, opened: OpenedRepo, tmp_path: Path
) -> None:
    repo, bare = pair
    result = make_result(repo, TWO)
    head = _contributor(tmp_path, bare, "feature/y", {"app.py": "def f():\n    return 42\n"})
    number = gh.add_pull(REPO, "feature/y")
    with pytest.raises(PatchApplyError, match=r"conflicts in app.py") as info:
        push_to_pr(result, opened, forge, full_name=REPO, number=number)
    assert info.value.hint and "`ref`" in info.value.hint and info.value.settings == ("ref",)
    assert git(bare, "rev-parse", "feature/y").strip() == head
    assert len(git(repo, "worktree", "list").splitlines()) == 1  # the temporary one is gone


def test_push_to_pr_refuses_forks_and_closed_prs(
    pair: tuple[Path, Path], gh: FakeGitHub, forge: GitHubForge, opened: OpenedRepo
) -> None:
    repo, bare = pair
    result = make_result(repo, TWO)
    refs = git(bare, "for-each-ref")
    fork = gh.add_pull(REPO, "patch-1", head_repo="mallory/demo")
    with pytest.raises(ForgeError, match=r"comes from another repository \(mallory/demo\)") as info:
        push_to_pr(result, opened, forge, full_name=REPO, number=fork)
    assert info.value.saved_diff and info.value.saved_diff.endswith("diff.patch")
    closed = gh.add_pull(REPO, "main", state="closed")
    with pytest.raises(ForgeError, match="is closed"):
        push_to_pr(result, opened, forge, full_name=REPO, number=closed)
    assert git(bare, "for-each-ref") == refs


def test_pr_from_the_clone_cache(
    pair: tuple[Path, Path], gh: FakeGitHub, forge: GitHubForge
) -> None:
    _repo, bare = pair
    opened = open_repository(str(bare))
    result = make_result(opened.root, TWO, base=opened.base_commit)
    out = publish_pr(result, opened, forge, full_name=REPO, issue=3)
    assert git(bare, "show", f"{out.branch}:app.py") == TWO["app.py"]
    assert gh.pulls(REPO)[0]["head_ref"] == out.branch


def test_plain_rerun_updates_tinygens_own_pr_instead_of_opening_another(
    pair: tuple[Path, Path], gh: FakeGitHub, forge: GitHubForge, opened: OpenedRepo
) -> None:
    repo, bare = pair
    first = publish_pr(make_result(repo, TWO), opened, forge, full_name=REPO)
    assert first.branch == "tinygen/return-two-from-f" and first.created
    again = publish_pr(
        make_result(repo, TWO, run_id="20260101-140000-000002"), opened, forge, full_name=REPO
    )
    assert (again.branch, again.pr_number, again.created) == (first.branch, first.pr_number, False)
    assert again.commit == first.commit  # the head already has the change
    # A failed re-run of the same request lands on the same pull request (as a draft).
    failed = make_result(
        repo,
        {"app.py": "def f():\n    return 2\n", "lib/util.py": "X = 2\n"},
        status=Status.UNAPPROVED,
        run_id="20260101-150000-000003",
    )
    third = publish_pr(failed, opened, forge, full_name=REPO, draft=False)
    assert (third.branch, third.pr_number) == (first.branch, first.pr_number)
    assert git(bare, "rev-parse", f"{third.commit}^").strip() == first.commit
    [pull] = gh.pulls(REPO)
    assert pull["title"] == "[unapproved] Return two from f" and pull["draft"] is True
    assert len(gh.requests_matching("POST", r"/pulls$")) == 1


def test_a_default_named_branch_with_someone_elses_pr_is_not_reused(
    pair: tuple[Path, Path], gh: FakeGitHub, forge: GitHubForge, opened: OpenedRepo, tmp_path: Path
) -> None:
    repo, _bare = pair
    _contributor(tmp_path, pair[1], "tinygen/return-two-from-f", {"README.md": "# theirs\n"})
    theirs = gh.add_pull(REPO, "tinygen/return-two-from-f", body="by hand")
    out = publish_pr(make_result(repo, TWO), opened, forge, full_name=REPO)
    assert out.branch == "tinygen/return-two-from-f-2" and out.created
    assert out.pr_number != theirs
    # and the next run finds its own pull request behind the suffix
    again = publish_pr(
        make_result(repo, TWO, run_id="20260101-140000-000002"), opened, forge, full_name=REPO
    )
    assert (again.branch, again.pr_number, again.created) == (out.branch, out.pr_number, False)


def test_updating_a_pr_sets_its_draft_state(
    pair: tuple[Path, Path], gh: FakeGitHub, forge: GitHubForge, opened: OpenedRepo
) -> None:
    repo, _bare = pair
    branch = "tinygen/issue-7"

    def deliver(n: int, status: Status, *, ready: bool) -> bool:
        result = make_result(
            repo,
            {f"notes/{n}.md": f"note {n}\n"},
            title=f"Add note {n}",
            status=status,
            run_id=f"20260101-1{n}0000-00000{n}",
        )
        publish_pr(result, opened, forge, full_name=REPO, branch=branch, draft=not ready)
        [pull] = gh.pulls(REPO)
        return bool(pull["draft"])

    assert deliver(2, Status.APPROVED, ready=True) is False
    assert deliver(3, Status.UNAPPROVED, ready=True) is True  # a failed run: back to draft
    assert deliver(4, Status.APPROVED, ready=False) is True  # no --ready: left as it is
    assert deliver(5, Status.APPROVED, ready=True) is False  # --ready on a re-run
    assert deliver(6, Status.APPROVED, ready=False) is False  # left ready
    mutations = [r.body["query"] for r in gh.requests_matching("POST", r"^/graphql$")]
    assert ["convertPullRequestToDraft" in q for q in mutations] == [True, False]


def test_a_failed_pr_creation_says_the_branch_was_pushed(
    pair: tuple[Path, Path], gh: FakeGitHub, forge: GitHubForge, opened: OpenedRepo
) -> None:
    repo, bare = pair
    gh.restrict_token(
        DEFAULT_TOKEN, {"metadata": "read", "contents": "write", "pull_requests": "read"}
    )
    with pytest.raises(ForgeError, match="pull-requests: write") as info:
        publish_pr(make_result(repo, TWO), opened, forge, full_name=REPO)
    hint = info.value.hint or ""
    assert "the branch tinygen/return-two-from-f was pushed" in hint
    assert "as a pull request (`pr`) with `branch` tinygen/return-two-from-f" in hint
    assert {"pr", "branch"} <= set(info.value.settings), "the CLI adds --pr --branch"
    assert git(bare, "show", "tinygen/return-two-from-f:app.py") == TWO["app.py"]
    assert gh.pulls(REPO) == []


def test_the_forges_default_branch_is_protected_whatever_the_base(
    make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    # The remote's default is `develop`; the checkout has no origin/HEAD (git init + fetch).
    src = make_repo(FILES)
    git(src, "branch", "develop")
    git(src, "branch", "release")
    bare = tmp_path / "develop-remote.git"
    git(tmp_path, "clone", "--bare", "-q", str(src), str(bare))
    git(bare, "symbolic-ref", "HEAD", "refs/heads/develop")
    work = tmp_path / "work"
    work.mkdir()
    git(work, "init", "-q")
    git(work, "remote", "add", "origin", str(bare))
    git(work, "fetch", "-q", "origin")
    git(work, "checkout", "-q", "-b", "feature", "origin/develop")
    opened = open_repository(str(work))
    assert opened.default_branch is None
    refs = git(bare, "for-each-ref")
    with FakeGitHub(token=DEFAULT_TOKEN) as gh:
        gh.add_repo(REPO, default_branch="develop", clone_url=str(bare))
        forge = GitHubForge(token=DEFAULT_TOKEN, api_url=gh.api_url, policy=ForgePolicy.fast())
        result = make_result(work, TWO)
        with pytest.raises(RepoError, match="refusing to push to 'develop'"):
            publish_pr(result, opened, forge, full_name=REPO, branch="develop", base="release")
        number = gh.add_pull(REPO, "develop", base="release", title="Release")
        with pytest.raises(RepoError, match="refusing to push to 'develop'"):
            push_to_pr(result, opened, forge, full_name=REPO, number=number)
        assert gh.pulls(REPO)[0]["number"] == number and len(gh.pulls(REPO)) == 1
    assert git(bare, "for-each-ref") == refs


def test_a_branch_whose_pr_was_closed_unmerged_is_not_stacked_on(
    pair: tuple[Path, Path], gh: FakeGitHub, forge: GitHubForge, opened: OpenedRepo
) -> None:
    import github

    repo, bare = pair
    branch = "tinygen/issue-9"
    first = publish_pr(make_result(repo, TWO), opened, forge, full_name=REPO, branch=branch)
    assert first.pr_number is not None
    client = github.Github(auth=github.Auth.Token(DEFAULT_TOKEN), base_url=gh.api_url)
    client.get_repo(REPO).get_pull(first.pr_number).edit(state="closed")  # rejected
    last = forge.last_pull(REPO, branch)
    assert last is not None and (last.number, last.state, last.merged) == (
        first.pr_number,
        "closed",
        False,
    )
    assert forge.last_pull(REPO, "no/such-branch") is None
    other = make_result(repo, {"lib/util.py": "X = 3\n"}, run_id="20260101-160000-000009")
    with pytest.raises(RepoError, match=r"closed without merging") as info:
        publish_pr(other, opened, forge, full_name=REPO, branch=branch)
    assert info.value.hint and f"delete the branch {branch}" in info.value.hint
    assert git(bare, "rev-parse", branch).strip() == first.commit
    # after a merge the new work goes on top, in a new pull request
    gh.add_pull(REPO, branch, merged=True)
    out = publish_pr(other, opened, forge, full_name=REPO, branch=branch)
    assert out.created and git(bare, "rev-parse", f"{out.commit}^").strip() == first.commit
