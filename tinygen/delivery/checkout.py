"""`tinygen apply PATCH` into the working tree: place a diff the user already has, run the
checks on the validation gate's tree, write the files (all or none).

The path is the one ``tinygen run`` takes: the hunks are placed by content on the working
tree (:func:`tinygen.repo.apply.place_diff`); the change, as a diff against ``HEAD``, goes
through the gate, which applies it once to a throwaway index and writes a tree; checks run
on a worktree of exactly that tree; and the files written are the ones that tree holds
(:func:`tinygen.repo.apply.apply_diff`, which refuses a file changed in between). Files
with uncommitted changes and a change that adds syntax errors are refused unless ``force``
(a dry run only reports them), with the refusal ``run --apply`` uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tinygen.config import Settings, load_settings
from tinygen.errors import RepoError, TinygenError, ValidationError
from tinygen.patch import canonical_diff
from tinygen.repo.apply import PlacedDiff, apply_diff, place_diff, refuse_uncommitted
from tinygen.repo.git import git, head_commit, repo_root
from tinygen.repo.texts import texts_at
from tinygen.validate import CheckResult, PathPolicy, run_checks_on_tree, run_gate


@dataclass
class CheckoutPatch:
    """What :func:`apply_to_checkout` did. ``placed`` is None when the diff could not be
    placed (or the repository not opened); ``error`` is the refusal or failure, if any, for
    the front end to report after what was found out."""

    placed: PlacedDiff | None = None
    checks: list[CheckResult] = field(default_factory=list)
    written: bool = False
    error: TinygenError | None = None

    @property
    def checks_ok(self) -> bool:
        return all(c.ok for c in self.checks)


def apply_to_checkout(
    repo: str | Path,
    text: str,
    *,
    force: bool = False,
    dry_run: bool = False,
    checks: Sequence[str] = (),
) -> CheckoutPatch:
    """Place ``text`` on the working tree of the checkout at ``repo``; with ``checks``, run
    them on the gate's tree of the change; unless ``dry_run``, write the files — also when
    a check failed (its result says so). Never raises a TinygenError: it is in ``error``."""
    out = CheckoutPatch()
    try:
        root = repo_root(repo)
        settings = load_settings(root)
        policy = PathPolicy(settings.protected_paths, settings.allowed_paths)
        out.placed = placed = place_diff(root, text, policy=policy)
        if not (force or dry_run):
            refuse_uncommitted(placed.uncommitted)
            refusal = placed.syntax_error()
            if refusal is not None:
                raise refusal
        if checks:
            out.checks = _checks_on_gate_tree(root, placed, policy, settings, checks)
        if not dry_run and placed.after:
            # placed again and written only if every file still holds what was placed on
            # (and checked) above
            apply_diff(root, text, force=force, expected=placed.before, policy=policy)
            out.written = True
    except TinygenError as exc:
        out.error = exc
    return out


def _checks_on_gate_tree(
    root: Path,
    placed: PlacedDiff,
    policy: PathPolicy,
    settings: Settings,
    checks: Sequence[str],
) -> list[CheckResult]:
    """The checks on HEAD's tree with the files as they will be written: the change as a
    diff against HEAD (the working tree's files may differ from it, with ``force``) goes
    through the gate, and the checks run on the tree it wrote."""
    head = head_commit(root)
    if head is None:
        raise RepoError("checks need a commit to start from", hint="commit once first")
    at_head = texts_at(root, head, placed.after)
    diff = canonical_diff({p: at_head.get(p) for p in placed.after}, placed.after)
    tree: str | None = None
    if diff:  # else the files will hold what HEAD has
        gate = run_gate(root, head, diff, policy)
        if gate.tree is None:
            raise ValidationError(gate.summary())
        tree = gate.tree
    return run_checks_on_tree(
        root,
        tree or _tree_of(root, head),
        head,
        checks,
        settings.check_timeout,
        settings.check_memory_mb,
        pass_env=settings.check_env,
    )


def _tree_of(root: Path, commit: str) -> str:
    return git(["rev-parse", f"{commit}^{{tree}}"], root).strip()


__all__ = ["CheckoutPatch", "apply_to_checkout"]
