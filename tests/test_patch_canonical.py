"""Canonical diffs are accepted by `git apply --check` and by unidiff, and are exact."""

from __future__ import annotations

import subprocess
from pathlib import Path

from unidiff import PatchSet

from tests.conftest import RepoFactory
from tinygen.patch import canonical_diff

BEFORE: dict[str, str | None] = {
    "lf.txt": "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n",
    "crlf.txt": "one\r\ntwo\r\nthree\r\n",
    "noeol.txt": "x\ny",
    "dir/with space.txt": "s\n",
    "café.txt": "c\n",
    "gone.py": "bye = 1\n",
    "empty_gone.txt": "",
    "new.py": None,
    "empty_new.txt": None,
}
AFTER: dict[str, str | None] = {
    "lf.txt": "a\nB\nc\nd\ne\nf\ng\nh\nI\nj\nk\n",
    "crlf.txt": "one\r\n2\r\nthree\r\n",
    "noeol.txt": "x\nz",
    "dir/with space.txt": "t\n",
    "café.txt": "C\n",
    "gone.py": None,
    "empty_gone.txt": None,
    "new.py": "print('hi')",
    "empty_new.txt": "",
}


def test_git_apply_and_unidiff_accept_the_canonical_diff(make_repo: RepoFactory) -> None:
    root: Path = make_repo({p: t for p, t in BEFORE.items() if t is not None})
    diff = canonical_diff(BEFORE, AFTER)
    proc = subprocess.run(
        ["git", "apply", "--check", "-"], cwd=root, input=diff.encode(), capture_output=True
    )
    assert proc.returncode == 0, proc.stderr.decode()
    subprocess.run(["git", "apply", "-"], cwd=root, input=diff.encode(), check=True)
    for path, text in AFTER.items():
        if text is None:
            assert not (root / path).exists(), path
        else:
            assert (root / path).read_bytes() == text.encode(), path
    patch = PatchSet(diff)
    by_path = {pf.path: pf for pf in patch}
    assert by_path["lf.txt"].added == 3 and by_path["lf.txt"].removed == 2
    assert by_path["new.py"].is_added_file and by_path["gone.py"].is_removed_file
    assert all(len(pf) for name, pf in by_path.items() if not name.startswith("empty"))


def test_git_style_headers_and_counts() -> None:
    diff = canonical_diff({"f": "a\nb"}, {"f": "a\nc\n"})
    assert diff == (
        "diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n a\n-b\n"
        "\\ No newline at end of file\n+c\n"
    )
    assert canonical_diff({"n": None}, {"n": "x\n"}) == (
        "diff --git a/n b/n\nnew file mode 100644\n--- /dev/null\n+++ b/n\n@@ -0,0 +1 @@\n+x\n"
    )


def test_deterministic_and_empty_when_unchanged() -> None:
    assert canonical_diff(BEFORE, AFTER) == canonical_diff(dict(reversed(BEFORE.items())), AFTER)
    assert canonical_diff(BEFORE, BEFORE) == ""
