"""Issue 12 items 9, 12, 13 and 20 (the feedback half): what the patch engine refuses, and
how its feedback says so.

- a NUL byte added to a text file is refused (item 9);
- the numbered view's ``NNN| `` prefixes copied into a diff are read without them when
  every line carries them consistently, and named in the feedback when they break
  placement (item 12);
- a diff that must change one file only says "change only X; the diff also touches Y"
  (item 13);
- no hunk is listed both as not applying and as fitting (item 20).
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from tinygen.errors import ExitCode, PatchApplyError
from tinygen.passes.common import numbered
from tinygen.patch import apply_patch

TEXT = "".join(f"line {k}\n" for k in range(1, 13))  # 12 lines: the view pads to 2 digits


def refusal(files: dict[str, str], diff: str, **kw: Any) -> PatchApplyError:
    with pytest.raises(PatchApplyError) as info:
        apply_patch(files, diff, **kw)
    return info.value


def fits_twice(feedback: str) -> set[str]:
    """Hunks named both as not applying and as fitting ("a.py hunk 2")."""
    refused = {
        f"{line.split(',')[0]} hunk {line.split(' hunk ')[1].split()[0]}"
        for line in feedback.splitlines()
        if " does not apply: " in line
    }
    fitting = set()
    for line in feedback.splitlines():
        if line.startswith("These hunks fit"):
            for part in line.split(": ", 1)[1].rstrip(".").split("; "):
                path, _, numbers = part.partition(" hunk")
                for n in numbers.lstrip("s ").split(", "):
                    fitting.add(f"{path} hunk {n}")
    return refused & fitting


# --- item 9: NUL bytes ----------------------------------------------------------------------


def test_a_nul_byte_added_to_a_text_file_is_refused() -> None:
    diff = "--- a/a.txt\n+++ b/a.txt\n@@ -1,2 +1,2 @@\n line 1\n-line 2\n+line\x002\n"
    error = refusal({"a.txt": TEXT}, diff)
    (failure,) = error.failures
    assert "NUL byte" in failure.reason and "binary" in failure.reason
    assert "added line 1" in failure.reason


def test_a_new_text_file_with_a_nul_byte_is_refused() -> None:
    diff = "--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1,2 @@\n+ok\n+bad\x00\n"
    error = refusal({}, diff)
    assert "NUL byte" in error.failures[0].reason and "line 2" in error.failures[0].reason


def test_a_file_that_already_holds_nul_bytes_may_get_more() -> None:
    text = "a\x00b\nline 2\nline 3\n"
    diff = "--- a/f.bin\n+++ b/f.bin\n@@ -1,3 +1,3 @@\n a\x00b\n-line 2\n+x\x00y\n line 3\n"
    assert apply_patch({"f.bin": text}, diff).after["f.bin"] == "a\x00b\nx\x00y\nline 3\n"


def test_tinygen_apply_refuses_a_nul_byte_and_writes_nothing(make_repo: Any) -> None:
    repo = make_repo({"a.txt": TEXT})
    patch = repo.parent / "nul.diff"
    patch.write_text("--- a/a.txt\n+++ b/a.txt\n@@ -1,2 +1,2 @@\n line 1\n-line 2\n+li\x00ne 2\n")
    proc = subprocess.run(
        [sys.executable, "-m", "tinygen", "apply", str(patch)],
        cwd=repo,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == ExitCode.PATCH, proc.stderr
    assert "NUL byte" in proc.stderr
    assert (repo / "a.txt").read_text() == TEXT


# --- item 12: the view's line numbers -------------------------------------------------------


def view_lines(first: int, last: int) -> list[str]:
    """Lines ``first``-``last`` of TEXT as the edit prompt shows them ("  5| line 5")."""
    return numbered(TEXT).splitlines()[first - 1 : last]


def test_view_prefixes_on_every_line_are_removed() -> None:
    old = view_lines(4, 6)
    diff = (
        "--- a/a.txt\n+++ b/a.txt\n@@ -4,3 +4,3 @@\n"
        f" {old[0]}\n-{old[1]}\n+ 5| line five\n {old[2]}\n"
    )
    result = apply_patch({"a.txt": TEXT}, diff)
    assert result.after["a.txt"] == TEXT.replace("line 5\n", "line five\n")
    (report,) = result.report
    assert report.numbers_removed and report.to_dict()["numbers_removed"] is True


def test_view_prefixes_on_the_before_lines_only_are_removed() -> None:
    old = view_lines(10, 12)
    diff = (
        f"--- a/a.txt\n+++ b/a.txt\n@@ -10,3 +10,4 @@\n {old[0]}\n {old[1]}\n+inserted\n {old[2]}\n"
    )
    after = apply_patch({"a.txt": TEXT}, diff).after["a.txt"]
    assert after == TEXT.replace("line 11\n", "line 11\ninserted\n")


def test_a_file_whose_lines_look_numbered_is_matched_as_written() -> None:
    text = "1| one\n2| two\n3| three\n"
    diff = "--- a/t.md\n+++ b/t.md\n@@ -1,3 +1,3 @@\n 1| one\n-2| two\n+2| TWO\n 3| three\n"
    result = apply_patch({"t.md": text}, diff)
    assert result.after["t.md"] == "1| one\n2| TWO\n3| three\n"
    assert not result.report[0].numbers_removed


def test_inconsistent_view_prefixes_are_named_in_the_feedback() -> None:
    # numbers that skip (4, 6): not the view's, so not removed; the feedback says why
    diff = "--- a/a.txt\n+++ b/a.txt\n@@ -4,2 +4,2 @@\n  4| line 4\n-  6| line 5\n+  5| five\n"
    error = refusal({"a.txt": TEXT}, diff)
    assert error.failures[0].numbered
    assert "start with line numbers like `12| `" in error.feedback
    assert "not part of the file" in error.feedback


def test_removed_prefixes_that_still_do_not_fit_say_so() -> None:
    diff = "--- a/a.txt\n+++ b/a.txt\n@@ -4,2 +4,2 @@\n  4| line 4\n-  5| line FIVE\n+  5| x\n"
    error = refusal({"a.txt": TEXT}, diff)
    assert error.failures[0].before == ("line 4", "line FIVE")  # compared without them
    assert "line numbers like `12| `" in error.feedback
    assert "First difference: line 2 of the before-text" in error.feedback


def test_the_edit_pass_places_a_diff_copied_with_view_numbers() -> None:
    """The edit pass's own view, copied into the answer, is placed (it was never, 0 of 9)."""
    from tinygen.models import EditAnswer
    from tinygen.passes.edit import _place

    old = view_lines(1, 3)
    diff = f"--- a/a.txt\n+++ b/a.txt\n@@ -1,3 +1,3 @@\n {old[0]}\n-{old[1]}\n+ 2| two\n {old[2]}\n"
    after, problem = _place("a.txt", TEXT, EditAnswer(diff=diff))
    assert problem is None and after == TEXT.replace("line 2\n", "two\n")


# --- item 13: one file only -------------------------------------------------------------------


def test_a_diff_that_also_touches_another_file_says_so() -> None:
    diff = (
        "--- a/a.txt\n+++ b/a.txt\n@@ -1,2 +1,2 @@\n line 1\n-line 2\n+two\n"
        "--- a/other.txt\n+++ b/other.txt\n@@ -1 +1 @@\n-x\n+y\n"
    )
    error = refusal({"a.txt": TEXT}, diff, known_paths=["a.txt"], only="a.txt")
    assert "change only a.txt; the diff also touches other.txt" in error.feedback
    assert "does not exist" not in error.feedback and "/dev/null" not in error.feedback
    assert fits_twice(error.feedback) == set()


# --- item 20: never "does not apply" and "fits" for the same hunk ------------------------------

FILES = {"a.py": "one\ntwo\nthree\nfour\nfive\nsix\nseven\n", "b.py": "x\n"}


@pytest.mark.parametrize(
    "diff",
    [
        pytest.param(
            "diff --git a/a.py b/a.py\ndeleted file mode 100644\n--- a/a.py\n+++ /dev/null\n"
            "@@ -1,3 +0,0 @@\n-one\n-two\n-three\n",
            id="a-deletion-that-leaves-lines",
        ),
        pytest.param(
            "diff --git a/a.py b/b.py\nrename from a.py\nrename to b.py\n--- a/a.py\n+++ b/b.py\n"
            "@@ -1,3 +1,3 @@\n one\n-two\n+TWO\n three\n",
            id="a-rename-onto-an-existing-file",
        ),
        pytest.param(
            "--- a/a.py\n+++ b/a.py\n@@ -1,3 +1,3 @@\n one\n-two\n+TWO\n three\n"
            "--- a/a.py\n+++ b/a.py\n@@ -5,3 +5,3 @@\n five\n-sixx\n+SIX\n seven\n",
            id="the-same-file-in-two-sections",
        ),
        pytest.param(
            "--- a/a.py\n+++ b/a.py\n@@ -1,3 +1,3 @@\n one\n-two\n+TWO\n three\n"
            "@@ -2,3 +2,3 @@\n two\n-three\n+THREE\n four\n",
            id="overlapping-hunks",
        ),
    ],
)
def test_no_hunk_both_refused_and_fitting(diff: str) -> None:
    error = refusal(FILES, diff)
    assert fits_twice(error.feedback) == set(), error.feedback


def test_hunks_of_a_file_count_on_across_its_sections() -> None:
    diff = (
        "--- a/a.py\n+++ b/a.py\n@@ -1,3 +1,3 @@\n one\n-two\n+TWO\n three\n"
        "--- a/a.py\n+++ b/a.py\n@@ -5,3 +5,3 @@\n five\n-sixx\n+SIX\n seven\n"
    )
    error = refusal(FILES, diff)
    assert [(f.path, f.hunk) for f in error.failures] == [("a.py", 2)]
    assert "These hunks fit and need no change (keep them as they are): a.py hunk 1." in (
        error.feedback
    )
