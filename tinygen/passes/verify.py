"""Verify: the combined canonical diff, the plan and the validation report → a Verdict."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinygen.models import Plan, Revision, Verdict, VerifyAnswer
from tinygen.passes.common import VERIFY_TOOL, RunContext, render
from tinygen.passes.edit import plan_block

if TYPE_CHECKING:
    from tinygen.validate import PathPolicy

MAX_DIFF_CHARS = 120_000


def verify(
    ctx: RunContext, plan: Plan, diff: str, validation: str, round_no: int, policy: PathPolicy
) -> Verdict:
    from tinygen.llm import TextBlock
    from tinygen.validate import check_path

    shown = (
        diff if len(diff) <= MAX_DIFF_CHARS else diff[:MAX_DIFF_CHARS] + "\n[... diff cut ...]\n"
    )
    prompt = render("verify", diff=shown, validation=validation)
    ctx.progress("verify", f"round {round_no}: reviewing the combined diff")
    answer = ctx.ask("verify", VERIFY_TOOL, VerifyAnswer, (plan_block(plan), TextBlock(prompt)))
    revisions: dict[str, Revision] = {}
    for rev in answer.revisions:
        path = check_path(ctx.root, rev.path, policy)
        if path in revisions:
            revisions[path] = Revision(path, revisions[path].feedback + "\n" + rev.feedback)
        else:
            revisions[path] = Revision(path, rev.feedback.strip())
    approved = answer.approved and not revisions
    return Verdict(
        approved=approved,
        summary=answer.summary.strip(),
        revisions=tuple(revisions.values()),
        round=round_no,
    )
