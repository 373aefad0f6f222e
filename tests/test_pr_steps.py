"""Issue 12 item 21, the texts: a pull request that later runs add to keeps describing the
whole change; the steps travel in a hidden block of its body, read back with limits."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.test_publish_branch import FILES, make_result
from tinygen.delivery.texts import (
    STEPS_MARK,
    TITLE_MAX,
    FileChange,
    Step,
    pr_body,
    read_steps,
    steps_block,
    title,
)
from tinygen.models import Status

TWO = {"app.py": "def f():\n    return 2\n"}


def test_steps_round_trip_through_a_body(make_repo: Callable[..., Path]) -> None:
    repo = make_repo(FILES)
    first = make_result(repo, TWO, title="Return two from f", run_id="20260101-000000-aaaaaa")
    body = pr_body(first, issue=3)
    (step,) = read_steps(body)
    assert step == Step(
        "20260101-000000-aaaaaa", "Return two from f", "Return two from f, as asked.", "approved"
    )
    later = make_result(repo, TWO, title="Return three from f", run_id="20260102-000000-bbbbbb")
    body = pr_body(
        later, issue=3, earlier=[step], changes=[FileChange("app.py", 1, 1)], base="main"
    )
    assert body.index("## Summary") < body.index("## Follow-ups") < body.index("## This step")
    assert "Return two from f, as asked." in body.split("## Follow-ups")[0]
    assert "1. **Return three from f** — Return three from f, as asked. (run `20260102" in body
    assert "## Changes against `main`" in body and "- `app.py` (+1 −1)" in body
    assert [s.run_id for s in read_steps(body)] == [step.run_id, later.run_id]
    assert title(later, [step]) == "Return two from f; Return three from f"


def test_titles_of_many_steps_and_of_a_failed_follow_up(make_repo: Callable[..., Path]) -> None:
    repo = make_repo(FILES)
    steps = [Step(f"r{k}", f"Step {k} " + "x" * 30, "", "approved") for k in range(3)]
    done = make_result(repo, TWO, title="Another step")
    assert title(done, steps) == f"{steps[0].title} (+3 follow-ups)"
    failed = make_result(repo, TWO, title="Another step", status=Status.UNAPPROVED)
    text = title(failed, steps[:1])
    assert text.startswith("[unapproved] Step 0") and len(text) <= TITLE_MAX


def test_a_hostile_or_broken_steps_block_is_ignored_or_cleaned() -> None:
    assert read_steps("no block here") == []
    assert read_steps(f"{STEPS_MARK}[[[[{'[' * 200}] -->") == []  # not JSON
    deep = "[" * 5_000 + "]" * 5_000
    assert read_steps(f"{STEPS_MARK}{deep} -->") == []  # too deep: refused, no crash
    assert read_steps(f'{STEPS_MARK}{{"run_id": 1}} -->') == []
    typed = f'{STEPS_MARK}[{{"run_id": 1, "title": "t", "summary": "", "status": "x"}}] -->'
    assert read_steps(typed) == []  # a field of the wrong type drops the step
    block = steps_block([Step("r", "evil --> <script>", "a\x1b]0;title\x07b", "approved")])
    assert "-->" not in block[: -len(" -->")] and "<script>" not in block
    (step,) = read_steps(f"text {block}")
    assert step.title == "evil --> <script>" and "\x1b" not in step.summary
