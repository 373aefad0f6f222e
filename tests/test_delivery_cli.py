"""Delivery through the real CLI: `tinygen run` (real anthropic SDK against the fake Messages
API) and `tinygen apply`, with --apply, --branch, --push, --pr and --to-pr against local bare
remotes and the fake GitHub server (real PyGithub client)."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.fakes.anthropic_server import ErrorReply, FakeAnthropic, ToolReply
from tests.fakes.github_server import DEFAULT_TOKEN, FakeGitHub, ScriptedCheck
from tests.helpers import commit_all, git, status, write_files
from tinygen.cli import cli
from tinygen.errors import ExitCode

PLAN, EDIT, VERIFY = "submit_plan", "write_file_change", "submit_review"
REPO = "octo/demo"
FILES = {
    "app.py": "def answer() -> int:\n    return 41\n",
    "util.py": "NAME = 'demo'\n",
    "README.md": "# demo\n",
}
EDIT_APP = (
    "--- a/app.py\n+++ b/app.py\n@@ @@\n def answer() -> int:\n-    return 41\n+    return 42\n"
)
PATCH = "--- a/util.py\n+++ b/util.py\n@@ -1 +1 @@\n-NAME = 'demo'\n+NAME = 'demo2'\n"


def github_env(gh: FakeGitHub) -> dict[str, str]:
    return {"GITHUB_TOKEN": DEFAULT_TOKEN, "GITHUB_API_URL": gh.api_url, "GITHUB_REPOSITORY": REPO}


PLAN_REPLY = ToolReply(
    {
        "summary": "answer() returns 42.",
        "title": "Make answer return 42",
        "files": [{"path": "app.py", "action": "modify", "intent": "Return 42."}],
    }
)


def script_fix(fake: FakeAnthropic, *, approved: bool = True) -> None:
    """Every run (the same change each time): plan, one edit, the review."""
    fake.on(PLAN, lambda _req: PLAN_REPLY)
    fake.on(EDIT, lambda _req: ToolReply({"diff": EDIT_APP, "notes": "changed the constant"}))
    review = {"approved": approved, "summary": "Right." if approved else "Wrong constant."}
    review["revisions"] = [] if approved else [{"path": "app.py", "feedback": "use 43"}]  # type: ignore[assignment]
    fake.on(VERIFY, lambda _req: ToolReply(review))


def run(fake: FakeAnthropic, repo: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    environ = {
        "ANTHROPIC_API_KEY": fake.api_key,
        "ANTHROPIC_BASE_URL": fake.base_url,
        "TINYGEN_MAX_RETRY_WAIT": "0.05",
        "TINYGEN_MAX_RETRY_TOTAL": "0.5",
        **(env or {}),
    }
    return CliRunner().invoke(
        cli,
        ["run", "Make answer() return 42", "--repo", str(repo), "-q", *args],
        env=environ,
        catch_exceptions=False,
    )


def apply(repo: Path, patch: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(
        cli, ["apply", str(patch), "--repo", str(repo), *args], env=env, catch_exceptions=False
    )


# --- tinygen run --apply ---------------------------------------------------------------------


def test_run_apply_writes_the_checkout(fake: FakeAnthropic, pair: tuple[Path, Path]) -> None:
    repo, _bare = pair
    script_fix(fake)
    result = run(fake, repo, "--apply")
    assert result.exit_code == ExitCode.OK, result.stderr
    assert (repo / "app.py").read_text() == "def answer() -> int:\n    return 42\n"
    assert "applied to the working tree: app.py" in result.stderr
    assert git(repo, "status", "--porcelain") == " M app.py\n"


def test_run_apply_refuses_a_dirty_file_unless_forced(
    fake: FakeAnthropic, pair: tuple[Path, Path]
) -> None:
    repo, _bare = pair
    write_files(repo, {"app.py": "def answer() -> int:\n    return 41\n# local note\n"})
    script_fix(fake)
    refused = run(fake, repo, "--apply")
    assert refused.exit_code == ExitCode.REPO
    assert "uncommitted changes in app.py: applying a change" in refused.stderr
    assert fake.requests == []  # refused before the first paid call (issue 12 item 19)
    assert (repo / "app.py").read_text().endswith("    return 41\n# local note\n")
    forced = run(fake, repo, "--apply", "--force")
    assert forced.exit_code == ExitCode.OK, forced.stderr
    assert (repo / "app.py").read_text() == "def answer() -> int:\n    return 42\n# local note\n"


def test_option_combinations_are_usage_errors(fake: FakeAnthropic, pair: tuple[Path, Path]) -> None:
    repo, _bare = pair
    for args, says in (
        (["--force"], "--force goes with --apply"),
        (["--to-pr", "3", "--pr"], "--to-pr pushes to the pull request's branch"),
        (["--ready"], "--ready goes with --pr"),
        (["--branch", "--wait-checks", "60"], "--wait-checks goes with --push, --pr or --to-pr"),
        (["--pr", "--fix-checks", "1"], "--fix-checks goes with --wait-checks"),
        (["--to-pr", "3", "--ref", "HEAD"], "--to-pr makes the change on the pull request's"),
    ):
        result = run(fake, repo, *args)
        assert result.exit_code == ExitCode.USAGE and says in result.stderr, result.stderr
    assert fake.requests == []


# --- tinygen run --branch / --push / --pr -----------------------------------------------------


def test_run_branch_commits_without_touching_the_checkout(
    fake: FakeAnthropic, pair: tuple[Path, Path]
) -> None:
    repo, bare = pair
    script_fix(fake)
    before = (status(repo), git(repo, "rev-parse", "HEAD"), git(repo, "symbolic-ref", "HEAD"))
    result = run(fake, repo, "--branch", "--json")
    assert result.exit_code == ExitCode.OK, result.stderr
    data = json.loads(result.stdout)
    branch = data["delivery"]["branch"]
    assert branch == "tinygen/make-answer-return-42"
    assert f"created the branch {branch}" in result.stderr
    assert git(repo, "show", f"{branch}:app.py").endswith("return 42\n")
    message = git(repo, "log", "-1", "--format=%B", branch)
    assert f"Tinygen-Run: {data['run_id']}" in message and "Co-authored-by: tinygen (" in message
    assert (
        status(repo),
        git(repo, "rev-parse", "HEAD"),
        git(repo, "symbolic-ref", "HEAD"),
    ) == before
    assert branch not in git(bare, "branch", "--list")
    pushed = run(fake, repo, "--branch", "mine/answer", "--push")
    assert pushed.exit_code == ExitCode.OK, pushed.stderr
    assert git(bare, "show", "mine/answer:app.py").endswith("return 42\n")


def test_run_pr_opens_a_draft_and_a_rerun_for_the_issue_updates_it(
    fake: FakeAnthropic, pair: tuple[Path, Path], gh: FakeGitHub
) -> None:
    repo, bare = pair
    script_fix(fake)
    first = run(fake, repo, "--pr", "--issue", "5", "--json", env=github_env(gh))
    assert first.exit_code == ExitCode.OK, first.stderr
    delivery = json.loads(first.stdout)["delivery"]
    assert delivery["branch"] == "tinygen/issue-5" and delivery["pr_created"] is True
    assert delivery["pr_url"] == f"{gh.root_url}/{REPO}/pull/1"
    assert f"pull request #1 opened: {gh.root_url}/{REPO}/pull/1" in first.stderr
    [pull] = gh.pulls(REPO)
    assert pull["draft"] is True and pull["base_ref"] == "main"
    assert "Closes #5" in pull["body"] and "answer() returns 42." in pull["body"]
    assert git(bare, "rev-parse", "tinygen/issue-5").strip() == delivery["commit"]

    second = run(fake, repo, "--pr", "--issue", "5", "--ready", "--json", env=github_env(gh))
    assert second.exit_code == ExitCode.OK, second.stderr
    again = json.loads(second.stdout)
    assert again["delivery"]["pr_number"] == 1 and again["delivery"]["pr_created"] is False
    assert "pull request #1 updated" in second.stderr
    assert len(gh.pulls(REPO)) == 1
    assert again["run_id"] in gh.pulls(REPO)[0]["body"]
    assert gh.pulls(REPO)[0]["draft"] is False  # --ready on the re-run marks it ready
    for out in (first, second):
        assert DEFAULT_TOKEN not in out.stdout + out.stderr


def test_run_pr_rerun_without_issue_or_branch_updates_the_same_pr(
    fake: FakeAnthropic, pair: tuple[Path, Path], gh: FakeGitHub
) -> None:
    repo, bare = pair
    script_fix(fake)
    first = run(fake, repo, "--pr", "--json", env=github_env(gh))
    assert first.exit_code == ExitCode.OK, first.stderr
    second = run(fake, repo, "--pr", "--json", env=github_env(gh))
    assert second.exit_code == ExitCode.OK, second.stderr
    one, two = (json.loads(r.stdout)["delivery"] for r in (first, second))
    assert one["branch"] == two["branch"] == "tinygen/make-answer-return-42"
    assert (two["pr_number"], two["pr_created"]) == (one["pr_number"], False)
    assert len(gh.pulls(REPO)) == 1
    assert git(bare, "for-each-ref", "--format=%(refname)", "refs/heads/tinygen").split() == [
        "refs/heads/tinygen/make-answer-return-42"
    ]


def test_pr_checks_token_repository_and_access_before_the_model_runs(
    fake: FakeAnthropic, pair: tuple[Path, Path], gh: FakeGitHub
) -> None:
    repo, bare = pair
    script_fix(fake)
    wrong = run(fake, repo, "--pr", env=github_env(gh) | {"GITHUB_TOKEN": "ghp_" + "x" * 36})
    assert wrong.exit_code == ExitCode.FORGE and "401" in wrong.stderr, wrong.stderr
    missing = run(fake, repo, "--pr", env=github_env(gh) | {"GITHUB_REPOSITORY": "octo/nope"})
    assert missing.exit_code == ExitCode.FORGE and "octo/nope" in missing.stderr, missing.stderr
    gh.set_permission(REPO, "tinygen-bot", "read")
    read_only = run(fake, repo, "--pr", env=github_env(gh))
    assert read_only.exit_code == ExitCode.FORGE
    assert "can only read on octo/demo" in read_only.stderr and "write access" in read_only.stderr
    assert fake.requests == []  # no model call was paid for
    assert git(bare, "branch", "--list").split() == ["*", "main"]


def test_pr_base_defaults_to_the_ref_branch(
    fake: FakeAnthropic, pair: tuple[Path, Path], gh: FakeGitHub
) -> None:
    repo, _bare = pair
    git(repo, "push", "-q", "origin", "main:feature")
    git(repo, "fetch", "-q", "origin")
    script_fix(fake)
    result = run(fake, repo, "--pr", "--ref", "origin/feature", env=github_env(gh))
    assert result.exit_code == ExitCode.OK, result.stderr
    assert gh.pulls(REPO)[0]["base_ref"] == "feature"
    assert "goes into feature (--ref)" in result.stderr


@pytest.fixture
def develop(make_repo: Callable[..., Path], tmp_path: Path) -> tuple[Path, Path]:
    """A checkout made like actions/checkout does (init, remote add, fetch: no origin/HEAD)
    of a remote whose default branch is `develop`."""
    src = make_repo(FILES)
    git(src, "branch", "-m", "develop")
    git(src, "branch", "release")
    bare = tmp_path / "develop.git"
    git(tmp_path, "clone", "--bare", "-q", str(src), str(bare))
    work = tmp_path / "work"
    work.mkdir()
    git(work, "init", "-q")
    git(work, "remote", "add", "origin", str(bare))
    git(work, "fetch", "-q", "origin")
    git(work, "checkout", "-q", "-b", "feature", "origin/develop")
    return work, bare


def test_pushing_to_the_remotes_default_branch_is_refused_before_the_model_runs(
    fake: FakeAnthropic, develop: tuple[Path, Path], tmp_path: Path
) -> None:
    work, bare = develop
    refs = git(bare, "for-each-ref")
    script_fix(fake)
    result = run(fake, work, "--branch", "develop", "--push")
    assert result.exit_code == ExitCode.REPO, result.stderr
    assert "refusing to push to 'develop'" in result.stderr
    assert fake.requests == []
    patch = tmp_path / "p.diff"
    patch.write_text(PATCH)
    applied = apply(work, patch, "--branch", "develop", "--push")
    assert applied.exit_code == ExitCode.REPO and "refusing to push to 'develop'" in applied.stderr
    with FakeGitHub(token=DEFAULT_TOKEN) as gh:
        gh.add_repo(REPO, default_branch="develop", clone_url=str(bare))
        env = github_env(gh)
        pr = apply(work, patch, "--pr", "--branch", "develop", "--base", "release", env=env)
        assert pr.exit_code == ExitCode.REPO and "refusing to push to 'develop'" in pr.stderr
        number = gh.add_pull(REPO, "develop", base="release", title="Release")
        to_pr = apply(work, patch, "--to-pr", str(number), env=env)
        assert to_pr.exit_code == ExitCode.REPO and "refusing to push to 'develop'" in to_pr.stderr
    assert git(bare, "for-each-ref") == refs


def test_a_failed_delivery_still_prints_the_result(
    fake: FakeAnthropic, pair: tuple[Path, Path], tmp_path: Path
) -> None:
    repo, bare = pair
    _pr_branch(tmp_path, bare, "fix", {"b.txt": "b\n"})  # someone else's branch `fix`
    script_fix(fake)
    result = run(fake, repo, "--branch", "fix", "--push", "--json")
    assert result.exit_code == ExitCode.REPO, result.stderr
    data = json.loads(result.stdout)
    assert data["status"] == "approved" and "+    return 42" in data["diff"]
    failure = data["delivery"]
    assert "non-fast-forward" in failure["error"] and failure["exit_code"] == ExitCode.REPO
    assert failure["saved_diff"].endswith("diff.patch")  # data, not a sentence in the hint
    assert f"tinygen: run {data['run_id']}" in result.stderr
    assert result.stderr.count("the diff is saved in") == 1
    assert git(repo, "show", "fix:app.py").endswith("return 42\n")  # the local branch is kept


def test_run_pr_needs_a_token_and_a_github_repository(
    fake: FakeAnthropic, pair: tuple[Path, Path], gh: FakeGitHub
) -> None:
    repo, _bare = pair
    no_token = run(
        fake, repo, "--pr", env={"GITHUB_API_URL": gh.api_url, "GITHUB_REPOSITORY": REPO}
    )
    assert no_token.exit_code == ExitCode.CONFIG
    assert "needs a GitHub token" in no_token.stderr and "GITHUB_TOKEN" in no_token.stderr
    not_github = run(fake, repo, "--pr", env={"GITHUB_TOKEN": DEFAULT_TOKEN})
    assert not_github.exit_code == ExitCode.CONFIG
    assert "is not on GitHub" in not_github.stderr and "GITHUB_REPOSITORY" in not_github.stderr
    assert DEFAULT_TOKEN not in not_github.stderr
    assert fake.requests == []  # refused before any model call
    assert gh.pulls(REPO) == []


def test_failed_run_with_a_diff_is_pushed_as_a_draft_stating_the_failure(
    fake: FakeAnthropic, pair: tuple[Path, Path], gh: FakeGitHub
) -> None:
    repo, bare = pair
    script_fix(fake, approved=False)
    result = run(fake, repo, "--pr", "--ready", "--max-rounds", "1", env=github_env(gh))
    assert result.exit_code == ExitCode.UNAPPROVED, result.stderr
    [pull] = gh.pulls(REPO)
    assert pull["draft"] is True  # --ready does not apply to a failed run
    assert pull["title"].startswith("[unapproved] ")
    assert "did not succeed (unapproved)" in pull["body"]
    assert git(bare, "show", f"{pull['head_ref']}:app.py").endswith("return 42\n")
    assert "Tinygen-Status: unapproved" in git(bare, "log", "-1", "--format=%B", pull["head_ref"])


def test_run_that_raises_after_a_diff_still_pushes_it(
    fake: FakeAnthropic, pair: tuple[Path, Path], gh: FakeGitHub
) -> None:
    repo, bare = pair
    fake.script(
        PLAN,
        ToolReply(
            {
                "summary": "answer() returns 42.",
                "title": "Make answer return 42",
                "files": [{"path": "app.py", "action": "modify", "intent": "Return 42."}],
            }
        ),
    )
    # The first edit works; the reviewer asks for a revision; then the API fails for good.
    fake.script(
        EDIT, ToolReply({"diff": EDIT_APP}), ErrorReply(401, "authentication_error", "bad key")
    )
    fake.script(
        VERIFY,
        ToolReply(
            {
                "approved": False,
                "summary": "Almost.",
                "revisions": [{"path": "app.py", "feedback": "doc it"}],
            }
        ),
    )
    result = run(fake, repo, "--pr", env=github_env(gh))
    assert result.exit_code == ExitCode.LLM, result.stderr
    assert "diff.patch" in result.stderr
    [pull] = gh.pulls(REPO)
    assert pull["draft"] is True and "did not succeed (failed)" in pull["body"]
    assert git(bare, "show", f"{pull['head_ref']}:app.py").endswith("return 42\n")


# --- tinygen run --to-pr ----------------------------------------------------------------------


def _pr_branch(tmp_path: Path, bare: Path, branch: str, files: dict[str, str]) -> str:
    work = tmp_path / "contributor"
    git(tmp_path, "clone", "-q", str(bare), str(work))
    git(work, "switch", "-q", "-c", branch)
    write_files(work, files)
    sha = commit_all(work, "PR work")
    git(work, "push", "-q", "origin", branch)
    return sha


def test_run_to_pr_pushes_a_commit_to_the_pr_head(
    fake: FakeAnthropic, pair: tuple[Path, Path], gh: FakeGitHub, tmp_path: Path
) -> None:
    repo, bare = pair
    head = _pr_branch(tmp_path, bare, "feature/readme", {"README.md": "# demo\n\nMore.\n"})
    number = gh.add_pull(REPO, "feature/readme")
    script_fix(fake)
    result = run(fake, repo, "--to-pr", str(number), "--json", env=github_env(gh))
    assert result.exit_code == ExitCode.OK, result.stderr
    data = json.loads(result.stdout)
    assert data["base_commit"] == head  # the change was made on the PR's head
    new = git(bare, "rev-parse", "feature/readme").strip()
    assert data["delivery"]["commit"] == new and git(bare, "rev-parse", f"{new}^").strip() == head
    assert git(bare, "show", "feature/readme:README.md") == "# demo\n\nMore.\n"
    assert git(bare, "show", "feature/readme:app.py").endswith("return 42\n")
    assert f"of pull request #{number}" in result.stderr


def test_run_to_pr_refuses_a_fork_before_the_model_runs(
    fake: FakeAnthropic, pair: tuple[Path, Path], gh: FakeGitHub
) -> None:
    repo, bare = pair
    number = gh.add_pull(REPO, "patch-1", head_repo="mallory/demo")
    result = run(fake, repo, "--to-pr", str(number), env=github_env(gh))
    assert result.exit_code == ExitCode.FORGE
    assert "comes from another repository (mallory/demo)" in result.stderr
    assert fake.requests == []
    assert git(bare, "branch", "--list").split() == ["*", "main"]


# --- tinygen apply with delivery ----------------------------------------------------------------


def test_apply_branch_commits_a_patch_and_leaves_the_working_tree(
    pair: tuple[Path, Path], tmp_path: Path
) -> None:
    repo, bare = pair
    patch = tmp_path / "rename.diff"
    patch.write_text(PATCH)
    before = status(repo)
    result = apply(repo, patch, "--branch", "--push", "--json")
    assert result.exit_code == ExitCode.OK, result.stderr
    data = json.loads(result.stdout)["delivery"]
    assert data["branch"] == "tinygen/apply-rename-diff-to-util-py"
    assert git(bare, "show", f"{data['branch']}:util.py") == "NAME = 'demo2'\n"
    assert "Tinygen-Run: " in git(bare, "log", "-1", "--format=%B", data["branch"])
    assert status(repo) == before and (repo / "util.py").read_text() == FILES["util.py"]
    usage = apply(repo, patch, "--branch", "--dry-run")
    assert usage.exit_code == ExitCode.USAGE


def test_apply_pr_opens_a_pull_request(
    pair: tuple[Path, Path], gh: FakeGitHub, tmp_path: Path
) -> None:
    repo, bare = pair
    patch = tmp_path / "p.diff"
    patch.write_text(PATCH)
    result = apply(repo, patch, "--pr", "--base", "main", env=github_env(gh))
    assert result.exit_code == ExitCode.OK, result.stderr
    [pull] = gh.pulls(REPO)
    assert pull["draft"] is True and pull["title"] == "Apply p.diff to util.py"
    assert "validated" not in pull["title"]
    assert git(bare, "show", f"{pull['head_ref']}:util.py") == "NAME = 'demo2'\n"
    assert DEFAULT_TOKEN not in result.stdout + result.stderr
    message = git(bare, "log", "-1", "--format=%B", pull["head_ref"])
    assert str(tmp_path) not in pull["body"] + message  # no local paths published
    assert "p.diff" in pull["body"]


def test_apply_delivers_an_invalid_diff_but_exits_5(
    pair: tuple[Path, Path], tmp_path: Path
) -> None:
    repo, bare = pair
    patch = tmp_path / "broken.diff"
    patch.write_text(
        "--- a/app.py\n+++ b/app.py\n@@ -1,2 +1,2 @@\n def answer() -> int:\n"
        "-    return 41\n+    return (41\n"
    )
    result = apply(repo, patch, "--branch", "--push", "--json")
    assert result.exit_code == ExitCode.PATCH, result.stderr
    data = json.loads(result.stdout)
    assert data["status"] == "invalid"
    branch = data["delivery"]["branch"]
    assert git(bare, "show", f"{branch}:app.py").endswith("return (41\n")  # work is kept
    assert "Tinygen-Status: invalid" in git(bare, "log", "-1", "--format=%B", branch)


# --- counted: what one delivery asks the remote and GitHub ------------------------------------


@pytest.fixture
def git_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every git command run from now on, one line of arguments each, in the returned file."""
    real = shutil.which("git")
    assert real is not None
    folder = tmp_path / "git-wrapper"
    folder.mkdir()
    log = tmp_path / "git.log"
    wrapper = folder / "git"
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec "{real}" "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return log


def test_run_pr_lists_the_remote_once_and_reads_the_repository_once(
    fake: FakeAnthropic, pair: tuple[Path, Path], gh: FakeGitHub, git_log: Path
) -> None:
    repo, _bare = pair
    script_fix(fake)
    result = run(fake, repo, "--pr", "--check", "true", "--json", env=github_env(gh))
    assert result.exit_code == ExitCode.OK, result.stderr
    assert json.loads(result.stdout)["delivery"]["pr_created"] is True
    # without the `-c name=value` options in front (temporary worktrees' no-hooks settings)
    commands = [re.sub(r"^(-c \S+ )+", "", c) for c in git_log.read_text().splitlines()]
    listings = [c for c in commands if c.startswith("ls-remote")]
    # one listing to check the branch before the run would need a named branch; without one,
    # the delivery lists the remote once (default branch and every branch tip) and reuses it
    assert len(listings) == 1, listings
    # the diff is applied once (the gate's throwaway index): the checks' worktree checks out
    # the validated tree and the commit is that tree (git commit-tree), never a second apply
    applies = [c for c in commands if c.startswith("apply")]
    assert len(applies) == 1, applies
    assert any(c.startswith("commit-tree") for c in commands)
    reads = gh.requests_matching("GET", rf"^/repos/{REPO}$")
    assert len(reads) == 1, [r.path for r in reads]


# --- the repository's CI on the pushed commit (--wait-checks), tokens that start it ----------


def ci_env(gh: FakeGitHub) -> dict[str, str]:
    # look often, give up on a CI that never starts soon: these tests count looks, not time
    return github_env(gh) | {"TINYGEN_CI_POLL": "0.01", "TINYGEN_CI_START_TIMEOUT": "0.3"}


def test_wait_checks_reports_the_repositorys_ci(
    fake: FakeAnthropic, pair: tuple[Path, Path], gh: FakeGitHub
) -> None:
    repo, _bare = pair
    script_fix(fake)
    gh.script_ci(
        REPO,
        [
            ScriptedCheck(
                "tests", [("queued", None), ("in_progress", None), ("completed", "success")]
            ),
            ScriptedCheck("lint", [("pending", None), ("success", None)], kind="status"),
        ],
    )
    result = run(fake, repo, "--pr", "--wait-checks", "60", "--json", env=ci_env(gh))
    assert result.exit_code == ExitCode.OK, result.stderr
    data = json.loads(result.stdout)
    ci = data["delivery"]["ci"]
    assert ci["state"] == "passed" and ci["sha"] == data["delivery"]["commit"]
    assert {(c["name"], c["kind"], c["state"]) for c in ci["checks"]} == {
        ("tests", "check_run", "success"),
        ("lint", "status", "success"),
    }
    assert ci["looks"] == 3 == gh.ci_polls(REPO, ci["sha"])  # until the last one completed
    assert "the repository's CI on" in result.stderr and "passed" in result.stderr
    assert data["exit_code"] == ExitCode.OK


def test_wait_checks_failed_ci_has_its_own_exit_code(
    fake: FakeAnthropic, pair: tuple[Path, Path], gh: FakeGitHub
) -> None:
    repo, _bare = pair
    script_fix(fake)
    gh.script_ci(REPO, [ScriptedCheck("tests", [("completed", "failure")], summary="2 failed")])
    result = run(fake, repo, "--pr", "--wait-checks", "--json", env=ci_env(gh))
    assert result.exit_code == ExitCode.CI_FAILED, result.stderr
    data = json.loads(result.stdout)
    assert data["status"] == "approved" and data["exit_code"] == ExitCode.CI_FAILED
    assert data["delivery"]["ci"]["state"] == "failed"
    assert "FAILED" in result.stderr and f"{gh.root_url}/{REPO}/runs/tests" in result.stderr


def test_wait_checks_that_never_finish_time_out(
    fake: FakeAnthropic, pair: tuple[Path, Path], gh: FakeGitHub
) -> None:
    repo, _bare = pair
    script_fix(fake)
    gh.script_ci(REPO, [ScriptedCheck("slow", [("in_progress", None)])])
    result = run(fake, repo, "--pr", "--wait-checks", "1", "--json", env=ci_env(gh))
    assert result.exit_code == ExitCode.CI_TIMED_OUT, result.stderr
    ci = json.loads(result.stdout)["delivery"]["ci"]
    assert ci["state"] == "timed_out" and ci["checks"][0]["state"] == "pending"
    assert ci["looks"] >= 2  # it kept looking until the limit


def test_a_workflow_token_push_starts_no_ci_and_says_so(
    fake: FakeAnthropic, pair: tuple[Path, Path], gh: FakeGitHub
) -> None:
    repo, _bare = pair
    script_fix(fake)
    workflow_token = "ghs_" + "w" * 36  # what a workflow's GITHUB_TOKEN looks like
    gh.add_token(workflow_token, "github-actions[bot]")
    gh.set_permission(REPO, "github-actions[bot]", "write")
    env = ci_env(gh) | {"GITHUB_TOKEN": workflow_token}
    result = run(fake, repo, "--pr", "--wait-checks", "--json", env=env)
    assert result.exit_code == ExitCode.OK, result.stderr
    ci = json.loads(result.stdout)["delivery"]["ci"]
    assert ci["state"] == "none" and ci["checks"] == []
    assert "did not start" in result.stderr and "GitHub App" in result.stderr
    assert workflow_token not in result.stdout + result.stderr


def _app_key() -> tuple[str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def test_a_github_app_token_is_minted_used_and_never_shown(
    fake: FakeAnthropic, pair: tuple[Path, Path], gh: FakeGitHub
) -> None:
    repo, _bare = pair
    script_fix(fake)
    private, public = _app_key()
    gh.add_app(4242, public, (REPO,))
    env = {
        "GITHUB_API_URL": gh.api_url,
        "GITHUB_REPOSITORY": REPO,
        "TINYGEN_APP_ID": "4242",
        "TINYGEN_APP_PRIVATE_KEY": private,
    }
    result = run(fake, repo, "--pr", "--json", env=env)
    assert result.exit_code == ExitCode.OK, result.stderr
    [minted] = gh.minted
    [pull] = gh.pulls(REPO)
    assert pull["user"] == "tinygen-app[bot]"  # opened with the App's token
    assert minted not in result.stdout + result.stderr
    assert "PRIVATE KEY" not in result.stdout + result.stderr
    # half an App is a configuration error before anything runs
    half = run(fake, repo, "--pr", env=env | {"TINYGEN_APP_PRIVATE_KEY": ""})
    assert half.exit_code == ExitCode.CONFIG and "private key is missing" in half.stderr


def test_fix_checks_revises_with_the_ci_failure_and_pushes_again(
    fake: FakeAnthropic, pair: tuple[Path, Path], gh: FakeGitHub
) -> None:
    repo, bare = pair
    fake.on(PLAN, lambda _req: PLAN_REPLY)
    second = (
        "--- a/app.py\n+++ b/app.py\n@@ @@\n def answer() -> int:\n-    return 42\n+    return 43\n"
    )
    edits = iter([ToolReply({"diff": EDIT_APP}), ToolReply({"diff": second})])
    fake.on(EDIT, lambda _req: next(edits))
    fake.on(VERIFY, lambda _req: ToolReply({"approved": True, "summary": "Right."}))
    gh.script_ci(
        REPO,
        [ScriptedCheck("tests", [("completed", "failure")], summary="expected 43, got 42")],
        [ScriptedCheck("tests", [("completed", "success")])],
    )
    result = run(
        fake, repo, "--pr", "--wait-checks", "60", "--fix-checks", "2", "--json", env=ci_env(gh)
    )
    assert result.exit_code == ExitCode.OK, result.stderr
    delivery = json.loads(result.stdout)["delivery"]
    assert delivery["ci"]["state"] == "failed"
    [fix] = delivery["fixes"]  # one follow-up sufficed: its CI passed
    assert fix["status"] == "approved" and fix["delivery"]["ci"]["state"] == "passed"
    # the follow-up saw the failure, worked on the pull request's head, and pushed on top
    last_plan = fake.requests_for(PLAN)[-1]
    follow_up = last_plan.system_text + last_plan.text
    assert "expected 43, got 42" in follow_up and "The repository's CI failed" in follow_up
    head = fix["delivery"]["commit"]
    assert git(bare, "rev-parse", delivery["branch"]).strip() == head
    assert git(bare, "rev-parse", f"{head}^").strip() == delivery["commit"]
    assert git(bare, "show", f"{head}:app.py").endswith("return 43\n")
    assert len(gh.pulls(REPO)) == 1
