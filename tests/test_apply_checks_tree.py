"""`tinygen apply --check` validates what ships: the checks run on a worktree of the tree the
validation gate wrote (a throwaway commit of it, as in `tinygen run`), and the files then
written hold exactly what the checks saw. Uncommitted files are refused by the one refusal
`run --apply` uses. Real git, real checks, through click and through the library."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import RepoFactory
from tests.helpers import git, status, write_files
from tinygen.cli import cli
from tinygen.delivery.checkout import apply_to_checkout
from tinygen.errors import ExitCode, PatchApplyError, RepoError
from tinygen.repo.apply import refuse_uncommitted
from tinygen.repo.trees import SNAPSHOT_IDENTITY

FILES = {"app.py": "def f():\n    return 1\n", "lib/util.py": "X = 1\n"}
DIFF = "--- a/lib/util.py\n+++ b/lib/util.py\n@@\n-X = 1\n+X = 2\n"


def _apply(root: Path, *args: str, stdin: str = DIFF) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["apply", "--repo", str(root), *args], input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_checks_run_on_a_clean_commit_of_the_gates_tree(
    make_repo: RepoFactory, tmp_path: Path
) -> None:
    root = make_repo(FILES)
    seen = tmp_path / "seen"
    # the worktree is a clean checkout of a snapshot commit on HEAD: nothing was written
    # into it after the checkout (the old path wrote the files into a worktree of HEAD)
    check = (
        'test -z "$(git status --porcelain)"'
        f" && git log -1 --format='%an %P %T' > {seen}/commit"
        f" && cp lib/util.py {seen}/util.py"
    )
    seen.mkdir()
    code, _, err = _apply(root, "--check", check)
    assert code == ExitCode.OK, err
    author, parent, tree = (seen / "commit").read_text().split()
    assert author == SNAPSHOT_IDENTITY["GIT_AUTHOR_NAME"]
    assert parent == git(root, "rev-parse", "HEAD").strip()
    # the tree the checks ran on is HEAD's with the change: the files written hold it
    assert (
        git(root, "rev-parse", f"{tree}:lib/util.py").strip()
        == git(root, "hash-object", "lib/util.py").strip()
    )
    assert (seen / "util.py").read_text() == (root / "lib/util.py").read_text() == "X = 2\n"
    assert git(root, "worktree", "list", "--porcelain").count("worktree ") == 1  # removed


def test_forced_over_local_edits_the_checks_see_the_files_as_written(
    make_repo: RepoFactory, tmp_path: Path
) -> None:
    root = make_repo(FILES)
    write_files(root, {"lib/util.py": "X = 1\n# local edit\n"})
    out = tmp_path / "seen.py"
    code, _, err = _apply(root, "--force", "--check", f"cp lib/util.py {out}")
    assert code == ExitCode.OK, err
    assert (root / "lib/util.py").read_text() == "X = 2\n# local edit\n"
    assert out.read_text() == "X = 2\n# local edit\n"


def test_a_failed_check_in_a_dry_run_writes_nothing(make_repo: RepoFactory) -> None:
    root = make_repo(FILES)
    before = status(root)
    code, out, err = _apply(root, "--dry-run", "--check", "grep -q 'X = 1' lib/util.py")
    assert code == ExitCode.CHECKS_FAILED
    assert "check: grep -q 'X = 1' lib/util.py: exit 1" in err
    assert "+X = 2" in out and status(root) == before


def test_checks_when_every_hunk_is_already_there_run_on_head(make_repo: RepoFactory) -> None:
    root = make_repo({**FILES, "app.py": "def f():\n    return 2\n"})
    done = "--- a/app.py\n+++ b/app.py\n@@\n def f():\n-    return 1\n+    return 2\n"
    code, _, err = _apply(root, "--check", "grep -q 'return 2' app.py", stdin=done)
    assert code == ExitCode.OK, err
    assert "check: grep -q 'return 2' app.py: ok" in err
    assert "nothing to change" in err


def test_the_library_call_reports_what_it_did(make_repo: RepoFactory) -> None:
    root = make_repo(FILES)
    done = apply_to_checkout(root, DIFF, checks=("grep -q 'X = 2' lib/util.py", "false"))
    assert done.error is None and done.written
    assert [c.ok for c in done.checks] == [True, False] and not done.checks_ok
    assert done.placed is not None and done.placed.changed == ["lib/util.py"]
    assert (root / "lib/util.py").read_text() == "X = 2\n"  # written even so (documented)

    refused = apply_to_checkout(root, "--- a/app.py\n+++ b/app.py\n@@\n-nope\n+x\n")
    assert isinstance(refused.error, PatchApplyError) and refused.placed is None
    assert not refused.written


def test_uncommitted_files_get_the_refusal_run_apply_uses(make_repo: RepoFactory) -> None:
    root = make_repo(FILES)
    write_files(root, {"lib/util.py": "X = 1\n# local edit\n"})
    done = apply_to_checkout(root, DIFF, checks=("true",))
    assert isinstance(done.error, RepoError) and not done.written
    assert done.checks == []  # refused before anything ran
    assert done.error.message == "uncommitted changes in lib/util.py; nothing was written"
    assert done.error.settings == ("force",) and "--" not in (done.error.hint or "")
    # a dry run only reports them
    dry = apply_to_checkout(root, DIFF, dry_run=True)
    assert dry.error is None and dry.placed is not None
    assert dry.placed.uncommitted == ["lib/util.py"] and not dry.written


def test_the_refusal_before_a_run_names_the_checkout() -> None:
    refuse_uncommitted([])  # nothing uncommitted: no refusal
    with pytest.raises(RepoError) as info:
        refuse_uncommitted([f"f{i}.py" for i in range(12)], before_the_run=True)
    message = info.value.message
    assert message.startswith("uncommitted changes in f0.py, f1.py,")
    assert "f9.py and 2 more: applying a change into this checkout" in message
    assert message.endswith("nothing was run") and info.value.settings == ("force",)


def test_with_delivery_the_checks_run_on_the_tree_that_is_committed(
    make_repo: RepoFactory, tmp_path: Path
) -> None:
    root = make_repo(FILES)
    seen = tmp_path / "tree"
    code, out, err = _apply(
        root, "--branch", "ok", "--json", "--check", f"git log -1 --format=%T > {seen}"
    )
    assert code == ExitCode.OK, err
    data = json.loads(out)
    assert data["status"] == "unverified" and [c["ok"] for c in data["checks"]] == [True]
    assert seen.read_text().strip() == git(root, "rev-parse", "ok^{tree}").strip()
    assert git(root, "show", "ok:lib/util.py") == "X = 2\n"
    assert (root / "lib/util.py").read_text() == "X = 1\n"  # the checkout is left alone

    # a failed check: delivered all the same (work is never lost), marked, exit 10
    code, out, err = _apply(root, "--branch", "bad", "--json", "--check", "false")
    assert code == ExitCode.CHECKS_FAILED, err
    assert json.loads(out)["status"] == "checks_failed"
    assert "check: false: exit 1" in err and "marked checks_failed" in err
    assert git(root, "log", "-1", "--format=%s", "bad").startswith("[checks_failed] ")


def test_dry_run_and_force_still_do_not_go_with_delivery(make_repo: RepoFactory) -> None:
    root = make_repo(FILES)
    for flag in ("--dry-run", "--force"):
        code, _, err = _apply(root, "--branch", flag)
        assert code == ExitCode.USAGE and "do not go with delivery" in err
