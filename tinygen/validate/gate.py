"""The validation gate: a structured verdict on a canonical diff against a base commit.

Checks, in order: the diff parses with unidiff and has no zero-hunk files (an empty file
created or deleted is the one legitimate exception); it creates only regular files (mode
100644 or 100755: no symbolic links, no submodules); every path (git's C-quoted names
unquoted) passes the path policy (resolved in a checkout of the base commit);
``git apply --check`` accepts it there; and no changed file gains syntax errors: new
tree-sitter ERROR/MISSING nodes in parsed languages, or JSON/TOML that no longer loads.
Files in other languages are listed as ``syntax_skipped``. Path problems stop the gate
before anything is applied, even in the temporary worktree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tinygen.errors import PatchError, PathPolicyError
from tinygen.patch import apply_patch
from tinygen.patch.parse import parse_patch, unquote_path
from tinygen.repo.git import resolve_commit, temp_worktree
from tinygen.repo.trees import changed_paths, tree_with_diff
from tinygen.validate.paths import PathPolicy, check_path
from tinygen.validate.syntax import has_syntax_check, new_syntax_problems


@dataclass(frozen=True)
class Problem:
    check: str  # parse | path | apply | syntax
    message: str
    path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.check, "path": self.path, "message": self.message}


@dataclass
class GateReport:
    base_commit: str
    files: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    checks_run: list[str] = field(default_factory=list)
    syntax_skipped: list[str] = field(default_factory=list)  # changed, no syntax checker
    tree: str | None = None  # base + diff as git applied it (set when it applies)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "base_commit": self.base_commit,
            "files": self.files,
            "checks_run": self.checks_run,
            "syntax_skipped": self.syntax_skipped,
            "problems": [p.to_dict() for p in self.problems],
        }

    def summary(self) -> str:
        if self.ok:
            return f"validation passed ({', '.join(self.checks_run)})"
        return "validation failed:\n" + "\n".join(
            f"  [{p.check}] {p.message}" for p in self.problems
        )


_MODES = ("100644", "100755")
_MODE_LINE = re.compile(r"(?m)^(new file mode|new mode|deleted file mode|old mode) (\d+)\s*$")
_INDEX_MODE = re.compile(r"(?m)^index [0-9a-f]+\.\.[0-9a-f]+ (\d+)\s*$")


def _strip(path: str | None, prefix: str) -> str | None:
    """unidiff's name for one side: git's C quoting undone, the a/ or b/ prefix dropped."""
    if path is None:
        return None
    path = unquote_path(path.split("\t")[0] if not path.startswith('"') else path)
    if path == "/dev/null":
        return None
    return path[2:] if path.startswith(prefix) else path


def _parse(diff: str, report: GateReport) -> list[tuple[str | None, str | None]]:
    from unidiff import PatchSet
    from unidiff.errors import UnidiffParseError

    try:
        patch = PatchSet(diff)
    except UnidiffParseError as exc:
        report.problems.append(Problem("parse", f"unidiff cannot parse the diff: {exc}"))
        return []
    if not diff.strip() or not len(patch):
        report.problems.append(Problem("parse", "the diff is empty"))
        return []
    for m in [*_MODE_LINE.finditer(diff), *_INDEX_MODE.finditer(diff)]:
        mode = m.group(m.lastindex or 1)
        if mode not in _MODES:
            kind = {"120000": "a symbolic link", "160000": "a submodule"}.get(mode, "not a file")
            report.problems.append(
                Problem("parse", f"the diff sets file mode {mode} ({kind}); only regular files")
            )
    if report.problems:
        return []
    try:
        ours = parse_patch(diff)
    except PatchError:
        ours = []
    # An empty file created or deleted has no hunks, legitimately.
    empty_ok = {
        _strip(
            fp.new_path if fp.old_path is None else fp.old_path,
            "b/" if fp.old_path is None else "a/",
        )
        for fp in ours
        if not fp.hunks and (fp.old_path is None or fp.new_path is None)
    }
    pairs = []
    for pf in patch:
        src, tgt = _strip(pf.source_file, "a/"), _strip(pf.target_file, "b/")
        name = tgt or src or pf.path
        if not len(pf) and name not in empty_ok:
            report.problems.append(Problem("parse", f"{name}: no hunks", name))
        pairs.append((src, tgt))
    return pairs


def run_gate(
    root: Path, base_commit: str, diff: str, policy: PathPolicy, *, worktree: Path | None = None
) -> GateReport:
    """Validate ``diff`` against ``base_commit`` of the repository at ``root``.

    ``worktree``, when given, must be a clean checkout of ``base_commit`` (the pipeline
    passes the one it already has); otherwise a temporary one is made. The gate never
    modifies it: after ``git apply --check`` accepts the diff, the changed files' new texts
    are computed in memory for the syntax check.

    Never raises for a bad diff (that is what the report is for); RepoError for a bad
    repository or commit."""
    sha = resolve_commit(root, base_commit)
    report = GateReport(sha)
    pairs = _parse(diff, report)
    report.checks_run.append("parse")
    if report.problems:
        return report
    if worktree is not None:
        _check_in(worktree, diff, pairs, policy, report)
    else:
        with temp_worktree(root, sha) as wt:
            _check_in(wt, diff, pairs, policy, report)
    return report


def _check_in(
    wt: Path,
    diff: str,
    pairs: list[tuple[str | None, str | None]],
    policy: PathPolicy,
    report: GateReport,
) -> None:
    paths: list[str] = []
    for src, tgt in pairs:
        for p in dict.fromkeys(x for x in (src, tgt) if x is not None):
            try:
                paths.append(check_path(wt, p, policy))
            except PathPolicyError as exc:
                report.problems.append(Problem("path", exc.message, p))
    report.files = sorted(dict.fromkeys(paths))
    report.checks_run.append("path")
    if report.problems:
        return
    # git applies the diff to a throwaway index of the base: the resulting tree is what
    # checks run on and delivery commits (the checkout itself is never modified)
    tree, err = tree_with_diff(wt, report.base_commit, diff)
    report.checks_run.append("git-apply")
    if tree is None:
        report.problems.append(Problem("apply", f"git apply refused the diff: {err}"))
        return
    # Defence in depth: the paths git actually changed (quoted names decoded, both sides of
    # a rename) pass the policy too, not only the ones we parsed.
    for p in changed_paths(wt, report.base_commit, tree):
        if p not in report.files:
            try:
                check_path(wt, p, policy)
            except PathPolicyError as exc:
                report.problems.append(Problem("path", exc.message, p))
    if report.problems:
        return
    report.tree = tree
    before = {p: text for p in report.files if (text := _read(wt / p)) is not None}
    try:
        after = apply_patch(before, diff, known_paths=report.files).after
    except PatchError as exc:  # git accepted it, so this would be our bug: report, never hide
        report.problems.append(Problem("apply", f"the patch engine cannot replay the diff: {exc}"))
        return
    report.checks_run.append("syntax")
    for p in report.files:
        new = after.get(p, before.get(p))
        if new is None:
            continue
        if not has_syntax_check(p):
            report.syntax_skipped.append(p)
            continue
        for msg in new_syntax_problems(p, before.get(p), new):
            report.problems.append(Problem("syntax", f"new syntax error: {msg}", p))


def _read(path: Path) -> str | None:
    try:
        return path.read_bytes().decode("utf-8", "replace") if path.is_file() else None
    except OSError:
        return None


__all__ = ["GateReport", "Problem", "run_gate"]
