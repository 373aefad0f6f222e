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


def test_a_shifted_hint_that_disagrees_with_the_context_widths_is_refused() -> None:
    """Numbers shifted by the same amount are as consistent as right ones. A hunk with no
    line after its change must end at the end of the file; a hint pointing elsewhere is
    refuted and the hunk, fitting in two places, is refused — never moved."""
    text = "a\nx\ny\nb\nx\ny\n"
    with pytest.raises(PatchApplyError) as info:
        apply_patch({"t.txt": text}, "--- t.txt\n+++ t.txt\n@@ -2,2 +2,2 @@\n x\n-y\n+z\n")
    assert "fits in 2 places" in info.value.feedback
    run = "x = 1\nx = 1\nx = 1\nx = 1\n"  # found by hypothesis in CI (stacked corruption)
    shifted = "--- f.txt\n+++ f.txt\n@@ -1,3 +1,4 @@\n x = 1\n x = 1\n x = 1\n+\n"
    with pytest.raises(PatchApplyError):
        apply_patch({"f.txt": run}, shifted)
    right = shifted.replace("@@ -1,3 +1,4 @@", "@@ -2,3 +2,4 @@")
    assert apply_patch({"f.txt": run}, right).after["f.txt"] == run + "\n"


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
    # Hunk 2 is refused, so it is not also listed among the hunks that fit (hunk 1 is).
    assert [f.hunk for f in info.value.failures] == [2]
    assert info.value.feedback.endswith("(keep them as they are): m.py hunk 1.")


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


# --- review of issue 3 -------------------------------------------------------------------

README_RST = "Project\n=======\n\nOld intro.\n\nUsage\n-----\n"


def test_search_replace_with_a_heading_underline_in_search_is_refused_when_ambiguous() -> None:
    block = (
        "README.rst\n<<<<<<< SEARCH\nProject\n=======\n\nOld intro.\n=======\n"
        "Project\n=======\n\nNew intro.\n>>>>>>> REPLACE\n"
    )
    with pytest.raises(PatchApplyError) as info:
        apply_patch({"README.rst": README_RST}, block)
    assert "'=======' lines" in info.value.feedback


def test_search_replace_uses_the_one_split_that_fits() -> None:
    # The divider is the first '=======' line; the REPLACE text adds a heading.
    block = (
        "README.rst\n<<<<<<< SEARCH\nOld intro.\n=======\nNew title\n=======\n\n"
        "New intro.\n>>>>>>> REPLACE\n"
    )
    after = apply_patch({"README.rst": README_RST}, block).after["README.rst"]
    assert after == "Project\n=======\n\nNew title\n=======\n\nNew intro.\n\nUsage\n-----\n"
    # The other split ("Usage/-----/=======/Usage" searched for) is nowhere near the file.
    block2 = "README.rst\n<<<<<<< SEARCH\nUsage\n-----\n=======\nUsage\n=======\n>>>>>>> REPLACE\n"
    after2 = apply_patch({"README.rst": README_RST}, block2).after["README.rst"]
    assert after2 == README_RST.replace("Usage\n-----", "Usage\n=======")


TWO_FUNCS = (
    "class A:\n    def f(self):\n        a = 1\n        b = 2\n        return a\n\n\n"
    "def g():\n    a = 1\n    b = 3\n    return a\n"
)


def test_misquoted_hunk_is_not_reported_already_present() -> None:
    diff = "--- a/m.py\n+++ b/m.py\n@@ ... @@\n     a = 1\n-    b = 4\n+    b = 2\n     return a\n"
    with pytest.raises(PatchApplyError) as info:
        apply_patch({"m.py": TWO_FUNCS}, diff)
    assert "Did you mean" in info.value.feedback


def test_already_present_needs_the_exact_after_text_and_no_near_fit() -> None:
    diff = "--- a/m.py\n+++ b/m.py\n@@ ... @@\n     a = 1\n-    b = 0\n+    b = 3\n     return a\n"
    only_g = TWO_FUNCS[TWO_FUNCS.index("def g") :]
    result = apply_patch({"m.py": only_g}, diff)
    assert result.after == {} and result.report[0].outcome == "already-present"
    # With f's "a = 1 / b = 2 / return a" nearly fitting the before-text, it may be a misquote.
    with pytest.raises(PatchApplyError):
        apply_patch({"m.py": TWO_FUNCS}, diff)


@pytest.mark.parametrize(
    ("text", "diff"),
    [
        ("import os\n\nprint(1)\n", "--- a/m.py\n+++ b/m.py\n@@ @@\n import os\n+import sys\n"),
        (
            "def f():\n    pass\n",
            "--- a/m.py\n+++ b/m.py\n@@ @@\n def f():\n     pass\n+\n+\n+def g():\n+    pass\n",
        ),
        ("x = 1\n", "--- a/m.py\n+++ b/m.py\n@@ @@\n+import os\n+\n x = 1\n"),
    ],
)
def test_resent_one_sided_hunk_is_not_applied_twice(text: str, diff: str) -> None:
    once = apply_patch({"m.py": text}, diff).after["m.py"]
    again = apply_patch({"m.py": once}, diff)
    assert again.after == {}
    assert [r.outcome for r in again.report] == ["already-present"]


def test_byte_order_mark_is_matched_without_and_kept() -> None:
    text = "\ufeffusing System;\r\nclass A {\r\n}\r\n"
    diff = "--- a/A.cs\n+++ b/A.cs\n@@ -1,3 +1,4 @@\n using System;\n+using System.IO;\n class A {\n }\n"
    after = apply_patch({"A.cs": text}, diff).after["A.cs"]
    assert after == "\ufeffusing System;\r\nusing System.IO;\r\nclass A {\r\n}\r\n"
    # git's own diff quotes the mark in the first line: that works too, and can remove it.
    changed = text.replace("class A", "class B")
    assert apply_patch({"A.cs": text}, canonical_diff({"A.cs": text}, {"A.cs": changed})).after == {
        "A.cs": changed
    }
    no_bom = text[1:]
    assert apply_patch({"A.cs": text}, canonical_diff({"A.cs": text}, {"A.cs": no_bom})).after == {
        "A.cs": no_bom
    }


def test_byte_order_mark_is_named_in_the_feedback() -> None:
    diff = "--- a/A.cs\n+++ b/A.cs\n@@ @@\n using Systen;\n+using System.IO;\n"
    with pytest.raises(PatchApplyError) as info:
        apply_patch({"A.cs": "\ufeffusing System;\nclass A {}\n"}, diff)
    assert "byte-order mark" in info.value.feedback


def test_feedback_names_the_first_differing_line_and_whitespace() -> None:
    text = "if x:\n\ty = 1\n\tz = 2\n"
    with pytest.raises(PatchApplyError) as info:
        apply_patch({"t.py": text}, "--- t.py\n+++ t.py\n@@\n if x:\n-    y = 1\n+    y = 3\n")
    fb = info.value.feedback
    assert "First difference: line 2 of the before-text" in fb
    assert "the file indents with tabs, the hunk with spaces" in fb


def test_feedback_ignores_trivial_lines_when_guessing() -> None:
    body = "".join(f"def f{i}():\n    g(\n        {i},\n    )\n\n" for i in range(30))
    text = body + 'def last():\n    g(\n    )\n    out = "\\n".join(parts)\n    return out\n'
    diff = '--- m.py\n+++ m.py\n@@\n     )\n     out = "\\n".join(partz)\n-    return out\n'
    with pytest.raises(PatchApplyError) as info:
        apply_patch({"m.py": text}, diff)
    fb = info.value.feedback
    assert 'out = "\\n".join(parts)' in fb.split("Did you mean")[1]
    assert "line 2 of the before-text" in fb and "partz" in fb


def test_new_file_is_not_resolved_by_suffix() -> None:
    result = apply_patch(
        {"src/utils.py": "x\n"}, "--- /dev/null\n+++ b/utils.py\n@@ -0,0 +1 @@\n+y\n"
    )
    assert result.after == {"utils.py": "y\n"}


def test_search_replace_paths_and_sequential_blocks() -> None:
    files = {"Makefile": "all:\n\techo hi\n", "x.py": "\techo hi\n", "a.py": "x = 1\ny = 2\n"}
    text = (
        "x.py\n<<<<<<< SEARCH\n\techo hi\n=======\n\techo yo\n>>>>>>> REPLACE\n\n"
        "Now the Makefile:\n\nMakefile\n<<<<<<< SEARCH\nall:\n\techo hi\n=======\nall:\n"
        "\techo bye\n>>>>>>> REPLACE\n"
        "a.py\n<<<<<<< SEARCH\nx = 1\n=======\nx = 10\n>>>>>>> REPLACE\n"
        "<<<<<<< SEARCH\nx = 10\ny = 2\n=======\nx = 10\ny = 20\n>>>>>>> REPLACE\n"
    )
    assert apply_patch(files, text).after == {
        "x.py": "\techo yo\n",
        "Makefile": "all:\n\techo bye\n",
        "a.py": "x = 10\ny = 20\n",
    }
    # The path of an earlier block is not reused after prose.
    with pytest.raises(PatchParseError, match="without a file path"):
        apply_patch(
            files,
            "x.py\n<<<<<<< SEARCH\n\techo hi\n=======\n\techo yo\n>>>>>>> REPLACE\n"
            "And this one:\n<<<<<<< SEARCH\nall:\n=======\nbuild:\n>>>>>>> REPLACE\n",
        )


def test_markdown_bullets_after_an_unfenced_diff_are_prose() -> None:
    diff = (
        "--- a/a.py\n+++ b/a.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n\n- changed x to 2\n- nothing else\n"
    )
    assert apply_patch({"a.py": "x = 1\n"}, diff).after == {"a.py": "x = 2\n"}
    # Without numbers nothing says where the hunk ends: refused, never a guess.
    with pytest.raises(PatchApplyError):
        apply_patch({"a.py": "x = 1\n"}, diff.replace("@@ -1 +1 @@", "@@ @@"))


def test_resent_hunk_placed_loosely_on_blank_lines_is_not_applied_twice() -> None:
    # The re-sent hunk's context ("}" and two blank lines) fits the new file only with one
    # blank line fewer; the added block must still be seen as there.
    a = '_L = {\n    "a",\n    "b",\n}\n\n\ndef f():\n    pass\n'
    b = a.replace("}\n\n\n", '}\n\n_D = {\n    "u",\n}\n\n\n')
    diff = (  # as difflib wrote it for a real release: the added block starts with "}"
        '--- a/m.py\n+++ b/m.py\n@@ -3,4 +3,8 @@\n     "b",\n+}\n+\n+_D = {\n+    "u",\n }\n \n \n'
    )
    assert apply_patch({"m.py": a}, diff).after == {"m.py": b}
    again = apply_patch({"m.py": b}, diff)
    assert again.after == {} and again.report[0].outcome == "already-present"


def test_adding_a_line_inside_a_run_of_equal_lines_is_applied_not_called_present() -> None:
    """Found by hypothesis in CI: the after-text of "add a blank line to blank lines" is
    always "already there"; the diff's before-text is what decides, so it is applied."""
    a, b = "\n\n\n\n", "\n\n\n\n\n"
    loose = "--- f.txt\n+++ f.txt\n@@ -2,3 +2,4 @@\n \n \n \n+\n"
    assert apply_patch({"f.txt": a}, loose).after["f.txt"] == b
    run = "x\nx\nx\n"
    diff = "--- f.txt\n+++ f.txt\n@@ -2,2 +2,3 @@\n x\n x\n+x\n"
    assert apply_patch({"f.txt": run}, diff).after["f.txt"] == "x\nx\nx\nx\n"


@pytest.mark.parametrize(
    "loose",
    [
        # stacked corruption, seed 11: no prefixes, wrong counts, blank context without its
        # space, CRLF
        "--- f.txt\r\n+++ f.txt\r\n@@ -1,6 +1,5 @@\r\n+x = 1\r\n\r\n-x = 1\r\n\r\n",
        # seed 13: blank context without its space, trailing whitespace
        "--- a/f.txt\n+++ b/f.txt\n@@ -1,3 +1,3 @@\n+x = 1\n\n-x = 1  \n\n",
    ],
)
def test_a_trailing_bare_blank_line_that_fits_is_counted_when_checking_for_a_re_send(
    loose: str,
) -> None:
    """Found by hypothesis: the hunk was placed with its optional trailing blank line (a
    3-line window), but the re-send check counted its lines without it, took the window for
    a loose placement, found the after-text "x = 1, blank" overlapping it (the file's own
    lines 2-3) and reported the hunk already present: the file came back unchanged, a wrong
    result with exit 0."""
    a, b = "\nx = 1\n\n", "x = 1\n\n\n"
    result = apply_patch({"f.txt": a}, loose)
    assert result.after == {"f.txt": b}
    assert [r.outcome for r in result.report] == ["applied"]
    # Sent again to the changed file: left as it is, or refused; never changed again.
    try:
        again = apply_patch({"f.txt": b}, loose)
    except PatchApplyError:
        return
    assert again.after.get("f.txt", b) == b


def test_a_pair_after_a_rename_header_starts_the_next_file() -> None:
    """Found in the UX review: a pure rename followed by another file's ---/+++ (no
    `diff --git` line) became that file's deletion and the rename was dropped."""
    diff = (
        "diff --git a/README.md b/docs/readme.md\nsimilarity index 100%\n"
        "rename from README.md\nrename to docs/readme.md\n"
        "--- a/Makefile\n+++ /dev/null\n@@ -1 +0,0 @@\n-all:\n"
    )
    result = apply_patch({"README.md": "hi\n", "Makefile": "all:\n"}, diff)
    assert result.after == {"README.md": None, "docs/readme.md": "hi\n", "Makefile": None}


def test_a_pair_that_contradicts_its_git_header_is_refused() -> None:
    diff = "diff --git a/x.py b/x.py\n--- a/y.py\n+++ b/y.py\n@@ @@\n-a\n+b\n"
    with pytest.raises(PatchParseError, match=r"name a/y\.py and b/y\.py"):
        apply_patch({"x.py": "a\n", "y.py": "a\n"}, diff)


def test_a_pair_may_say_dev_null_where_the_header_omits_new_file_mode() -> None:
    diff = "diff --git a/new.py b/new.py\n--- /dev/null\n+++ b/new.py\n@@ -0,0 +1 @@\n+x = 1\n"
    assert apply_patch({}, diff).after == {"new.py": "x = 1\n"}
    same = "diff --git a/x.py b/x.py\n--- x.py\n+++ x.py\n@@ @@\n-a\n+b\n"
    assert apply_patch({"x.py": "a\n"}, same).after == {"x.py": "b\n"}


def test_failures_are_typed_and_the_feedback_is_rendered_from_them() -> None:
    from tinygen.patch.feedback import render_failure

    text = "if x:\n\ty = 1\n\tz = 2\n"
    diff = "--- t.py\n+++ t.py\n@@ -1,2 +1,2 @@\n if x:\n-    y = 1\n+    y = 3\n"
    with pytest.raises(PatchApplyError) as info:
        apply_patch({"t.py": text}, diff)
    (f,) = info.value.failures
    assert (f.path, f.hunk, f.header) == ("t.py", 1, "@@ -1,2 +1,2 @@")
    assert f.reason == "its before-text (context and removed lines) is not in the file."
    assert f.before == ("if x:", "    y = 1")
    assert f.closest is not None and f.closest.found == "window"
    assert (f.closest.start, f.closest.lines) == (1, ("if x:", "\ty = 1", "\tz = 2"))
    d = f.closest.difference
    assert d is not None
    assert (d.hunk_line, d.hunk_text, d.file_line, d.file_text) == (2, "    y = 1", 2, "\ty = 1")
    assert not f.bom
    assert info.value.feedback == render_failure(f)


def test_file_level_failures_are_typed_too() -> None:
    diff = (
        "--- a/a.txt\n+++ b/a.txt\n@@\n-x\n+y\n"
        "--- a/nope.txt\n+++ b/nope.txt\n@@ -1 +1 @@\n-x\n+y\n"
        "--- /dev/null\n+++ b/n.txt\n@@\n+hello\n"
    )
    with pytest.raises(PatchApplyError) as info:
        apply_patch({"a.txt": "x\n", "n.txt": "other\n"}, diff)
    got = [(f.path, f.hunk, f.header, f.before) for f in info.value.failures]
    assert got == [("nope.txt", 1, "@@ -1 +1 @@", ("x",)), ("n.txt", 1, "@@", ())]
    assert "nope.txt does not exist" in info.value.failures[0].reason
    assert "already exists" in info.value.failures[1].reason
    assert info.value.feedback.endswith("keep them as they are): a.txt hunk 1.")
