"""Between review rounds: what the next round revises (the reviewer's revisions plus every
failed gate problem, check and edit), what the reviewer is told about validation, and how a
run ends. Pure functions of the stages' typed data."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinygen.models import (
    FileEdit,
    Plan,
    PlanItem,
    Revision,
    Status,
    Verdict,
    validation_status,
)

if TYPE_CHECKING:
    from tinygen.validate import CheckResult, GateReport

CHECK_TAIL_LINES = 60  # lines of each check's output shown to the reviewer


def plan_with_revisions(plan: Plan, revisions: list[Revision], repo_paths: frozenset[str]) -> Plan:
    """A revision may name a file the plan did not: it joins the plan."""
    items = list(plan.files)
    for rev in revisions:
        if plan.item(rev.path) is None:
            exists = rev.path in repo_paths
            items.append(PlanItem(rev.path, "modify" if exists else "create", rev.feedback))
    return Plan(plan.summary, plan.title, tuple(items), plan.files_read)


def diff_paths(diff: str) -> list[str]:
    """The files a canonical diff changes (new side, or old side for deletions)."""
    paths: list[str] = []
    for line in diff.splitlines():
        if line.startswith("diff --git a/"):
            old, _, new = line[len("diff --git a/") :].partition(" b/")
            paths.append(new or old)
    return paths


def revisions_for(
    verdict: Verdict,
    gate: GateReport,
    checks: list[CheckResult],
    edits: dict[str, FileEdit],
    changed: list[str],
) -> list[Revision]:
    """What to revise next: the reviewer's revisions, plus feedback from every failed gate
    problem, check and edit. Empty means the change is approved and valid."""
    notes: dict[str, list[str]] = {r.path: [r.feedback] for r in verdict.revisions}

    def add(path: str, note: str) -> None:
        notes.setdefault(path, []).append(note)

    for problem in gate.problems:
        for path in [problem.path] if problem.path else changed:
            add(path, f"Validation ({problem.check}) failed: {problem.message}")
    for check in checks:
        if not check.ok:
            state = "timed out" if check.timed_out else f"exited {check.exit_code}"
            tail = "\n".join(check.output_tail.splitlines()[-CHECK_TAIL_LINES:])
            for path in changed:
                add(path, f"The check `{check.command}` {state} on the changed tree:\n{tail}")
    for edit in edits.values():
        if not edit.ok:
            add(edit.path, f"Your last change could not be applied: {edit.error}")
    if not notes and not verdict.approved:  # "no" without saying what to change
        for path in changed:
            add(path, f"The reviewer did not approve: {verdict.summary}")
    return [Revision(path, "\n".join(n)) for path, n in notes.items()]


def validation_text(gate: GateReport, checks: list[CheckResult], edits: dict[str, FileEdit]) -> str:
    lines = [f"Gate: {'passed' if gate.ok else 'FAILED'}"]
    lines += [f"- [{p.check}] {p.path + ': ' if p.path else ''}{p.message}" for p in gate.problems]
    for check in checks:
        state = "timed out" if check.timed_out else f"exit {check.exit_code}"
        lines.append(f"Check `{check.command}`: {state} ({check.seconds:.1f} s)")
        tail = check.output_tail.splitlines()[-CHECK_TAIL_LINES:]
        if tail and not check.ok:
            lines += ["```", *tail, "```"]
    for edit in edits.values():
        if not edit.ok:
            lines.append(f"File {edit.path} could not be edited (left unchanged): {edit.error}")
    if not checks:
        lines.append("No repository checks are configured.")
    return "\n".join(lines)


def final_status(
    gate: GateReport,
    checks: list[CheckResult],
    verdict: Verdict | None,
    edits: dict[str, FileEdit],
    max_rounds: int,
) -> tuple[Status, str]:
    ended = validation_status(gate, checks)
    if ended is not None:
        return ended
    failed_edits = [e.path for e in edits.values() if not e.ok]
    if verdict is None:
        if failed_edits:
            return Status.UNAPPROVED, "file(s) could not be edited: " + ", ".join(failed_edits)
        return Status.UNVERIFIED, "validated; not reviewed (max-rounds is 0)"
    if verdict.approved and not failed_edits:
        return Status.APPROVED, verdict.summary or "approved"
    why = "; ".join(f"{r.path}: {r.feedback}" for r in verdict.revisions) or verdict.summary
    if failed_edits:
        why = (
            "file(s) could not be edited: " + ", ".join(failed_edits) + ("; " + why if why else "")
        )
    return Status.UNAPPROVED, f"not approved after {max_rounds} round(s): {why}"
