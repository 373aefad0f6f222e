"""A summary build's progress as plain lines, for a log or a pipe (no bar to redraw): the
first summary made, then one line each tenth of the way. ``tinygen summarize`` off a
terminal and the Action's refresh both report this way."""

from __future__ import annotations

from collections.abc import Callable

from tinygen.summarize.build import Progress


def every_tenth(say: Callable[[str], None]) -> Progress:
    """A build's progress callback that passes ``say`` a line like "30 of 100 made,
    $0.0120" at the first summary and at each tenth after it."""
    shown = -1

    def each(done: int, total: int, dollars: float) -> None:
        nonlocal shown
        tenth = int(done / total * 10) if total else 10
        if tenth > shown:
            shown = tenth
            say(f"{done:,} of {total:,} made, ${dollars:.4f}")

    return each


__all__ = ["every_tenth"]
