"""Canonical diffs are accepted by `git apply --check` and by unidiff, and are exact; large\nones are anchored at unique lines, and small ones are difflib's as before."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from unidiff import PatchSet

from bench.bench_patch_scale import make
from tests.conftest import RepoFactory
from tests.test_patch_properties import texts
from tinygen.patch import apply_patch, canonical_diff
from tinygen.patch.canonical import file_diff

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


# --- large inputs: anchored at unique lines instead of difflib on the whole middle --------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts())
def test_below_the_anchoring_size_the_diff_is_difflibs(ab: tuple[str, str]) -> None:
    a, b = ab
    assert file_diff("f.txt", a, b) == file_diff("f.txt", a, b, anchored_above=None)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts())
def test_an_anchored_diff_applies_to_give_the_after_text(ab: tuple[str, str]) -> None:
    # anchored_above=0: every middle is anchored, and no gap is left to difflib.
    a, b = ab
    diff = file_diff("f.txt", a, b, anchored_above=0)
    if a == b:
        assert "@@" not in diff
        return
    assert apply_patch({"f.txt": a}, diff).after == {"f.txt": b}
    (pf,) = PatchSet(diff)
    for hunk in pf:  # the header counts are the body's
        assert hunk.source_length == sum(1 for ln in hunk if ln.is_context or ln.is_removed)
        assert hunk.target_length == sum(1 for ln in hunk if ln.is_context or ln.is_added)


def _random_edit(seed: int) -> tuple[str, str]:
    """A file of 1,100-2,500 lines, repeated lines common, and 2-30 random edits."""
    rng = random.Random(seed)
    vocab = ["", "", "x = 1", "    return x", "def f():", "    pass", "}", "  y = 2", "   "]
    share = rng.choice([0.3, 0.6, 0.9])

    def lines(n: int) -> list[str]:
        return [rng.choice(vocab) if rng.random() < share else f"u{rng.randrange(10**6)}"
                for _ in range(n)]  # fmt: skip

    a = lines(rng.randrange(1100, 2500))
    b = list(a)
    for _ in range(rng.randrange(2, 30)):
        op, pos = rng.choice(["ins", "del", "rep"]), rng.randrange(len(b) + 1)
        if op == "ins":
            b[pos:pos] = lines(rng.randrange(1, 5))
        elif op == "del":
            del b[min(pos, len(b) - 1)]
        else:
            b[min(pos, len(b) - 1)] = lines(1)[0]
    return "".join(ln + "\n" for ln in a), "".join(ln + "\n" for ln in b)


@pytest.mark.parametrize("seed", range(8))
def test_anchored_diff_changes_as_many_lines_as_difflibs(seed: int) -> None:
    """Past the anchoring size the hunks may differ from difflib's where an added or removed
    line equals its neighbour (which of two blank lines is new), never in their size."""
    a, b = _random_edit(seed)
    new = PatchSet(file_diff("f.txt", a, b, anchored_above=0))
    old = PatchSet(file_diff("f.txt", a, b, anchored_above=None))
    assert (new[0].added, new[0].removed) == (old[0].added, old[0].removed)
    assert apply_patch({"f.txt": a}, str(new)).after == {"f.txt": b}


@pytest.mark.parametrize("shape", ["distinct", "repeated"])
def test_many_changes_give_a_minimal_diff_git_applies(shape: str, tmp_path: Path) -> None:
    """300 changed lines, each in its own 8-line block (bench_patch_scale's file): one line
    removed and one added per change, with repeated blocks (no unique line to anchor on)
    as with distinct ones."""
    a, b, _ = make(300, shape)
    diff = canonical_diff({"m.py": a}, {"m.py": b})
    (pf,) = PatchSet(diff)
    assert (pf.removed, pf.added, len(pf)) == (300, 300, 300)
    (tmp_path / "m.py").write_text(a)
    subprocess.run(["git", "apply", "-"], cwd=tmp_path, input=diff.encode(), check=True)
    assert (tmp_path / "m.py").read_text() == b
