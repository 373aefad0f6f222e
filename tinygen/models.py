"""Dataclasses passed between the pipeline's stages.

request ─► Plan (brainstorm) ─► FileEdit per planned file (edit) ─► Verdict (verify) ─► RunResult

The answer shapes the model fills in (``PlanAnswer``, ``EditAnswer``, ``VerifyAnswer``) are
dataclasses too: their JSON schema is what the forced tool asks for, and the model's tool
input is validated into them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

from tinygen.errors import ExitCode
from tinygen.llm.usage import Usage
from tinygen.llm.vote import VoteSummary

if TYPE_CHECKING:
    from tinygen.estimate import Estimate
    from tinygen.summarize.build import Report
    from tinygen.summarize.plan import Estimate as SummaryEstimate
    from tinygen.validate.checks import CheckResult
    from tinygen.validate.gate import GateReport

Action = Literal["create", "modify", "delete"]


@dataclass(frozen=True)
class Request:
    """What the user asked for, and where it came from."""

    text: str
    source: Literal["prompt", "issue", "comment", "dispatch", "api"] = "prompt"
    issue_number: int | None = None


# ---- answers the model gives (validated tool input) -------------------------------------


@dataclass
class PlanItem:
    """One file the change touches."""

    path: str
    action: Action
    intent: str
    see_also: list[str] = field(default_factory=list)


@dataclass
class PlanAnswer:
    """The brainstorm pass's answer: either files to read first, or the plan."""

    summary: str = ""
    title: str = ""
    files: list[PlanItem] = field(default_factory=list)
    read_files: list[str] = field(default_factory=list)


@dataclass
class EditAnswer:
    """The per-file pass's answer: a unified diff for an existing file, whole content for a
    new one, or no_change true (diff and content left empty) when the file already does what
    was asked; notes says what was changed, or why nothing was."""

    diff: str = ""
    content: str | None = None
    notes: str = ""
    no_change: bool = False


@dataclass
class Revision:
    path: str
    feedback: str


@dataclass
class VerifyAnswer:
    approved: bool
    summary: str
    revisions: list[Revision] = field(default_factory=list)


# ---- what stages hand to each other ------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    summary: str
    title: str
    files: tuple[PlanItem, ...]
    files_read: tuple[str, ...] = ()

    def item(self, path: str) -> PlanItem | None:
        return next((f for f in self.files if f.path == path), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary,
            "title": self.title,
            "files": [asdict(f) for f in self.files],
            "files_read": list(self.files_read),
        }


@dataclass
class FileEdit:
    """The state of one planned file: its text before and after, and how we got there."""

    path: str
    action: Action
    before: str | None
    after: str | None
    attempts: int = 0
    notes: str = ""
    error: str | None = None  # set when the file could not be edited
    vote: VoteSummary | None = None  # how the samples voted (with the `vote` setting)
    runner_up: str | None = None  # an undecided vote's second outcome, for the checks to try
    no_change: bool = False  # the model answered that the file needs no change

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "action": self.action,
            "attempts": self.attempts,
            "notes": self.notes,
            "error": self.error,
            "vote": self.vote.to_dict() if self.vote else None,
            "no_change": self.no_change,
        }


@dataclass(frozen=True)
class Verdict:
    approved: bool
    summary: str
    revisions: tuple[Revision, ...] = ()
    round: int = 0
    vote: VoteSummary | None = None  # how the reviews voted (with the `vote` setting)

    def to_dict(self) -> dict[str, Any]:
        return {
            "approved": self.approved,
            "summary": self.summary,
            "revisions": [asdict(r) for r in self.revisions],
            "round": self.round,
            "vote": self.vote.to_dict() if self.vote else None,
        }


class Status(StrEnum):
    """How a run ended; :attr:`exit_code` is the process exit code that reports it."""

    APPROVED = "approved"
    UNVERIFIED = "unverified"  # --max-rounds 0: validated but not reviewed
    NO_CHANGE = "no_change"
    UNAPPROVED = "unapproved"
    INVALID = "invalid"  # the validation gate refused the final diff
    UNPLACED = "unplaced"  # no planned edit could be placed in the file it was for
    CHECKS_FAILED = "checks_failed"
    BUDGET_EXCEEDED = "budget_exceeded"  # stopped at `max_cost`, with the best valid diff
    FAILED = "failed"

    @property
    def exit_code(self) -> ExitCode:
        return _STATUS_EXIT[self]

    @property
    def succeeded(self) -> bool:
        """The change is good to deliver as it is (approved, or validated and not reviewed)."""
        return self in (Status.APPROVED, Status.UNVERIFIED)


_STATUS_EXIT = {
    Status.APPROVED: ExitCode.OK,
    Status.UNVERIFIED: ExitCode.OK,
    Status.NO_CHANGE: ExitCode.NO_CHANGE,
    Status.UNAPPROVED: ExitCode.UNAPPROVED,
    Status.INVALID: ExitCode.PATCH,
    Status.UNPLACED: ExitCode.PATCH,
    Status.CHECKS_FAILED: ExitCode.CHECKS_FAILED,
    Status.BUDGET_EXCEEDED: ExitCode.BUDGET_EXCEEDED,
    Status.FAILED: ExitCode.INTERNAL,
}


def validation_status(gate: GateReport, checks: Sequence[CheckResult]) -> tuple[Status, str] | None:
    """How validation ends a change, in one wording wherever it is decided (a run's rounds,
    ``tinygen apply`` with delivery, a change placed anew on a moved head): ``invalid``
    when the gate refused it, ``checks_failed`` when a check failed or timed out, None when
    both passed."""
    if not gate.ok:
        return Status.INVALID, "validation failed:\n" + _problem_summary(gate)
    failed = [c.command for c in checks if not c.ok]
    if failed:
        return Status.CHECKS_FAILED, "check(s) failed: " + ", ".join(failed)
    return None


def _problem_summary(gate: GateReport) -> str:
    """One line per file (its first problem, cut to one source line), then how many more."""
    first: dict[str, str] = {}
    for problem in gate.problems:
        first.setdefault(problem.path or "(diff)", problem.message.splitlines()[0][:160])
    lines = [f"  {path}: {message}" for path, message in first.items()]
    more = len(gate.problems) - len(first)
    return "\n".join(lines) + (f"\n  (+{more} more; see the run record)" if more > 0 else "")


@dataclass(frozen=True)
class RunSummaries:
    """The summaries a run with ``summaries = "auto"`` made before its sheet: the build's
    ``report``, the most of ``max_cost`` they could take (``limit``; None: no limit), why
    nothing was made when the stage was skipped (``skipped``: the summary model has no price
    or no key; the run went on with what was cached), and what the build was projected to
    cost (``estimate``; it joins the run's estimate as its "summaries" pass)."""

    report: Report
    limit: float | None = None
    skipped: str | None = None
    estimate: SummaryEstimate | None = None

    @property
    def calls(self) -> int:
        return self.report.calls

    @property
    def cost_usd(self) -> float | None:
        """What they cost (None: the summary model's price is unknown)."""
        return self.report.cost_usd

    def to_dict(self) -> dict[str, Any]:
        return self.report.to_dict() | {"limit_usd": self.limit, "skipped": self.skipped}


@dataclass
class RunResult:
    """What a run produced. Gate report, check results and usage stay typed objects; they
    become plain data only at the edges (:meth:`to_dict`: run record, ``--json``, API)."""

    run_id: str
    status: Status
    message: str
    diff: str = ""
    plan: Plan | None = None
    verdict: Verdict | None = None
    edits: list[FileEdit] = field(default_factory=list)
    validation: GateReport | None = None
    checks: list[CheckResult] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    calls: int = 0
    cost_usd: float | None = None
    timings: dict[str, float] = field(default_factory=dict)
    rounds: int = 0
    model: str = ""
    base_commit: str = ""
    diff_path: str | None = None
    # The tree the gate validated (base commit + diff): the one that checks ran on and that
    # delivery commits, so what ships is byte for byte what was validated.
    tree: str | None = None
    estimate: Estimate | None = None  # what the run was projected to cost, from its sheet
    max_cost: float | None = None  # the cost limit it ran under (None: none)
    # made first with `summaries = "auto"` (None: not asked for); their cost is in cost_usd,
    # their calls and tokens are not in calls and usage (another model's)
    summaries: RunSummaries | None = None

    @property
    def low_agreement(self) -> bool:
        """A vote (of a file's edit or of the review) ended without a k-vote lead and no
        check could choose: its plurality was taken."""
        votes = [e.vote for e in self.edits] + [self.verdict.vote if self.verdict else None]
        return any(v is not None and v.low_agreement for v in votes)

    @property
    def succeeded(self) -> bool:
        return self.status.succeeded

    @property
    def failed_checks(self) -> list[CheckResult]:
        """The checks that failed or timed out (the one place this is decided)."""
        return [c for c in self.checks if not c.ok]

    @property
    def forbidden_paths(self) -> list[str]:
        """Paths the gate refused under the path policy: such a diff is never delivered."""
        if self.validation is None:
            return []
        return sorted({p.path or "?" for p in self.validation.problems if p.check == "path"})

    @property
    def summaries_cost(self) -> float:
        """The part of ``cost_usd`` the summaries took (0.0: none made, or not known)."""
        cost = self.summaries.cost_usd if self.summaries is not None else None
        return cost or 0.0

    def usage_dict(self) -> dict[str, int]:
        return self.usage.to_dict() | {"calls": self.calls}

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "status": str(self.status),
            "message": self.message,
            "diff": self.diff,
            "plan": self.plan.to_dict() if self.plan else None,
            "verdict": self.verdict.to_dict() if self.verdict else None,
            "files": [e.to_dict() for e in self.edits],
            "validation": self.validation.to_dict() if self.validation else None,
            "checks": [c.to_dict() for c in self.checks],
            "usage": self.usage_dict(),
            "cost_usd": self.cost_usd,
            "timings": self.timings,
            "rounds": self.rounds,
            "model": self.model,
            "base_commit": self.base_commit,
            "diff_path": self.diff_path,
            "low_agreement": self.low_agreement,
            "estimate": self.estimate.to_dict() if self.estimate else None,
            "max_cost": self.max_cost,
            "summaries": self.summaries.to_dict() if self.summaries else None,
        }
