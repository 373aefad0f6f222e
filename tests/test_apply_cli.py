"""`tinygen apply` end to end, through click, on real repositories."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import RepoFactory
from tests.helpers import status, write_files
from tinygen.cli import cli
from tinygen.errors import RepoError
from tinygen.repo.files import write_files_atomically

FILES = {"app.py": "def f():\n    return 1\n", "lib/util.py": "X = 1\n", "win.txt": "a\r\nb\r\n"}
DIFF = (
    "Here is the patch:\n```diff\n--- app.py\n+++ app.py\n@@ ... @@\n def f():\n-    return 1\n"
    "+    return 2\n```\n```diff\n--- a/util.py\n+++ b/util.py\n@@\n-X = 1\n+X = 2\n```\n"
)


def _run(root: Path, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["apply", "--repo", str(root), *args], input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_applies_from_stdin(make_repo: RepoFactory) -> None:
    root = make_repo(FILES)
    code, _, err = _run(root, "-", stdin=DIFF)
    assert code == 0, err
    assert (root / "app.py").read_text() == "def f():\n    return 2\n"
    assert (root / "lib/util.py").read_text() == "X = 2\n"
    assert "lib/util.py: hunk 1 applied at line 1 (exact)" in err


def test_dry_run_prints_canonical_diff_and_writes_nothing(
    make_repo: RepoFactory, tmp_path: Path
) -> None:
    root = make_repo(FILES)
    patch = tmp_path / "p.diff"
    patch.write_text(DIFF)
    before = status(root)
    code, out, _ = _run(root, str(patch), "--dry-run")
    assert code == 0
    assert out.startswith(
        "diff --git a/app.py b/app.py\n--- a/app.py\n+++ b/app.py\n@@ -1,2 +1,2 @@"
    )
    assert "diff --git a/lib/util.py b/lib/util.py" in out
    assert status(root) == before


def test_refusal_writes_nothing_and_gives_feedback(make_repo: RepoFactory) -> None:
    root = make_repo(FILES)
    bad = DIFF.replace("-X = 1", "-X = 100")
    code, _, err = _run(root, stdin=bad)
    assert code == 5
    assert "Did you mean" in err and "app.py hunk 1" in err
    assert (root / "app.py").read_text() == FILES["app.py"]


def test_json_report(make_repo: RepoFactory) -> None:
    root = make_repo(FILES)
    code, out, _ = _run(root, "--json", "--dry-run", stdin=DIFF)
    data = json.loads(out)
    assert code == 0 and data["ok"] and not data["written"]
    assert data["files"] == ["app.py", "lib/util.py"]
    assert data["hunks"][0]["strategy"] == "exact"
    code, out, _ = _run(root, "--json", stdin="--- app.py\n+++ app.py\n@@\n-nope\n+x\n")
    data = json.loads(out)
    assert code == 5 and not data["ok"] and "nope" in data["feedback"]


def test_uncommitted_changes_are_refused_unless_forced(make_repo: RepoFactory) -> None:
    root = make_repo(FILES)
    write_files(root, {"lib/util.py": "X = 1\n# local edit\n"})
    code, _, err = _run(root, stdin=DIFF)
    assert code == 8 and "uncommitted changes in lib/util.py" in err
    assert (root / "app.py").read_text() == FILES["app.py"]
    code, _, _ = _run(root, "--force", stdin=DIFF)
    assert code == 0
    assert (root / "lib/util.py").read_text() == "X = 2\n# local edit\n"


def test_protected_path_is_refused(make_repo: RepoFactory) -> None:
    root = make_repo({".github/workflows/ci.yml": "on: push\n"})
    diff = "--- a/.github/workflows/ci.yml\n+++ b/.github/workflows/ci.yml\n@@\n-on: push\n+on: [push]\n"
    code, _, err = _run(root, stdin=diff)
    assert code == 5 and "protected" in err
    assert (root / ".github/workflows/ci.yml").read_text() == "on: push\n"


def test_crlf_file_stays_crlf(make_repo: RepoFactory) -> None:
    root = make_repo(FILES)
    code, _, _ = _run(root, stdin="--- win.txt\n+++ win.txt\n@@\n a\n-b\n+c\n+d\n")
    assert code == 0
    assert (root / "win.txt").read_bytes() == b"a\r\nc\r\nd\r\n"


def test_check_runs_in_a_worktree_with_the_change(make_repo: RepoFactory) -> None:
    root = make_repo(FILES)
    code, _, err = _run(root, "--dry-run", "--check", "grep -q 'return 2' app.py", stdin=DIFF)
    assert code == 0, err
    assert "check: grep -q 'return 2' app.py: ok" in err
    code, _, err = _run(root, "--dry-run", "--check", "grep -q 'return 1' app.py", stdin=DIFF)
    assert code == 10 and "exit 1" in err
    assert (root / "app.py").read_text() == FILES["app.py"]


def test_bad_input_and_not_a_repository(make_repo: RepoFactory, tmp_path: Path) -> None:
    root = make_repo(FILES)
    code, _, err = _run(root, stdin="")
    assert code == 5 and "empty" in err
    code, _, err = _run(tmp_path, stdin=DIFF)
    assert code == 8 and "not inside a git repository" in err


def test_new_and_deleted_files(make_repo: RepoFactory) -> None:
    root = make_repo(FILES)
    diff = "--- /dev/null\n+++ b/pkg/new.py\n@@\n+y = 1\n--- a/lib/util.py\n+++ /dev/null\n@@\n-X = 1\n"
    code, _, err = _run(root, stdin=diff)
    assert code == 0, err
    assert (root / "pkg/new.py").read_text() == "y = 1\n"
    assert not (root / "lib").exists()


def test_atomic_write_rolls_back_everything(make_repo: RepoFactory) -> None:
    root = make_repo({"a.txt": "a\n", "b.txt": "b\n"})
    (root / "ro").mkdir()
    os.chmod(root / "ro", 0o500)
    try:
        if os.access(root / "ro", os.W_OK):  # running as root: use a file as a parent instead
            changes = {"a.txt": "A\n", "b.txt/child": "x\n"}
        else:
            changes = {"a.txt": "A\n", "ro/new.txt": "x\n"}
        with pytest.raises(RepoError) as info:
            write_files_atomically(root, changes)
        assert "nothing was changed" in str(info.value)
        assert (root / "a.txt").read_text() == "a\n" and (root / "b.txt").read_text() == "b\n"
        assert sorted(p.name for p in root.iterdir()) == [".git", "a.txt", "b.txt", "ro"]
    finally:
        os.chmod(root / "ro", 0o700)


def test_atomic_write_writes_deletes_and_keeps_modes(make_repo: RepoFactory) -> None:
    root = make_repo({"run.sh": "echo 1\n", "old.txt": "o\n"})
    os.chmod(root / "run.sh", 0o755)
    write_files_atomically(root, {"run.sh": "echo 2\n", "old.txt": None, "d/e/new.txt": "n\r\n"})
    assert (root / "run.sh").read_text() == "echo 2\n" and os.stat(root / "run.sh").st_mode & 0o111
    assert not (root / "old.txt").exists()
    assert (root / "d/e/new.txt").read_bytes() == b"n\r\n"


# --- review of issue 3 -------------------------------------------------------------------


def test_dry_run_only_warns_about_uncommitted_changes(make_repo: RepoFactory) -> None:
    root = make_repo(FILES)
    write_files(root, {"lib/util.py": "X = 1\n# local edit\n"})
    code, out, err = _run(root, "--dry-run", stdin=DIFF)
    assert code == 0, err
    assert "warning: uncommitted changes in lib/util.py" in err
    assert "+X = 2" in out
    assert (root / "lib/util.py").read_text() == "X = 1\n# local edit\n"


def test_ignored_files_are_not_overwritten_without_force(make_repo: RepoFactory) -> None:
    root = make_repo({".gitignore": ".env\n", "app.py": "x = 1\n"})
    write_files(root, {".env": "TOKEN=abc\n"})
    diff = "--- a/.env\n+++ b/.env\n@@\n-TOKEN=abc\n+TOKEN=evil\n"
    code, _, err = _run(root, stdin=diff)
    assert code == 8 and "uncommitted changes in .env" in err
    assert (root / ".env").read_text() == "TOKEN=abc\n"


def test_unreadable_patch_file_is_a_usage_error(make_repo: RepoFactory, tmp_path: Path) -> None:
    root = make_repo(FILES)
    code, _, err = _run(root, str(tmp_path / "missing.diff"))
    assert code == 2 and "cannot read" in err


def test_json_failure_lists_the_failed_hunks_and_a_hint(make_repo: RepoFactory) -> None:
    root = make_repo(FILES)
    bad = DIFF.replace("-X = 1", "-X = 100")
    code, out, _ = _run(root, "--json", stdin=bad)
    data = json.loads(out)
    assert code == 5 and not data["ok"]
    assert data["failures"] == [
        {
            "path": "lib/util.py",
            "hunk": 1,
            "header": "@@",
            "reason": "its before-text (context and removed lines) is not in the file.",
        }
    ]
    # a person's remedy (the model's is "send the whole diff again"), naming no flag
    assert "apply it by hand" in data["hint"] and "--" not in data["hint"]


def test_stdin_on_a_terminal_says_it_is_waiting(make_repo: RepoFactory) -> None:
    import pty
    import subprocess
    import sys

    root = make_repo(FILES)
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tinygen", "apply", "--repo", str(root)],
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    os.close(slave)
    os.write(master, b"\x04")  # Ctrl-D on an empty line: end of input
    _, err = proc.communicate(timeout=60)
    os.close(master)
    assert b"reading the diff from stdin (Ctrl-D to end)" in err
    assert proc.returncode == 5 and b"empty" in err


def test_json_has_the_same_keys_whether_the_patch_applied_or_not(make_repo: RepoFactory) -> None:
    root = make_repo(FILES)
    code, good, _ = _run(root, "--json", "--dry-run", stdin=DIFF)
    assert code == 0
    code, bad, _ = _run(root, "--json", stdin="--- app.py\n+++ app.py\n@@ @@\n-nope\n+x\n")
    assert code == 5
    ok, refused = json.loads(good), json.loads(bad)
    assert set(ok) == set(refused)
    assert ok["error"] is None and ok["failures"] == [] and ok["diff"]
    assert refused["error"] and refused["failures"] and refused["files"] == []
