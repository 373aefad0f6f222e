"""Many hunks in one file: placed right, and with work that grows with the hunk count
(counted calls, never timed)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import pytest

from tinygen.errors import PatchApplyError
from tinygen.patch import apply_patch, place
from tinygen.patch.feedback import CLOSEST_PER_FILE


def _file_and_diff(n: int, *, same: bool, numbers: bool = True) -> tuple[str, str, str]:
    """A file of ``n`` 8-line blocks (identical ones when ``same``: every hunk's before-text
    then fits in every block, and only the line numbers can single one out) and a diff
    changing one line in each block, with 3 lines of context."""
    a: list[str] = []
    for i in range(n):
        name = "f" if same else f"f{i}"
        a += [f"def {name}(x):", "    y = x + 1", "    if y:", "        return y"]
        a += ["    return None", "", "", "# ---"]
    b = list(a)
    out = ["--- a/m.py", "+++ b/m.py"]
    for i in range(n):
        changed = 8 * i + 1
        lo, hi = max(0, changed - 3), min(len(a), changed + 4)
        out.append(f"@@ -{lo + 1},{hi - lo} +{lo + 1},{hi - lo} @@" if numbers else "@@")
        for k in range(lo, hi):
            if k == changed:
                b[k] = f"    y = x - {i}"
                out += ["-" + a[k], "+" + b[k]]
            else:
                out.append(" " + a[k])
    return "\n".join(a) + "\n", "\n".join(b) + "\n", "\n".join(out) + "\n"


@contextmanager
def _calls(*functions: Callable[..., Any]) -> Iterator[dict[str, int]]:
    """Count the calls of ``functions`` while the block runs (observed with a profile
    hook: the functions themselves are not replaced)."""
    codes = {f.__code__: f.__name__ for f in functions}
    counts = dict.fromkeys(codes.values(), 0)

    def hook(frame: FrameType, event: str, arg: object) -> None:
        if event == "call" and frame.f_code in codes:
            counts[codes[frame.f_code]] += 1

    sys.setprofile(hook)
    try:
        yield counts
    finally:
        sys.setprofile(None)


@pytest.mark.parametrize("same", [False, True])
def test_thousands_of_hunks_are_all_placed(same: bool) -> None:
    a, b, diff = _file_and_diff(3000, same=same)
    result = apply_patch({"m.py": a}, diff)
    assert result.after == {"m.py": b}
    assert [r.line for r in result.report] == [1] + [8 * i - 1 for i in range(1, 3000)]
    assert all(r.via_hint for r in result.report) == same  # numbers decide only among equals


def test_hunks_on_identical_blocks_build_a_bounded_number_of_placements() -> None:
    # Each of the 400 hunks fits in all 400 blocks; the numbers choose. Building every
    # placement of every hunk would be 160,000 builds.
    a, b, diff = _file_and_diff(400, same=True)
    with _calls(place.build, place._window_level) as counts:
        result = apply_patch({"m.py": a}, diff)
    assert result.after == {"m.py": b}
    assert all(r.via_hint for r in result.report)
    assert counts["build"] <= 2 * 400
    assert counts["_window_level"] <= 4 * 400


def test_identical_blocks_without_numbers_are_refused_with_the_count() -> None:
    a, _, diff = _file_and_diff(300, same=True, numbers=False)
    with pytest.raises(PatchApplyError) as info:
        apply_patch({"m.py": a}, diff)
    failures = info.value.failures
    assert len(failures) == 300
    assert "fits in 300 places (lines 1, 9, 17, 25, 33, 41, 49, 57, 65, 73)" in failures[0].reason
    assert all("fits in 299 places (lines 7, 15, 23," in f.reason for f in failures[1:])


def test_many_failed_hunks_get_closest_lines_up_to_a_limit() -> None:
    a, _, diff = _file_and_diff(200, same=False)
    misquoted = diff.replace("-    y = x + 1", "-    y = x + 2")
    with pytest.raises(PatchApplyError) as info:
        apply_patch({"m.py": a}, misquoted)
    failures = info.value.failures
    assert len(failures) == 200
    found = [f.closest.found if f.closest else None for f in failures]
    assert found[:CLOSEST_PER_FILE] == ["window"] * CLOSEST_PER_FILE
    assert set(found[CLOSEST_PER_FILE:]) == {"skipped"}
    first = failures[0].closest
    assert first is not None and first.difference is not None
    assert (first.difference.hunk_text, first.difference.file_text) == (
        "    y = x + 2",
        "    y = x + 1",
    )
    assert "first 50 failed hunks of m.py only" in info.value.feedback
