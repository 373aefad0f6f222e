"""Parsing loose diffs: the accepted forms, and clear refusals."""

from __future__ import annotations

import pytest

from tinygen.errors import PatchParseError
from tinygen.patch import parse_patch


def test_fenced_diff_with_prose_and_two_files() -> None:
    text = (
        "Here you go:\n\n```diff\n--- a/x.py\n+++ b/x.py\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n```\n"
        "and also\n```\n--- y.py\n+++ y.py\n@@ ... @@\n-q\n+r\n```\nThanks!\n"
    )
    patches = parse_patch(text)
    assert [(p.old_path, p.new_path) for p in patches] == [("a/x.py", "b/x.py"), ("y.py", "y.py")]
    assert [ln.op + ln.text for ln in patches[0].hunks[0].lines] == [" a", "-b", "+c"]
    assert patches[1].hunks[0].old_start is None


def test_git_headers_new_deleted_and_renamed_files() -> None:
    text = (
        "diff --git a/new.txt b/new.txt\nnew file mode 100644\n--- /dev/null\n+++ b/new.txt\n"
        "@@ -0,0 +1 @@\n+hello\n"
        "diff --git a/old.txt b/old.txt\ndeleted file mode 100644\n--- a/old.txt\n+++ /dev/null\n"
        "@@ -1 +0,0 @@\n-bye\n"
        "diff --git a/p.txt b/q.txt\nsimilarity index 100%\nrename from p.txt\nrename to q.txt\n"
    )
    new, old, ren = parse_patch(text)
    assert (new.old_path, new.new_path) == (None, "b/new.txt")
    assert (old.old_path, old.new_path) == ("a/old.txt", None)
    assert (ren.old_path, ren.new_path, ren.hunks) == ("p.txt", "q.txt", [])


def test_partial_and_git_style_numbers() -> None:
    (fp,) = parse_patch("--- a/x\n+++ b/x\n@@ -5 +5,2 @@ def f():\n-a\n+b\n+c\n")
    h = fp.hunks[0]
    assert (h.old_start, h.old_len, h.new_start, h.new_len) == (5, 1, 5, 2)


def test_blank_context_without_space_inside_and_at_the_end() -> None:
    (fp,) = parse_patch("--- a/x\n+++ b/x\n@@ -1,4 +1,4 @@\n a\n\n-b\n+c\n\n")
    lines = fp.hunks[0].lines
    assert [(ln.op, ln.text, ln.optional) for ln in lines] == [
        (" ", "a", False),
        (" ", "", False),
        ("-", "b", False),
        ("+", "c", False),
        (" ", "", True),  # trailing bare blank: context or separator, decided at placement
    ]


def test_no_newline_marker_and_crlf_transport() -> None:
    (fp,) = parse_patch(
        "--- a/x\r\n+++ b/x\r\n@@ -1 +1 @@\r\n-a\r\n\\ No newline at end of file\r\n+b\r\n"
    )
    minus, plus = fp.hunks[0].lines
    assert (minus.text, minus.eol) == ("a", "")
    assert (plus.text, plus.eol) == ("b", "\n")
    assert not fp.eol_from_diff


def test_crlf_lines_inside_an_lf_diff_carry_line_endings() -> None:
    (fp,) = parse_patch("--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\r\n+b\r\n")
    assert fp.eol_from_diff
    assert [ln.eol for ln in fp.hunks[0].lines] == ["\r\n", "\r\n"]


def test_removed_line_starting_with_dashes_is_not_a_file_header() -> None:
    (fp,) = parse_patch("--- a/q.sql\n+++ b/q.sql\n@@ -1,3 +1,3 @@\n x\n--- note\n+++ other\n y\n")
    assert [ln.op + ln.text for ln in fp.hunks[0].lines] == [" x", "--- note", "+++ other", " y"]


def test_search_replace_blocks() -> None:
    text = (
        "src/app.py\n```python\n<<<<<<< SEARCH\ndef f():\n    return 1\n=======\n"
        "def f():\n    return 2\n>>>>>>> REPLACE\n```\n"
    )
    (fp,) = parse_patch(text)
    assert fp.old_path == fp.new_path == "src/app.py"
    assert [ln.op + ln.text for ln in fp.hunks[0].lines] == [
        " def f():",
        "-    return 1",
        "+    return 2",
    ]


def test_quoted_paths() -> None:
    (fp,) = parse_patch(
        '--- "a/caf\\303\\251.txt"\n+++ "b/caf\\303\\251.txt"\n@@ -1 +1 @@\n-a\n+b\n'
    )
    assert fp.new_path == "b/café.txt"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("", "empty"),
        ("   \n\n", "empty"),
        ("just some prose\n", "no diff found"),
        ("--- a/x\n+++ b/x\n", "no hunks"),
        ("@@ -1 +1 @@\n-a\n+b\n", "before any file header"),
        ("diff --git a/i.png b/i.png\nBinary files a/i.png and b/i.png differ\n", "binary"),
        ("diff --git a/i.png b/i.png\nGIT binary patch\nliteral 5\n", "binary"),
        ("--- a/../etc/passwd\n+++ b/../etc/passwd\n@@\n-a\n+b\n", "leaves the repository"),
        ("--- /etc/passwd\n+++ /etc/passwd\n@@\n-a\n+b\n", "leaves the repository"),
        ("--- a/.git/config\n+++ b/.git/config\n@@\n-a\n+b\n", ".git/"),
        ("f.py\n<<<<<<< SEARCH\na\n", "unterminated"),
    ],
)
def test_rejections_are_clear(text: str, needle: str) -> None:
    with pytest.raises(PatchParseError) as info:
        parse_patch(text)
    assert needle in str(info.value)
