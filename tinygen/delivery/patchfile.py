"""`tinygen apply PATCH` with delivery: commit a diff the user already has (placed by content
on the base, or on a pull request's head) instead of writing the working tree. It goes
through the same validation gate as a run's diff (checks, when asked for, run on the gate's
tree: the one committed) and gets a run record of its own."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tinygen.config import load_settings
from tinygen.delivery.deliver import Delivered, deliver
from tinygen.delivery.options import DeliveryOptions
from tinygen.delivery.prepare import Prepared, prepare
from tinygen.errors import ExitCode, TinygenError
from tinygen.models import Plan, PlanItem, RunResult, Status, validation_status
from tinygen.patch import apply_patch, canonical_diff
from tinygen.repo.clone import open_repository
from tinygen.repo.git import repo_root, state_dir
from tinygen.repo.texts import texts_at
from tinygen.runs import RunRecorder, runs_root
from tinygen.validate import PathPolicy, run_checks_on_tree, run_gate

if TYPE_CHECKING:
    from tinygen.config import Settings
    from tinygen.github.app import AppCredentials


@dataclass
class PatchDelivery:
    """What delivering a patch did. A change that fails the gate or a check is delivered
    all the same (work is never lost), marked with its status."""

    prepared: Prepared
    result: RunResult | None  # None: every hunk is already present
    delivered: Delivered | None = None
    error: TinygenError | None = None  # delivery's own, for the front end to raise

    @property
    def status(self) -> Status:
        """``no_change``, ``unverified``, or ``invalid`` / ``checks_failed``."""
        return Status.NO_CHANGE if self.result is None else self.result.status

    @property
    def exit_code(self) -> ExitCode:
        """0 for a change delivered as it is (or none needed); an invalid change's (5) or a
        failed check's (10) when it was delivered all the same."""
        if self.status in (Status.NO_CHANGE, Status.UNVERIFIED):
            return ExitCode.OK
        return self.status.exit_code


def deliver_patch_file(
    text: str,
    source: str,
    repo: str | Path,
    opts: DeliveryOptions,
    checks: Sequence[str] = (),
    *,
    app: AppCredentials | None = None,
) -> PatchDelivery:
    """Deliver the diff ``text`` read from ``source`` (a path, or ``-``) to the checkout that
    holds ``repo``, as ``opts`` say: the repository opened, what delivery needs checked
    (:func:`tinygen.delivery.prepare.prepare`; ``app``: a GitHub App's credentials), its
    settings read at the base commit, then :func:`deliver_patch`."""
    opened = open_repository(str(repo_root(repo)))
    prepared = prepare(opts, opened, app=app)
    settings = load_settings(opened.root, commit=opened.base_commit)
    # the file's name only: a local path says nothing to reviewers and may be private
    shown = Path(source).name if source != "-" else "a patch"
    return deliver_patch(text, shown, prepared, settings, checks)


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
        return PatchDelivery(prepared, None)
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
    status, message = validation_status(gate, results) or (
        Status.UNVERIFIED,
        "applied from a diff; not reviewed",
    )
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
    out = PatchDelivery(prepared, result)
    try:
        out.delivered = deliver(prepared, result, settings)
    except TinygenError as exc:
        exc.saved_diff = exc.saved_diff or result.diff_path
        out.error = exc
    return out
