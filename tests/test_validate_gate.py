"""The validation gate against real repositories."""

from __future__ import annotations

import os
from pathlib import Path

from tests.conftest import RepoFactory
from tests.helpers import commit_all, git, status
from tinygen.patch import canonical_diff
from tinygen.validate import PathPolicy, run_gate

POLICY = PathPolicy()


def _repo(make_repo: RepoFactory) -> tuple[Path, str]:
    root = make_repo({"app.py": "def f():\n    return 1\n", "README.md": "hi\n"})
    return root, git(root, "rev-parse", "HEAD").strip()


def test_good_diff_passes(make_repo: RepoFactory) -> None:
    root, base = _repo(make_repo)
    diff = canonical_diff(
        {"app.py": "def f():\n    return 1\n"}, {"app.py": "def f():\n    return 2\n"}
    )
    before = status(root)
    report = run_gate(root, base, diff, POLICY)
    assert report.ok, report.summary()
    assert report.files == ["app.py"]
    assert report.checks_run == ["parse", "path", "git-apply", "syntax"]
    assert status(root) == before  # the user's checkout is untouched
    assert report.to_dict()["ok"] is True


def test_diff_that_does_not_apply(make_repo: RepoFactory) -> None:
    root, base = _repo(make_repo)
    diff = canonical_diff(
        {"app.py": "def g():\n    return 1\n"}, {"app.py": "def g():\n    return 2\n"}
    )
    report = run_gate(root, base, diff, POLICY)
    assert not report.ok
    assert [p.check for p in report.problems] == ["apply"]
    assert "git apply refused the diff" in report.problems[0].message


def test_new_syntax_error_is_reported(make_repo: RepoFactory) -> None:
    root, base = _repo(make_repo)
    diff = canonical_diff(
        {"app.py": "def f():\n    return 1\n"}, {"app.py": "def f(:\n    return 1\n"}
    )
    report = run_gate(root, base, diff, POLICY)
    assert [p.check for p in report.problems] == ["syntax"]
    assert "app.py:1" in report.problems[0].message


def test_existing_syntax_error_is_not_blamed(make_repo: RepoFactory) -> None:
    root = make_repo({"bad.py": "def f(:\n    pass\nx = 1\n"})
    base = git(root, "rev-parse", "HEAD").strip()
    diff = canonical_diff(
        {"bad.py": "def f(:\n    pass\nx = 1\n"}, {"bad.py": "def f(:\n    pass\nx = 2\n"}
    )
    assert run_gate(root, base, diff, POLICY).ok


def test_path_outside_the_repository(make_repo: RepoFactory) -> None:
    root, base = _repo(make_repo)
    diff = "--- a/../outside.txt\n+++ b/../outside.txt\n@@ -1 +1 @@\n-a\n+b\n"
    report = run_gate(root, base, diff, POLICY)
    assert not report.ok
    assert report.problems[0].check == "path"
    assert "leaves the repository" in report.problems[0].message
    assert not (root.parent / "outside.txt").exists()


def test_symlinked_directory_pointing_outside(make_repo: RepoFactory, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "x.txt").write_text("a\n")
    root = make_repo({"keep.txt": "k\n"})
    os.symlink(outside, root / "linked")
    base = commit_all(root, "add symlink")
    diff = canonical_diff({"linked/x.txt": "a\n"}, {"linked/x.txt": "b\n"})
    report = run_gate(root, base, diff, POLICY)
    assert [p.check for p in report.problems] == ["path"]
    assert "outside the repository" in report.problems[0].message
    assert (outside / "x.txt").read_text() == "a\n"


def test_protected_workflow_and_allowed_override(make_repo: RepoFactory) -> None:
    root = make_repo({".github/workflows/x.yml": "on: push\n"})
    base = git(root, "rev-parse", "HEAD").strip()
    diff = canonical_diff(
        {".github/workflows/x.yml": "on: push\n"}, {".github/workflows/x.yml": "on: pull_request\n"}
    )
    report = run_gate(root, base, diff, POLICY)
    assert [p.check for p in report.problems] == ["path"]
    assert "protected" in report.problems[0].message
    allowed = PathPolicy(allowed=(".github/workflows/x.yml",))
    assert run_gate(root, base, diff, allowed).ok


def test_unparsable_and_zero_hunk_diffs(make_repo: RepoFactory) -> None:
    root, base = _repo(make_repo)
    assert run_gate(root, base, "", POLICY).problems[0].check == "parse"
    report = run_gate(root, base, "--- a/app.py\n+++ b/app.py\n", POLICY)
    assert not report.ok and report.problems[0].check == "parse"


def test_given_worktree_is_used_and_left_unchanged(make_repo: RepoFactory, tmp_path: Path) -> None:
    from tinygen.repo.git import temp_worktree

    root, base = _repo(make_repo)
    good = canonical_diff(
        {"app.py": "def f():\n    return 1\n"}, {"app.py": "def f():\n    return 2\n"}
    )
    broken = canonical_diff(
        {"app.py": "def f():\n    return 1\n"}, {"app.py": "def f(:\n    return 1\n"}
    )
    with temp_worktree(root, base) as wt:
        before = status(wt)
        assert run_gate(root, base, good, POLICY, worktree=wt).ok
        report = run_gate(root, base, broken, POLICY, worktree=wt)
        assert [p.check for p in report.problems] == ["syntax"]
        assert status(wt) == before
        assert (wt / "app.py").read_text() == "def f():\n    return 1\n"


# --- review of issue 3 -------------------------------------------------------------------

ODD_NAMES = {"café/naïve.txt": "a\n", "my dir/a b.txt": "a\n", 'q"uote.txt': "a\n"}


def test_quoted_names_are_checked_and_replayed(make_repo: RepoFactory) -> None:
    root = make_repo(dict(ODD_NAMES))
    base = git(root, "rev-parse", "HEAD").strip()
    diff = canonical_diff(ODD_NAMES, {p: "b\n" for p in ODD_NAMES} | {"nouveau/é.txt": "n\n"})
    assert '"a/caf\\303\\251/na\\303\\257ve.txt"' in diff  # quoted the way git quotes it
    report = run_gate(root, base, diff, POLICY)
    assert report.ok, report.summary()
    assert report.files == sorted([*ODD_NAMES, "nouveau/é.txt"])
    # git itself writes the same names the same way.
    for p in ODD_NAMES:
        (root / p).write_text("b\n")
    git_diff = git(root, "diff", "--no-color", "--no-ext-diff")
    assert '--- "a/caf\\303\\251/na\\303\\257ve.txt"' in git_diff
    assert '--- "a/caf\\303\\251/na\\303\\257ve.txt"' in diff


def test_protected_non_ascii_path_is_refused(make_repo: RepoFactory) -> None:
    root, base = _repo(make_repo)
    diff = canonical_diff(
        {".github/workflows/évil.yml": None}, {".github/workflows/évil.yml": "x\n"}
    )
    report = run_gate(root, base, diff, POLICY)
    assert [p.check for p in report.problems] == ["path"]
    assert "protected" in report.problems[0].message
    assert report.problems[0].path == ".github/workflows/évil.yml"


def test_symbolic_links_and_submodules_are_refused(make_repo: RepoFactory) -> None:
    root, base = _repo(make_repo)
    link = (
        "diff --git a/evil b/evil\nnew file mode 120000\n--- /dev/null\n+++ b/evil\n"
        "@@ -0,0 +1 @@\n+/etc/passwd\n\\ No newline at end of file\n"
    )
    report = run_gate(root, base, link, POLICY)
    assert [p.check for p in report.problems] == ["parse"]
    assert "120000 (a symbolic link)" in report.problems[0].message
    mode = "diff --git a/app.py b/app.py\nold mode 100644\nnew mode 120000\n"
    assert "symbolic link" in run_gate(root, base, mode, POLICY).problems[0].message
    executable = canonical_diff({"run.sh": None}, {"run.sh": "echo\n"}).replace("100644", "100755")
    assert run_gate(root, base, executable, POLICY).ok


def test_fixing_one_syntax_error_while_adding_another_is_caught(make_repo: RepoFactory) -> None:
    before = "def f():\n    return 1\n\ndef g(:\n    pass\n"
    root = make_repo({"app.py": before})
    base = git(root, "rev-parse", "HEAD").strip()
    after = before.replace("def g(:", "def g():").replace("return 1", "return (1")
    report = run_gate(root, base, canonical_diff({"app.py": before}, {"app.py": after}), POLICY)
    assert [p.check for p in report.problems] == ["syntax"] * len(report.problems)
    assert report.problems and "return (1" in report.problems[0].message


def test_json_and_toml_are_checked_and_other_files_listed_as_skipped(
    make_repo: RepoFactory,
) -> None:
    files = {"c.json": '{"a": 1}\n', "p.toml": "a = 1\n", "notes.txt": "x\n"}
    root = make_repo(files)
    base = git(root, "rev-parse", "HEAD").strip()
    broken = {"c.json": '{"a": 1,}\n', "p.toml": "a = \n", "notes.txt": "y\n"}
    report = run_gate(root, base, canonical_diff(files, broken), POLICY)
    assert sorted(p.path or "" for p in report.problems) == ["c.json", "p.toml"]
    assert "not valid JSON" in report.summary() and "not valid TOML" in report.summary()
    assert report.syntax_skipped == ["notes.txt"]
    fine = {"c.json": '{"a": 2}\n', "p.toml": "a = 2\n", "notes.txt": "y\n"}
    report = run_gate(root, base, canonical_diff(files, fine), POLICY)
    assert report.ok and report.to_dict()["syntax_skipped"] == ["notes.txt"]
