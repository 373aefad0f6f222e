"""`tinygen apply [PATCH|-]`: place a loose diff's hunks exactly and write the files.

Reads the diff from a file or stdin; all changed files are written, or none
(:func:`tinygen.delivery.checkout.apply_to_checkout`: placing, the gate's tree for --check,
the refusals); with delivery options it is committed instead
(:func:`tinygen.delivery.patchfile.deliver_patch_file`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from tinygen.commands._delivery import (
    app_for,
    check_lines,
    delivery_options,
    pop_options,
    report_patch,
)
from tinygen.delivery.checkout import CheckoutPatch, apply_to_checkout
from tinygen.delivery.patchfile import deliver_patch_file
from tinygen.errors import ExitCode, PatchApplyError, PatchParseError, TinygenError
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
        if dry_run or force:
            raise click.UsageError("--dry-run and --force do not go with delivery")
        text = _read_patch(patch)
        delivered = deliver_patch_file(text, patch, repo, opts, checks, app=app_for(opts))
        info = report_patch(delivered)
        if as_json:
            click.echo(json.dumps(info, indent=2))
        if delivered.error is not None:
            raise delivered.error
        if delivered.exit_code:
            # delivered (work is never lost), but invalid (5) or with a failed check (10)
            sys.exit(int(delivered.exit_code))
        return
    try:
        text = _read_patch(patch)
    except TinygenError as exc:  # over its cap, not UTF-8: reported as any other refusal
        out = CheckoutPatch(error=exc)
    else:
        out = apply_to_checkout(repo, text, force=force, dry_run=dry_run, checks=checks)
    report = _report(out, dry_run=dry_run, as_json=as_json, force=force)
    if as_json:
        click.echo(json.dumps(report, indent=2))
    if out.error is not None:
        raise out.error
    if not out.checks_ok:
        sys.exit(int(ExitCode.CHECKS_FAILED))


def _report(out: CheckoutPatch, *, dry_run: bool, as_json: bool, force: bool) -> dict[str, Any]:
    """Say on stderr what was placed, checked and written; return the --json report. Every
    key is always present (null or empty when it does not apply), so scripts can rely on
    the shape whether the patch applied or not."""
    placed, error = out.placed, out.error
    report: dict[str, Any] = {
        "ok": error is None and out.checks_ok,
        "dry_run": dry_run,
        "written": out.written,
        "files": [],
        "hunks": [],
        "diff": "",
        "checks": [r.to_dict() for r in out.checks],
        "error": error.message if error is not None else None,
        "hint": error.hint if error is not None else None,
        "feedback": None,
        "failures": [],
        "syntax_problems": [],
    }
    if isinstance(error, PatchApplyError):
        report["feedback"] = error.feedback
        report["failures"] = [f.to_dict() for f in error.failures]
        if not as_json:
            click.echo(error.feedback, err=True)
    if placed is None:
        return report
    report |= placed.to_dict()
    report["diff"] = placed.diff
    if placed.uncommitted and dry_run and not force:
        click.echo(
            f"warning: uncommitted changes in {', '.join(placed.uncommitted)}: "
            "applying would need --force",
            err=True,
        )
        report["uncommitted"] = placed.uncommitted
    if placed.syntax and (force or dry_run):
        for path, problem in placed.syntax:
            click.echo(f"warning: {path}: the change adds a syntax error: {problem}", err=True)
        if dry_run and not force:
            click.echo("warning: applying would need --force (syntax errors)", err=True)
    for line in check_lines(out.checks):
        click.echo(line, err=True)
    if error is not None:
        return report
    if dry_run and not as_json:
        click.echo(placed.diff, nl=False, color=True)  # data: exact (see _terminal)
    for h in placed.report:
        where = f" at line {h.line}" if h.line else ""
        notes = [h.strategy] if h.strategy != "-" else []
        notes += ["by line number"] if h.via_hint else []
        notes += ["line-number prefixes removed"] if h.numbers_removed else []
        how = f" ({', '.join(notes)})" if notes else ""
        click.echo(f"{h.path}: hunk {h.hunk} {h.outcome}{where}{how}", err=True)
    if not placed.after:
        click.echo("nothing to change: every hunk is already present", err=True)
    return report
