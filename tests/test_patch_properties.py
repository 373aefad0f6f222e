"""Property tests: canonical diffs round-trip; corrupted diffs give b or are refused."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.patch_corpus import locations_unique  # the independent oracle, shared with the bench
from tinygen.errors import PatchApplyError, PatchParseError
from tinygen.patch import apply_patch, canonical_diff, parse_patch
from tinygen.testing.corrupt import CORRUPTIONS

# A small vocabulary makes repeated lines (and so ambiguous locations) common.
VOCAB = [
    "",
    "",
    "x = 1",
    "    return x",
    "def f():",
    "    pass",
    "}",
    "  y = 2",
    "\tz()",
    "        deep = True",
    "-- sql comment",
    "--- not a header",
    "+++ nor this",
    "@ not a hunk",
    "   ",
    "Title",
    "=======",  # a heading underline: a SEARCH/REPLACE divider look-alike
]
line_st = st.one_of(
    st.sampled_from(VOCAB),
    st.text(
        # no NUL: a text file never gets one from a diff (refused, see test_patch_apply)
        alphabet=st.characters(blacklist_characters="\r\n\x00", blacklist_categories=("Cs",)),
        max_size=12,
    ),
)


@st.composite
def texts(draw: st.DrawFn) -> tuple[str, str]:
    a_lines = draw(st.lists(line_st, max_size=30))
    b_lines = list(a_lines)
    for _ in range(draw(st.integers(0, 5))):
        op = draw(st.sampled_from(["ins", "del", "rep"]))
        pos = draw(st.integers(0, len(b_lines)))
        if op == "ins" or not b_lines:
            b_lines[pos:pos] = draw(st.lists(line_st, min_size=1, max_size=4))
        elif op == "del":
            del b_lines[min(pos, len(b_lines) - 1)]
        else:
            b_lines[min(pos, len(b_lines) - 1)] = draw(line_st)
    eol = draw(st.sampled_from(["\n", "\r\n"]))

    def join(lines: list[str]) -> str:
        text = "".join(ln + eol for ln in lines)
        if text and draw(st.booleans()) and draw(st.booleans()):
            text = text[: -len(eol)]  # no final newline
        return text

    return join(a_lines), join(b_lines)


def _repeats(a: str, diff: str) -> bool:
    """Some line the diff adds is already in ``a``: added next to (or in a pattern with) its
    twin, it could have gone in more than one place, so whether it is "already there" in
    the changed file is a matter of choice."""
    old = set(re.split(r"\r?\n", a))
    return any(
        ln[1:].rstrip("\r") in old
        for ln in diff.split("\n")
        if ln.startswith("+") and not ln.startswith("+++ ")
    )


def _before_still_in(b: str, diff: str) -> bool:
    """Some hunk's before-text is still in ``b`` exactly, every line in place: the change
    sits in a run or pattern of equal lines ("-x +y x x x" re-sent to "y x x x x"), and
    without trusted line numbers applying it is what the diff's own before-text supports."""
    file = re.split(r"\r?\n", b)[: -1 if b.endswith("\n") else None]
    for body in re.split(r"(?m)^@@.*$", diff)[1:]:
        old = [
            ln[1:].rstrip("\r")
            for ln in body.split("\n")
            if ln[:1] in (" ", "-") and not ln.startswith(("--- ", "diff "))
        ]
        if old and any(file[i : i + len(old)] == old for i in range(len(file))):
            return True
    return False


def _reverse(diff: str) -> str:
    """The hunks with their sides swapped (enough for :func:`locations_unique`)."""
    swap = {"-": "+", "+": "-"}
    return "\n".join(
        swap[ln[0]] + ln[1:] if ln[:1] in swap and not ln.startswith(("--- ", "+++ ")) else ln
        for ln in diff.split("\n")
    )


def _apply(a: str, diff: str) -> str | None:
    try:
        result = apply_patch({"f.txt": a}, diff)
    except (PatchApplyError, PatchParseError):
        return None
    return result.after.get("f.txt", a)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts())
def test_canonical_diff_round_trips(ab: tuple[str, str]) -> None:
    a, b = ab
    if a == b:
        assert canonical_diff({"f.txt": a}, {"f.txt": b}) == ""
        return
    diff = canonical_diff({"f.txt": a}, {"f.txt": b})
    result = apply_patch({"f.txt": a}, diff)
    assert result.after == {"f.txt": b}
    assert result.before == {"f.txt": a}


@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ab=texts(), seed=st.integers(0, 2**16))
def test_corrupted_diff_gives_b_or_is_refused(kind: str, ab: tuple[str, str], seed: int) -> None:
    a, b = ab
    if a == b:
        return
    diff = canonical_diff({"f.txt": a}, {"f.txt": b})
    loose = CORRUPTIONS[kind](diff, seed)
    got = _apply(a, loose)
    assert got is None or got == b, f"wrong result for {kind}:\n{loose!r}"
    # A '=======' line in the text makes a SEARCH/REPLACE block ambiguous, refused if both
    # readings fit.
    may_refuse = kind in MAY_REFUSE or (kind == "search-replace" and "=======" in diff)
    if not may_refuse and locations_unique(a, diff):
        assert got == b, f"refused a diff whose locations are unique ({kind}):\n{loose!r}"


# Corruptions that may make a diff unplaceable even where its locations are unique.
MAY_REFUSE = {"misquoted-line"}
# Stacked corruptions: the format-changing ones go last, in this order.
LAST = ["search-replace", "fences-prose", "crlf"]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ab=texts(),
    seed=st.integers(0, 2**16),
    kinds=st.lists(
        st.sampled_from(sorted(set(CORRUPTIONS) - {"none", "stacked"})),
        min_size=2,
        max_size=4,
        unique=True,
    ),
)
def test_stacked_corruptions_give_b_or_are_refused(
    ab: tuple[str, str], seed: int, kinds: list[str]
) -> None:
    a, b = ab
    if a == b:
        return
    if "search-replace" in kinds:
        # SEARCH/REPLACE has no numbers or prefixes to corrupt, and its REPLACE text is
        # written as it is (trailing whitespace included), so only these combine with it.
        kinds = [k for k in kinds if k in LAST or k in ("misquoted-line", "less-indent")]
    loose = canonical_diff({"f.txt": a}, {"f.txt": b})
    for kind in sorted(kinds, key=lambda k: LAST.index(k) if k in LAST else -1):
        loose = CORRUPTIONS[kind](loose, seed)
    got = _apply(a, loose)
    assert got is None or got == b, f"wrong result for {kinds}:\n{loose!r}"


@pytest.mark.parametrize("kind", ["none", "strip-numbers", "search-replace", "less-indent"])
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ab=texts(), seed=st.integers(0, 2**16))
def test_resent_diff_leaves_b_or_is_refused(kind: str, ab: tuple[str, str], seed: int) -> None:
    """A diff sent again after it was applied: already present (b unchanged) or refused,
    never applied twice."""
    a, b = ab
    diff = canonical_diff({"f.txt": a}, {"f.txt": b})
    # A change inside a run or pattern of equal lines cannot be told from its re-sending.
    if a == b or not locations_unique(b, _reverse(diff)) or _repeats(a, diff):
        return
    if _before_still_in(b, diff):
        return
    loose = CORRUPTIONS[kind](diff, seed)
    got = _apply(b, loose)
    assert got is None or got == b, f"re-sent diff changed b ({kind}):\n{loose!r}"


@settings(max_examples=100, deadline=None)
@given(st.lists(texts(), min_size=1, max_size=3))
def test_several_files_and_new_and_deleted_files(pairs: list[tuple[str, str]]) -> None:
    before: dict[str, str | None] = {}
    after: dict[str, str | None] = {}
    for i, (a, b) in enumerate(pairs):
        before[f"d/f{i}.txt"] = a
        after[f"d/f{i}.txt"] = b
    before["new.txt"], after["new.txt"] = None, "fresh\n"
    before["gone.txt"], after["gone.txt"] = "old\nlines\n", None
    diff = canonical_diff(before, after)
    files = {p: t for p, t in before.items() if t is not None}
    result = apply_patch(files, CORRUPTIONS["no-prefixes"](diff))
    expected = {p: t for p, t in after.items() if t != before[p]}
    assert result.after == expected


def test_parse_keeps_removed_line_that_looks_like_a_header() -> None:
    a = "a\n-- b\nc\n"
    b = "a\n++ d\nc\n"
    diff = canonical_diff({"f.sql": a}, {"f.sql": b})
    assert "\n--- b\n+++ d\n" in diff
    assert apply_patch({"f.sql": a}, diff).after == {"f.sql": b}
    assert len(parse_patch(diff)) == 1


def test_stacked_corruption_examples_found_by_hypothesis() -> None:
    """Replayed from a local hypothesis database (the derandomized CI profile never drew
    them): a hunk placed with its trailing bare blank line was called already present (see
    test_patch_apply), and less-indent stopped at a blank line without its space."""
    a, b = "\nx = 1\n\n", "x = 1\n\n\n"
    diff = canonical_diff({"f.txt": a}, {"f.txt": b})
    for seed in (11, 13):
        assert _apply(a, CORRUPTIONS["stacked"](diff, seed)) == b
    a = "\n" * 9 + "    return x\n\nx = 1\n"
    b = a + "\n"
    diff = canonical_diff({"f.txt": a}, {"f.txt": b})
    assert locations_unique(a, diff)
    assert _apply(a, CORRUPTIONS["stacked"](diff, 13)) == b


def test_less_indent_goes_on_past_a_blank_line_without_its_space() -> None:
    diff = "--- a/f.txt\n+++ b/f.txt\n@@ -1,3 +1,3 @@\n     a\n\n-    b\n+    c\n"
    assert CORRUPTIONS["less-indent"](diff, 0) == (
        "--- a/f.txt\n+++ b/f.txt\n@@ -1,3 +1,3 @@\n a\n\n-b\n+c\n"
    )
    # What it wrote before (the first line alone de-indented) quotes the file's lines with
    # two different indentation changes: no one re-indent fits, so it is refused.
    a = "    a\n\nx\n"
    half = "--- a/f.txt\n+++ b/f.txt\n@@ -1,3 +1,4 @@\n a\n\n x\n+\n"
    assert _apply(a, half) is None
    assert _apply(a, half.replace("\n a\n", "\n     a\n")) == a + "\n"


@pytest.mark.parametrize("kind", ["none", "strip-numbers", "search-replace", "less-indent"])
def test_resent_diff_whose_blank_lines_fit_only_modulo_whitespace_leaves_b(kind: str) -> None:
    """Found by a long hypothesis run: re-sent to b, the before-text ("   " "   " "0") fit
    b's "" "" "0" modulo trailing whitespace, shifted one line onto the blank lines the
    diff had added, so it was applied a second time. The after-text is in b exactly."""
    a, b = "   \n   \n0", "   \n\n\n0"
    diff = canonical_diff({"f.txt": a}, {"f.txt": b})
    assert locations_unique(b, _reverse(diff)) and not _repeats(a, diff)
    loose = CORRUPTIONS[kind](diff, 0)
    result = apply_patch({"f.txt": b}, loose)
    assert result.after == {}
    assert [r.outcome for r in result.report] == ["already-present"]
    assert _apply(a, loose) == b  # the first sending still applies


def test_resent_diff_placed_without_its_trailing_blank_context_leaves_b() -> None:
    """Found by a long local hypothesis run (blank-no-space, a kind the CI test does not
    re-send): the hunk's last context line, a bare empty line, is optional; re-sent to b it
    did not fit, and without it the hunk ("-" "+x = 1") fit b's blank line, so it was
    applied again. With it, the after-text is b's."""
    a, b = "\n\n", "x = 1\n\n"
    diff = canonical_diff({"f.txt": a}, {"f.txt": b})
    assert locations_unique(b, _reverse(diff)) and not _repeats(a, diff)
    loose = CORRUPTIONS["blank-no-space"](diff, 0)
    result = apply_patch({"f.txt": b}, loose)
    assert result.after == {}
    assert [r.outcome for r in result.report] == ["already-present"]
    assert _apply(a, loose) == b


def test_resent_diff_with_only_blank_before_lines_is_refused_when_both_texts_fit() -> None:
    """Found by a local hypothesis run (strip-numbers): the before-text of "-" "+x = 1"
    " " " " " " is four blank lines, which b still holds right after the x = 1 the diff
    added, so it was applied again. Both texts fit there exactly: refused, with a reason."""
    a, b = "\n" * 5, "x = 1\n" + "\n" * 4
    diff = canonical_diff({"f.txt": a}, {"f.txt": b})
    assert locations_unique(b, _reverse(diff)) and not _repeats(a, diff)
    loose = CORRUPTIONS["strip-numbers"](diff, 0)
    with pytest.raises(PatchApplyError) as info:
        apply_patch({"f.txt": b}, loose)
    assert "whether the change is already made cannot be told" in info.value.failures[0].reason
    assert _apply(a, diff) == b  # in a the blank lines fit twice: its numbers choose


def test_resent_diff_whose_blank_context_is_missing_at_the_top_leaves_b() -> None:
    """Found by a local hypothesis run (strip-numbers): the hunk's three blank context
    lines above "-x = 1" "+    return x" are not above b's first line, so it was placed
    loosely on that x = 1 (blank-lines), next to the after-text b holds, not overlapping
    it, and applied again."""
    a, b = "x = 1\n\n\n\nx = 1\n", "x = 1\n\n\n\n    return x\n"
    diff = canonical_diff({"f.txt": a}, {"f.txt": b})
    assert locations_unique(b, _reverse(diff)) and not _repeats(a, diff)
    loose = CORRUPTIONS["strip-numbers"](diff, 0)
    result = apply_patch({"f.txt": b}, loose)
    assert result.after == {}
    assert [r.outcome for r in result.report] == ["already-present"]
    assert _apply(a, diff) == b  # in a it fits twice loosely: its numbers choose
