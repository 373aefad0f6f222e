"""Verify: the combined canonical diff, the plan and the validation report → a Verdict."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from tinygen.errors import LLMOutputError, PathPolicyError
from tinygen.llm import TextBlock
from tinygen.llm.vote import RedFlag, Sample, run_vote
from tinygen.models import Plan, Revision, Verdict, VerifyAnswer
from tinygen.passes.common import VERIFY_TOOL, RunContext, render
from tinygen.passes.edit import plan_block
from tinygen.validate import check_path

if TYPE_CHECKING:
    from tinygen.validate import PathPolicy

MAX_DIFF_CHARS = 120_000


def verify(
    ctx: RunContext, plan: Plan, diff: str, validation: str, round_no: int, policy: PathPolicy
) -> Verdict:
    """One review of the combined diff; with the ``vote`` setting, reviews are sampled until
    approve or revise leads by k (the margin and the winner's share of the votes are the
    verdict's confidence). A failed gate or check overrides any verdict (``rounds``)."""
    shown = (
        diff if len(diff) <= MAX_DIFF_CHARS else diff[:MAX_DIFF_CHARS] + "\n[... diff cut ...]\n"
    )
    prompt = render("verify", diff=shown, validation=validation)
    ctx.progress("verify", f"round {round_no}: reviewing the combined diff")
    blocks = (plan_block(plan), TextBlock(prompt))
    if ctx.settings.vote:
        return _voted(ctx, blocks, round_no, policy)
    answer = ctx.ask("verify", VERIFY_TOOL, VerifyAnswer, blocks)
    return _verdict(ctx, answer, round_no, policy)


def _voted(
    ctx: RunContext, blocks: tuple[TextBlock, ...], round_no: int, policy: PathPolicy
) -> Verdict:
    def draw() -> Sample[Verdict] | RedFlag:
        try:
            answer = ctx.ask("verify", VERIFY_TOOL, VerifyAnswer, blocks, repair=False)
            verdict = _verdict(ctx, answer, round_no, policy)
        except LLMOutputError as exc:
            return RedFlag("unparsed", exc.message)
        except PathPolicyError as exc:  # a revision of a path no change may touch
            return RedFlag("bad_path", exc.message)
        outcome = "approve" if verdict.approved else "revise"
        return Sample(outcome, verdict, label=outcome)

    settings = ctx.settings
    with ThreadPoolExecutor(min(settings.jobs, settings.max_samples), "tinygen-review") as pool:
        vote = run_vote(draw, k=settings.vote, max_samples=settings.max_samples, submit=pool.submit)
    if vote.winner is None:
        last = vote.last_flag.detail if vote.last_flag is not None else "no sample"
        raise LLMOutputError(
            f"verify: every sampled review was red-flagged ({vote.summary.samples}); the last: "
            f"{last}",
            hint="try again, or choose another `model`",
            settings=("model",),
        )
    return Verdict(
        vote.winner.approved,
        vote.winner.summary,
        vote.winner.revisions,
        round_no,
        vote=vote.summary,
    )


def _verdict(ctx: RunContext, answer: VerifyAnswer, round_no: int, policy: PathPolicy) -> Verdict:
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
