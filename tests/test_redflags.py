"""Red flags of a sampled edit (tinygen.passes.redflags): one row per reason, and what
passes them."""

from __future__ import annotations

import pytest

from tests.helpers import loose_diff
from tinygen.llm.vote import RedFlag, Sample
from tinygen.models import EditAnswer
from tinygen.passes.redflags import TOO_LONG_FACTOR, TOO_LONG_SLACK, Candidate, judge_edit
from tinygen.validate.outcome import outcome_key

PATH = "app/calc.py"
TEXT = (
    "def total(items: list[int]) -> int:\n"
    "    result = 0\n"
    "    for item in items:\n"
    "        result += item\n"
    "    return result\n"
)


def diff(old: str, new: str) -> EditAnswer:
    """A loose diff replacing the line holding ``old`` by ``new`` (one or more lines)."""
    lines = TEXT.splitlines()
    i = next(n for n, line in enumerate(lines) if old in line)
    added = lines[i].replace(old, new).split("\n")
    body = [" " + lines[i - 1], "-" + lines[i], *("+" + a for a in added)]
    return EditAnswer(
        diff="\n".join([f"--- a/{PATH}", f"+++ b/{PATH}", "@@ @@", *body]) + "\n", notes="ok"
    )


CASES: dict[str, tuple[str | None, EditAnswer, str]] = {
    "no diff for an existing file": (TEXT, EditAnswer(content=TEXT), "unparsed"),
    "not a diff": (TEXT, EditAnswer(diff="I would rename the function."), "unparsed"),
    "new file without content": (None, EditAnswer(notes="done"), "unparsed"),
    "a hunk that fits nowhere": (
        TEXT,
        EditAnswer(diff=f"--- a/{PATH}\n+++ b/{PATH}\n@@ @@\n-    return total\n+    return 0\n"),
        "inexact",
    ),
    "a hunk that fits only re-indented": (
        TEXT,
        EditAnswer(
            diff=f"--- a/{PATH}\n+++ b/{PATH}\n@@ @@\n for item in items:\n-    result += item\n"
            "+    result += item * 2\n"
        ),
        "inexact",
    ),
    "another file": (
        TEXT,
        EditAnswer(diff="--- a/app/other.py\n+++ b/app/other.py\n@@ @@\n-x = 1\n+x = 2\n"),
        "other_file",
    ),
    "syntax errors added": (TEXT, diff("return result", "return result +"), "syntax"),
    "no change": (TEXT, diff("result = 0", "result = 0"), "empty"),
    "whitespace only": (TEXT, diff("result = 0", "result  =  0"), "empty"),
    "an empty new file": (None, EditAnswer(content="  \n"), "empty"),
    "a placeholder comment": (
        TEXT,
        diff("result = 0", "result = 0\n    # ... rest of the code unchanged"),
        "placeholder",
    ),
    "an ellipsis comment in a new file": (
        None,
        EditAnswer(content="def f():\n    // ...\n"),
        "placeholder",
    ),
    "far too long": (
        TEXT,
        EditAnswer(
            diff=loose_diff(PATH, TEXT, "result = 0", "result = 0")
            + "+" * (TOO_LONG_FACTOR * len(TEXT) + TOO_LONG_SLACK)
        ),
        "too_long",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_red_flag(name: str) -> None:
    current, answer, reason = CASES[name]
    path = PATH if current is not None or "new file" not in name else "app/new.py"
    judged = judge_edit(path, current, answer)
    assert isinstance(judged, RedFlag), judged
    assert judged.reason == reason, judged


def test_an_exact_change_is_a_sample_keyed_by_its_outcome() -> None:
    judged = judge_edit(PATH, TEXT, diff("result = 0", "result: int = 0"))
    assert isinstance(judged, Sample)
    after = TEXT.replace("result = 0", "result: int = 0")
    assert judged.value == Candidate(after, "ok")
    assert judged.key == outcome_key(PATH, after)
    # the same change written with a comment is the same outcome
    commented = judge_edit(PATH, TEXT, diff("result = 0", "result: int = 0  # typed"))
    assert isinstance(commented, Sample) and commented.key == judged.key


def test_new_files_and_legitimate_ellipses_pass() -> None:
    created = judge_edit("app/new.py", None, EditAnswer(content="class P:\n    def f(self): ...\n"))
    assert isinstance(created, Sample)
    assert created.value.after.endswith("...\n")
    # "unchanged" in code, not in a comment, is not a placeholder
    code = judge_edit(PATH, TEXT, diff("result = 0", 'result = 0\n    status = "unchanged"'))
    assert isinstance(code, Sample)
