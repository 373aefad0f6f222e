"""apply_diff: a diff into a checkout's working tree, every file or none — and the two
commands that use it (`tinygen apply`, `tinygen run --apply`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import RepoFactory
from tests.fakes.anthropic_server import FakeAnthropic, ToolReply
from tests.helpers import commit_all, git, status, write_files
from tinygen.cli import cli
from tinygen.errors import ExitCode, PatchApplyError, PathPolicyError, RepoError
from tinygen.patch import canonical_diff
from tinygen.repo.apply import apply_diff, place_diff
from tinygen.repo.texts import texts_at

EDIT_APP = "--- a/app.py\n+++ b/app.py\n@@ @@\n def f():\n-    return 1\n+    return 2\n"
FILES = {"app.py": "def f():\n    return 1\n", "lib/util.py": "X = 1\n", "README.md": "# app\n"}


def diff_of(root: Path, after: dict[str, str | None]) -> str:
    """The canonical diff from HEAD's texts to ``after``."""
    head = texts_at(root, "HEAD", after)
    return canonical_diff({p: head.get(p) for p in after}, after)


def test_writes_creates_and_deletes_without_committing(make_repo: RepoFactory) -> None:
    repo = make_repo(FILES)
    diff = diff_of(
        repo, {"app.py": "def f():\n    return 2\n", "new/mod.py": "Y = 1\n", "README.md": None}
    )
    head = git(repo, "rev-parse", "HEAD")
    assert apply_diff(repo, diff, force=False) == ["README.md", "app.py", "new/mod.py"]
    assert (repo / "app.py").read_text() == "def f():\n    return 2\n"
    assert (repo / "new/mod.py").read_text() == "Y = 1\n"
    assert not (repo / "README.md").exists()
    assert git(repo, "rev-parse", "HEAD") == head  # nothing committed, nothing staged
    assert git(repo, "diff", "--cached", "--name-only") == ""
    # a diff whose change is already there writes nothing
    assert apply_diff(repo, EDIT_APP, force=False) == []


def test_places_hunks_by_content_when_the_tree_moved(make_repo: RepoFactory) -> None:
    repo = make_repo(FILES)
    diff = diff_of(repo, {"app.py": "def f():\n    return 2\n"})
    write_files(repo, {"app.py": "import os\n\n\ndef f():\n    return 1\n"})
    commit_all(repo, "moved on")
    assert apply_diff(repo, diff, force=False) == ["app.py"]
    assert (repo / "app.py").read_text() == "import os\n\n\ndef f():\n    return 2\n"


def test_refuses_uncommitted_files_unless_forced(make_repo: RepoFactory) -> None:
    repo = make_repo(FILES)
    diff = diff_of(repo, {"app.py": "def f():\n    return 2\n", "lib/util.py": "X = 2\n"})
    write_files(repo, {"lib/util.py": "X = 1\n# mine\n"})
    with pytest.raises(
        RepoError, match=r"uncommitted changes in lib/util.py; nothing was written"
    ) as info:
        apply_diff(repo, diff, force=False)
    assert info.value.hint and "force" in info.value.hint  # the setting, not a flag
    assert (repo / "app.py").read_text() == FILES["app.py"]
    assert apply_diff(repo, diff, force=True) == ["app.py", "lib/util.py"]
    assert (repo / "lib/util.py").read_text() == "X = 2\n# mine\n"


def test_an_ignored_file_is_the_users_own(make_repo: RepoFactory) -> None:
    repo = make_repo({".gitignore": ".env\n", "app.py": "x = 1\n"})
    write_files(repo, {".env": "TOKEN=abc\n"})
    diff = "--- a/.env\n+++ b/.env\n@@\n-TOKEN=abc\n+TOKEN=evil\n"
    assert place_diff(repo, diff).uncommitted == [".env"]
    with pytest.raises(RepoError, match=r"uncommitted changes in \.env"):
        apply_diff(repo, diff, force=False)
    assert (repo / ".env").read_text() == "TOKEN=abc\n"


def test_is_all_or_nothing_and_names_the_hunk_that_does_not_fit(make_repo: RepoFactory) -> None:
    repo = make_repo(FILES)
    diff = diff_of(repo, {"app.py": "def f():\n    return 2\n", "lib/util.py": "X = 2\n"})
    write_files(repo, {"lib/util.py": "Z = 9\n"})
    commit_all(repo, "util rewritten")  # the second file no longer fits
    before = status(repo)
    with pytest.raises(PatchApplyError, match=r"could not be placed.*: lib/util\.py") as info:
        apply_diff(repo, diff, force=False)
    assert "lib/util.py" in info.value.feedback  # the engine's feedback is kept
    # a remedy for a person (the engine's own hint is written for the model)
    assert info.value.settings == ("branch",) and "by hand" in (info.value.hint or "")
    assert status(repo) == before
    assert (repo / "app.py").read_text() == FILES["app.py"]


def test_names_the_file_it_cannot_create(make_repo: RepoFactory) -> None:
    repo = make_repo(FILES)
    write_files(repo, {".gitignore": "*.log\n"})
    commit_all(repo, "ignore logs")
    write_files(repo, {"build.log": "old\n"})  # ignored, untracked
    diff = "--- /dev/null\n+++ b/build.log\n@@ -0,0 +1 @@\n+new\n"
    with pytest.raises(PatchApplyError, match=r"build\.log.*already exists"):
        apply_diff(repo, diff, force=True)
    assert (repo / "build.log").read_text() == "old\n"


def test_protected_paths_are_refused(make_repo: RepoFactory) -> None:
    repo = make_repo({".github/workflows/ci.yml": "on: push\n", **FILES})
    diff = diff_of(repo, {".github/workflows/ci.yml": "on: [push]\n", "app.py": "x = 2\n"})
    with pytest.raises(PathPolicyError, match="protected"):
        apply_diff(repo, diff, force=True)
    assert (repo / "app.py").read_text() == FILES["app.py"]


def test_a_file_that_is_not_what_the_caller_saw_refuses_the_write(make_repo: RepoFactory) -> None:
    repo = make_repo(FILES)
    diff = diff_of(repo, {"app.py": "def f():\n    return 2\n", "lib/util.py": "X = 2\n"})
    seen = place_diff(repo, diff).before
    # the file changes between the caller's look (a dry run, a check) and the write, in a
    # way the diff still fits: the write is refused all the same
    write_files(repo, {"app.py": "def f():\n    return 1\n# edited meanwhile\n"})
    commit_all(repo, "edited")
    with pytest.raises(RepoError, match=r"app\.py changed on disk"):
        apply_diff(repo, diff, force=False, expected=seen)
    assert (repo / "lib/util.py").read_text() == "X = 1\n"
    assert apply_diff(repo, diff, force=False) == ["app.py", "lib/util.py"]


def test_texts_at_reads_a_commit_lazily(make_repo: RepoFactory) -> None:
    repo = make_repo({**FILES, "bin.dat": b"\x00\x01", "latin.txt": b"caf\xe9\n"})
    first = git(repo, "rev-parse", "HEAD").strip()
    write_files(repo, {"app.py": "changed\n"})
    commit_all(repo, "second")
    texts = texts_at(repo, first)
    assert sorted(texts) == ["README.md", "app.py", "bin.dat", "latin.txt", "lib/util.py"]
    assert texts["app.py"] == FILES["app.py"]  # the commit's text, not the working tree's
    assert "missing.py" not in texts
    with pytest.raises(KeyError):
        texts["missing.py"]
    with pytest.raises(PatchApplyError, match="binary"):
        texts["bin.dat"]
    with pytest.raises(PatchApplyError, match="not UTF-8"):
        texts["latin.txt"]
    assert dict(texts_at(repo, "HEAD", ["app.py", "nope.py"])) == {"app.py": "changed\n"}


# --- both commands ---------------------------------------------------------------------------


def _script(fake: FakeAnthropic) -> None:
    plan = {
        "summary": "f() returns 2.",
        "title": "Make f return 2",
        "files": [{"path": "app.py", "action": "modify", "intent": "Return 2."}],
    }
    fake.on("submit_plan", lambda _req: ToolReply(plan))
    fake.on("write_file_change", lambda _req: ToolReply({"diff": EDIT_APP, "notes": "2"}))
    fake.on("submit_review", lambda _req: ToolReply({"approved": True, "summary": "Right."}))


def test_apply_and_run_apply_share_one_implementation(
    make_repo: RepoFactory, fake: FakeAnthropic, tmp_path: Path
) -> None:
    """The same diff on the same moved working tree: both commands refuse it the same way,
    with apply_diff's message (which names the hunk), and write nothing."""
    repo = make_repo(FILES)
    write_files(repo, {"app.py": "def f():\n    return 3\n"})  # uncommitted, and in the way
    patch = tmp_path / "change.diff"
    patch.write_text(EDIT_APP)
    applied = CliRunner().invoke(cli, ["apply", str(patch), "--repo", str(repo), "--force"])
    _script(fake)
    ran = CliRunner().invoke(
        cli,
        ["run", "Make f() return 2", "--repo", str(repo), "-q", "--apply", "--force"],
        env={"ANTHROPIC_API_KEY": fake.api_key, "ANTHROPIC_BASE_URL": fake.base_url},
    )
    assert applied.exit_code == ran.exit_code == ExitCode.PATCH, (applied.stderr, ran.stderr)
    said = "could not be placed exactly; nothing was changed: app.py, hunk 1"
    assert said in applied.stderr and said in ran.stderr
    assert (repo / "app.py").read_text() == "def f():\n    return 3\n"
