"""`tinygen apply PATCH` with delivery: commit a diff the user already has (placed by content
on the base, or on a pull request's head) instead of writing the working tree. It goes
through the same validation gate as a run's diff (checks, when asked for, run on the gate's
tree: the one committed) and gets a run record of its own."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tinygen.delivery.deliver import Delivered, deliver
from tinygen.delivery.prepare import Prepared
from tinygen.errors import TinygenError
from tinygen.models import Plan, PlanItem, RunResult, Status
from tinygen.patch import apply_patch, canonical_diff
from tinygen.repo.git import state_dir
from tinygen.repo.texts import texts_at
from tinygen.runs import RunRecorder, runs_root
from tinygen.validate import PathPolicy, run_checks_on_tree, run_gate

if TYPE_CHECKING:
    from tinygen.config import Settings


@dataclass
class PatchDelivery:
    result: RunResult | None  # None: every hunk is already present
    delivered: Delivered | None = None
    error: TinygenError | None = None


def deliver_patch(
    text: str, shown: str, prepared: Prepared, settings: Settings, checks: Sequence[str] = ()
) -> PatchDelivery:
    """Place ``text`` on ``prepared.target_commit``, validate it (the gate, then ``checks``
    on the gate's tree), record it, deliver it — marked ``invalid`` or ``checks_failed``
    when it is, so that the work is not lost. ``shown`` names the patch for reviewers (a
    file's name, never a local path)."""

    root, target = prepared.opened.root, prepared.target_commit
    policy = PathPolicy(settings.protected_paths, settings.allowed_paths)
    files = texts_at(root, target)
    placed = apply_patch(files, text, known_paths=list(files))
    diff = canonical_diff(placed.before, placed.after)
    if not diff:
        return PatchDelivery(None)
    gate = run_gate(root, target, diff, policy)
    results = []
    if gate.ok and gate.tree is not None and checks:
        results = run_checks_on_tree(
            root,
            gate.tree,
            target,
            checks,
            settings.check_timeout,
            settings.check_memory_mb,
            pass_env=settings.check_env,
        )
    failed = [r.command for r in results if not r.ok]
    if not gate.ok:
        status, message = Status.INVALID, gate.summary()
    elif failed:
        status, message = Status.CHECKS_FAILED, f"checks failed: {', '.join(failed)}"
    else:
        status, message = Status.UNVERIFIED, "applied from a diff; not reviewed"
    record = RunRecorder(runs_root(state_dir(root)))
    items = tuple(
        PlanItem(
            path,
            "create"
            if placed.before.get(path) is None
            else ("delete" if after is None else "modify"),
            f"as in {shown}",
        )
        for path, after in sorted(placed.after.items())
        if after != placed.before.get(path)
    )
    names = ", ".join(i.path for i in items)
    result = RunResult(
        run_id=record.run_id,
        status=status,
        message=message,
        diff=diff,
        plan=Plan(
            summary=f"The change from {shown}, applied with `tinygen apply`.",
            title=f"Apply {shown} to {names}",
            files=items,
        ),
        validation=gate,
        checks=results,
        base_commit=target,
        tree=gate.tree,
    )
    result.diff_path = str(record.write_text("diff.patch", diff))
    record.finish(
        request={"text": f"tinygen apply {shown}", "source": "prompt"},
        result=result.to_dict(),
        status=str(result.status),
    )
    out = PatchDelivery(result)
    try:
        out.delivered = deliver(prepared, result, settings)
    except TinygenError as exc:
        exc.saved_diff = exc.saved_diff or result.diff_path
        out.error = exc
    return out
