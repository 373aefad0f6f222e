"""`tinygen apply [PATCH|-]`: place a loose diff's hunks exactly and write the files.

Reads the diff from a file or stdin; all changed files are written, or none. Files with
uncommitted changes are refused unless --force. --dry-run prints the canonical diff and
writes nothing; --check CMD runs a command in a temporary worktree of HEAD with the
changed files written into it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from tinygen.commands._delivery import deliver_patch, delivery_options, pop_options
from tinygen.errors import ExitCode, PatchApplyError, PatchParseError, RepoError, TinygenError
from tinygen.inputs import MAX_PATCH_BYTES, read_file, read_stream


def _read_patch(source: str) -> str:
    """The diff in ``source`` (a path, or ``-`` for stdin), read up to its size cap."""
    if source == "-" and sys.stdin.isatty():
        click.echo("reading the diff from stdin (Ctrl-D to end)…", err=True)
    what = "the diff on standard input" if source == "-" else f"the diff in {source}"
    hint = "split the change into several diffs"
    try:
        if source == "-":
            data = read_stream(sys.stdin.buffer, MAX_PATCH_BYTES, what, hint)
        else:
            data = read_file(Path(source), MAX_PATCH_BYTES, what, hint)
    except OSError as exc:
        raise click.UsageError(f"cannot read {source}: {exc.strerror}") from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PatchParseError(f"the diff in {source} is not UTF-8 text") from exc


@click.command("apply")
@click.argument("patch", default="-", metavar="[PATCH|-]")
@click.option("--repo", default=".", show_default=True, help="Repository to change.")
@click.option("--dry-run", is_flag=True, help="Write nothing; print the canonical diff.")
@click.option(
    "--check",
    "checks",
    multiple=True,
    metavar="CMD",
    help="Run CMD in a temporary worktree with the change applied (repeatable).",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON report on stdout.")
@click.option(
    "--force",
    is_flag=True,
    help="Also change files that have uncommitted changes, or gain syntax errors (warned).",
)
@delivery_options(with_apply=False)
def command(
    patch: str,
    repo: str,
    dry_run: bool,
    checks: tuple[str, ...],
    as_json: bool,
    force: bool,
    **delivery: Any,
) -> None:
    """Apply a loose diff (from PATCH or stdin): every hunk exactly, or nothing.

    With --branch, --push, --pr or --to-pr the change is committed instead (on HEAD, or on
    the pull request's head) and the working tree is left alone.

    A change that adds syntax errors to a file (the check `tinygen run` makes) is refused
    unless --force, which writes it with a warning.

    Exit codes: 0 applied (or would be), 2 PATCH cannot be read, 5 a hunk could not be
    placed, a path is not allowed or the result adds syntax errors, 8 repository problem (e.g. uncommitted changes, or a
    file changed while tinygen worked), 10 a --check failed.
    """
    opts = pop_options(delivery)
    if opts.commits:
        if dry_run or checks or force:
            raise click.UsageError("--dry-run, --check and --force do not go with delivery")
        out, error = deliver_patch(_read_patch(patch), patch, repo, opts)
        if as_json:
            click.echo(json.dumps(out, indent=2))
        if error is not None:
            raise error
        if out["status"] == "invalid":  # delivered (work is never lost), but not valid
            sys.exit(int(ExitCode.PATCH))
        return
    # Every key is always present (null or empty when it does not apply), so scripts can rely
    # on the shape whether the patch applied or not.
    report: dict[str, Any] = {
        "ok": False,
        "dry_run": dry_run,
        "written": False,
        "files": [],
        "hunks": [],
        "diff": "",
        "checks": [],
        "error": None,
        "hint": None,
        "feedback": None,
        "failures": [],
        "syntax_problems": [],
    }
    try:
        code = _run(patch, repo, dry_run, checks, as_json, force, report)
    except TinygenError as exc:
        report["error"] = exc.message
        report["hint"] = exc.hint
        if isinstance(exc, PatchApplyError):
            report["feedback"] = exc.feedback
            report["failures"] = [f.to_dict() for f in exc.failures]
            if not as_json:
                click.echo(exc.feedback, err=True)
        if as_json:
            click.echo(json.dumps(report, indent=2))
        raise
    if as_json:
        click.echo(json.dumps(report, indent=2))
    if code:
        sys.exit(int(code))


def _run(
    patch: str,
    repo: str,
    dry_run: bool,
    checks: tuple[str, ...],
    as_json: bool,
    force: bool,
    report: dict[str, Any],
) -> ExitCode:
    from tinygen.config import load_settings
    from tinygen.repo.apply import apply_diff, place_diff
    from tinygen.repo.files import write_files_atomically
    from tinygen.repo.git import head_commit, repo_root, temp_worktree
    from tinygen.validate import PathPolicy, run_checks

    root = repo_root(repo)
    settings = load_settings(root)
    policy = PathPolicy(settings.protected_paths, settings.allowed_paths)
    text = _read_patch(patch)
    placed = place_diff(root, text, policy=policy)
    report.update(placed.to_dict())
    report["diff"] = placed.diff
    if placed.uncommitted and not force:
        if not dry_run:
            raise RepoError(
                f"uncommitted changes in {', '.join(placed.uncommitted)}; nothing was changed",
                hint="commit or stash them first, or pass --force to patch them as they are",
            )
        click.echo(
            f"warning: uncommitted changes in {', '.join(placed.uncommitted)}: "
            "applying would need --force",
            err=True,
        )
        report["uncommitted"] = placed.uncommitted
    refusal = placed.syntax_error()
    if refusal is not None:
        if not (force or dry_run):
            raise refusal
        for path, problem in placed.syntax:
            click.echo(f"warning: {path}: the change adds a syntax error: {problem}", err=True)
        if dry_run and not force:
            click.echo("warning: applying would need --force (syntax errors)", err=True)
    code = ExitCode.OK
    if checks:
        head = head_commit(root)
        if head is None:
            raise RepoError("--check needs a commit to start from", hint="commit once first")
        with temp_worktree(root, head) as wt:
            write_files_atomically(wt, placed.after)
            results = run_checks(
                wt,
                checks,
                settings.check_timeout,
                settings.check_memory_mb,
                pass_env=settings.check_env,
            )
        report["checks"] = [r.to_dict() for r in results]
        for r in results:
            status = "ok" if r.ok else ("timed out" if r.timed_out else f"exit {r.exit_code}")
            click.echo(f"check: {r.command}: {status} ({r.seconds:.1f} s)", err=True)
            if not r.ok:
                click.echo(r.output_tail.rstrip("\n"), err=True)
        if not all(r.ok for r in results):
            code = ExitCode.CHECKS_FAILED
    if dry_run:
        if not as_json:
            click.echo(placed.diff, nl=False, color=True)  # data: exact (see _terminal)
    elif placed.after:
        # Placed again and written only if every file still holds what was reported (and
        # checked) above.
        apply_diff(root, text, force=force, expected=placed.before, policy=policy)
        report["written"] = True
    for h in placed.report:
        where = f" at line {h.line}" if h.line else ""
        notes = [h.strategy] if h.strategy != "-" else []
        notes += ["by line number"] if h.via_hint else []
        notes += ["line-number prefixes removed"] if h.numbers_removed else []
        how = f" ({', '.join(notes)})" if notes else ""
        click.echo(f"{h.path}: hunk {h.hunk} {h.outcome}{where}{how}", err=True)
    if not placed.after:
        click.echo("nothing to change: every hunk is already present", err=True)
    report["ok"] = code == ExitCode.OK
    return code
