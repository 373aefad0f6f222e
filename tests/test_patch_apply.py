"""Placing hunks by content: strategies, refusals and their feedback."""

from __future__ import annotations

import pytest

from tinygen.errors import PatchApplyError, PatchParseError
from tinygen.patch import apply_patch, canonical_diff

CODE = (
    "import os\n\n\nclass A:\n    def f(self):\n        return 1\n\n"
    "    def g(self):\n        return 2\n"
)


def test_exact_and_report() -> None:
    diff = "--- a/m.py\n+++ b/m.py\n@@ -5,2 +5,2 @@\n     def f(self):\n-        return 1\n+        return 10\n"
    result = apply_patch({"m.py": CODE}, diff)
    assert result.after["m.py"] == CODE.replace("return 1\n", "return 10\n")
    assert result.before == {"m.py": CODE}
    (rep,) = result.report
    assert (rep.outcome, rep.strategy, rep.line) == ("applied", "exact", 5)


def test_reindent_re_indents_added_lines() -> None:
    diff = "--- m.py\n+++ m.py\n@@\n def g(self):\n-    return 2\n+    x = 2\n+    return x\n"
    result = apply_patch({"m.py": CODE}, diff)
    assert result.after["m.py"].endswith("    def g(self):\n        x = 2\n        return x\n")
    assert result.report[0].strategy == "reindent"


def test_trailing_whitespace_in_the_diff() -> None:
    diff = "--- m.py\n+++ m.py\n@@\n import os   \n-\n+import sys\n"
    result = apply_patch({"m.py": CODE}, diff)
    assert result.after["m.py"].startswith("import os\nimport sys\n\nclass A:")
    assert result.report[0].strategy == "trailing-whitespace"


def test_missing_blank_context_lines_are_tolerated_where_nothing_changes() -> None:
    diff = "--- m.py\n+++ m.py\n@@\n import os\n class A:\n     def f(self):\n-        return 1\n+        return 3\n"
    result = apply_patch({"m.py": CODE}, diff)
    assert result.after["m.py"] == CODE.replace("return 1", "return 3")
    assert result.report[0].strategy == "blank-lines"


def test_ambiguous_location_is_refused_with_line_numbers() -> None:
    text = "a\nx\ny\nb\nx\ny\n"
    with pytest.raises(PatchApplyError) as info:
        apply_patch({"t.txt": text}, "--- t.txt\n+++ t.txt\n@@\n x\n-y\n+z\n")
    assert "fits in 2 places (lines 2, 5)" in info.value.feedback


def test_consistent_line_numbers_pick_among_equal_candidates() -> None:
    text = "a\nx\ny\nb\nx\ny\n"
    result = apply_patch({"t.txt": text}, "--- t.txt\n+++ t.txt\n@@ -5,2 +5,2 @@\n x\n-y\n+z\n")
    assert result.after["t.txt"] == "a\nx\ny\nb\nx\nz\n"
    assert result.report[0].via_hint


def test_inconsistent_line_numbers_are_ignored() -> None:
    text = "a\nx\ny\nb\nx\ny\n"
    # Count says 3 old lines but the body has 2: the numbers are not trusted.
    with pytest.raises(PatchApplyError):
        apply_patch({"t.txt": text}, "--- t.txt\n+++ t.txt\n@@ -5,3 +5,2 @@\n x\n-y\n+z\n")


def test_not_found_feedback_quotes_closest_lines_and_fitting_hunks() -> None:
    diff = (
        "--- m.py\n+++ m.py\n@@\n import os\n+import re\n"
        "@@\n     def f(self):\n-        return 100\n+        return 5\n"
    )
    with pytest.raises(PatchApplyError) as info:
        apply_patch({"m.py": CODE}, diff)
    fb = info.value.feedback
    assert "hunk 2" in fb
    assert "|         return 100" in fb  # the line that did not match
    assert "    6|         return 1" in fb  # closest real line with its number
    assert "m.py hunk 1" in fb and "keep them" in fb  # which hunks fit


def test_overlapping_hunks_are_refused() -> None:
    diff = "--- m.py\n+++ m.py\n@@\n class A:\n-    def f(self):\n+    def h(self):\n@@\n-    def f(self):\n+    def k(self):\n"
    with pytest.raises(PatchApplyError) as info:
        apply_patch({"m.py": CODE}, diff)
    assert "overlaps hunk 1" in info.value.feedback


def test_resent_hunk_is_reported_not_duplicated() -> None:
    diff = "--- m.py\n+++ m.py\n@@\n import os\n+import re\n \n"
    once = apply_patch({"m.py": CODE}, diff).after["m.py"]
    again = apply_patch({"m.py": once}, diff)
    assert again.after == {}
    assert again.report[0].outcome == "already-present"


def test_resent_check_does_not_mask_a_real_mismatch() -> None:
    # The added line exists elsewhere, but the hunk's after-text as a whole does not.
    diff = "--- m.py\n+++ m.py\n@@\n import nothing\n+    return 1\n"
    with pytest.raises(PatchApplyError):
        apply_patch({"m.py": CODE}, diff)


def test_pure_addition_needs_context_in_a_non_empty_file() -> None:
    with pytest.raises(PatchApplyError) as info:
        apply_patch({"m.py": CODE}, "--- m.py\n+++ m.py\n@@ -3,0 +4 @@\n+x = 1\n")
    assert "no context" in info.value.feedback
    assert apply_patch({"e.py": ""}, "--- e.py\n+++ e.py\n@@\n+x = 1\n").after == {
        "e.py": "x = 1\n"
    }


def test_crlf_file_keeps_crlf_and_missing_final_newline() -> None:
    text = "one\r\ntwo\r\nthree"
    result = apply_patch({"w.txt": text}, "--- w.txt\n+++ w.txt\n@@\n two\n-three\n+3\n+4\n")
    assert result.after["w.txt"] == "one\r\ntwo\r\n3\r\n4"


def test_canonical_diff_adding_a_final_newline() -> None:
    diff = canonical_diff({"f": "a\nb"}, {"f": "a\nb\n"})
    assert "\\ No newline at end of file" in diff
    assert apply_patch({"f": "a\nb"}, diff).after == {"f": "a\nb\n"}


def test_paths_resolve_with_or_without_prefixes_and_by_unique_suffix() -> None:
    files = {"src/pkg/util.py": "x = 1\n", "a/b.py": "y = 2\n"}
    diff = (
        "--- util.py\n+++ util.py\n@@\n-x = 1\n+x = 2\n--- a/b.py\n+++ a/b.py\n@@\n-y = 2\n+y = 3\n"
    )
    result = apply_patch(files, diff)
    assert result.after == {"src/pkg/util.py": "x = 2\n", "a/b.py": "y = 3\n"}


def test_new_deleted_and_renamed_files() -> None:
    files = {"old.txt": "bye\n", "p.txt": "keep\nme\n"}
    diff = (
        "--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1,2 @@\n+hello\n+world\n"
        "--- a/old.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-bye\n"
        "diff --git a/p.txt b/q.txt\nrename from p.txt\nrename to q.txt\n--- a/p.txt\n+++ b/q.txt\n"
        "@@ -1,2 +1,2 @@\n keep\n-me\n+you\n"
    )
    result = apply_patch(files, diff)
    assert result.after == {
        "new.txt": "hello\nworld\n",
        "old.txt": None,
        "p.txt": None,
        "q.txt": "keep\nyou\n",
    }
    assert result.before == {
        "new.txt": None,
        "old.txt": "bye\n",
        "p.txt": "keep\nme\n",
        "q.txt": None,
    }


def test_creating_an_existing_file_with_other_content_is_refused() -> None:
    with pytest.raises(PatchApplyError) as info:
        apply_patch({"n.txt": "other\n"}, "--- /dev/null\n+++ b/n.txt\n@@\n+hello\n")
    assert "already exists" in info.value.feedback


def test_missing_file_is_named() -> None:
    with pytest.raises(PatchApplyError) as info:
        apply_patch({"a.txt": "x\n"}, "--- a/nope.txt\n+++ b/nope.txt\n@@\n-x\n+y\n")
    assert "nope.txt does not exist" in info.value.feedback


def test_search_replace_applies() -> None:
    text = "m.py\n<<<<<<< SEARCH\n        return 2\n=======\n        return 22\n>>>>>>> REPLACE\n"
    result = apply_patch({"m.py": CODE}, text)
    assert result.after["m.py"] == CODE.replace("return 2\n", "return 22\n")


def test_one_bad_hunk_means_no_result_at_all() -> None:
    diff = "--- a.txt\n+++ a.txt\n@@\n-x\n+y\n--- b.txt\n+++ b.txt\n@@\n-nothere\n+z\n"
    with pytest.raises(PatchApplyError) as info:
        apply_patch({"a.txt": "x\n", "b.txt": "q\n"}, diff)
    assert "nothing was changed" in str(info.value)
    assert "a.txt hunk 1" in info.value.feedback


def test_bad_path_in_diff_is_a_parse_error() -> None:
    with pytest.raises(PatchParseError):
        apply_patch({"a.txt": "x\n"}, "--- a/../../x\n+++ b/../../x\n@@\n-x\n+y\n")
