"""`tinygen run`: a change request in, a validated canonical diff out."""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from tinygen.commands import _delivery
from tinygen.commands._delivery import delivery_options, pop_options
from tinygen.commands._json import run_json
from tinygen.commands._progress import ProgressPrinter
from tinygen.errors import InputError, TinygenError
from tinygen.inputs import MAX_REQUEST_BYTES, read_file, read_stream
from tinygen.models import Request, RunResult
from tinygen.repo.clone import open_repository
from tinygen.repo.files import uncommitted
from tinygen.runs import new_run_id

if TYPE_CHECKING:
    pass

MAX_REQUEST_CHARS = 100_000
CHECK_LINES_SHOWN = 20  # of a failed check's output, on stderr


def read_request(value: str) -> str:
    """REQUEST is text, ``@file`` to read it from a file, or ``-`` for stdin (read up to
    MAX_REQUEST_BYTES: an endless stream is refused, not read whole)."""
    if value == "-" or value.startswith("@"):
        where = "standard input" if value == "-" else value[1:]
        what = f"the request from {where}"
        try:
            if value == "-":
                data = read_stream(sys.stdin.buffer, MAX_REQUEST_BYTES, what)
            else:
                data = read_file(Path(value[1:]), MAX_REQUEST_BYTES, what)
        except OSError as exc:
            raise click.BadParameter(
                f"cannot read the request file {where}: {exc.strerror} (check the path after @)",
                param_hint="REQUEST",
            ) from exc
        except InputError as exc:
            raise click.BadParameter(
                f"{exc.message}; shorten it, the model reads the repository itself",
                param_hint="REQUEST",
            ) from exc
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise click.BadParameter(f"{what} is not UTF-8 text", param_hint="REQUEST") from exc
    else:
        text, where = value, "the argument"
    if not text.strip():
        raise click.BadParameter(
            f"the request from {where} is empty: say what to change", param_hint="REQUEST"
        )
    if len(text) > MAX_REQUEST_CHARS:
        raise click.BadParameter(
            f"the request from {where} has {len(text)} characters (at most "
            f"{MAX_REQUEST_CHARS}); shorten it, the model reads the repository itself",
            param_hint="REQUEST",
        )
    return text


@click.command("run")
@click.argument("request")
@click.option(
    "--repo",
    "repo",
    default=".",
    show_default=True,
    help="Checkout path, bare repository or URL (https, ssh, file://) to change.",
)
@click.option(
    "--ref",
    default=None,
    help="Base branch, tag or commit (default: HEAD, or the remote's default branch).",
)
@click.option(
    "--model",
    envvar="TINYGEN_MODEL",
    default=None,
    help="Model: a bare name is Anthropic's; openai:, openrouter: or ollama:NAME for others "
    "(default: newest Sonnet).",
)
@click.option(
    "--budget",
    type=click.IntRange(min=100),
    default=None,
    help="Reference-sheet token budget [default: 8000].",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Concurrent per-file calls (default 4).",
)
@click.option(
    "--max-rounds", type=click.IntRange(min=0), default=None, help="Verify rounds (default 2)."
)
@click.option(
    "--check", "checks", multiple=True, help="Command to run on the changed tree (repeatable)."
)
@click.option(
    "--vote",
    type=click.IntRange(min=0),
    default=None,
    metavar="K",
    help="Sample each file's edit (and the review) until one outcome leads by K votes "
    "(default 0: off; at most `max-samples`, 8, samples each).",
)
@click.option(
    "--max-cost",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="USD",
    help="Hard cost limit in US dollars: no call that could pass it is made; the run stops "
    "with its best valid diff (exit 11).",
)
@click.option(
    "--estimate",
    is_flag=True,
    help="Print the projected calls, tokens and cost of each pass and exit; no model call.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the diff here.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the diff.")
@click.option("--quiet", "-q", is_flag=True, help="No progress on stderr.")
@delivery_options()
def command(
    request: str,
    repo: str,
    ref: str | None,
    model: str | None,
    budget: int | None,
    jobs: int | None,
    max_rounds: int | None,
    checks: tuple[str, ...],
    vote: int | None,
    max_cost: float | None,
    estimate: bool,
    out: Path | None,
    as_json: bool,
    quiet: bool,
    **delivery: Any,
) -> None:
    """Turn REQUEST into a validated diff, printed on stdout.

    REQUEST is the text of the change, @FILE to read it from a file, or - for stdin.
    --repo takes a checkout path, a bare repository, or a URL (cloned into the user cache
    and reused). Nothing in your checkout changes: the work happens in a temporary worktree.
    Delivery (--apply, --branch, --push, --pr, --to-pr): see README "Delivery".
    """
    # Here, not at the top: the pipeline's modules would add ~55 ms to `run --help`.
    from tinygen import pipeline

    opts = pop_options(delivery)
    # The SDK import takes over a second; it overlaps the repository work below.
    threading.Thread(
        target=pipeline.warm_up, args=(model,), name="tinygen-warm-up", daemon=True
    ).start()
    text = read_request(request)
    check_out_path(out)  # before any paid call, not after
    overrides = {
        "model": model,
        "budget": budget,
        "jobs": jobs,
        "max_rounds": max_rounds,
        "checks": checks,
        "vote": vote,
        "max_cost": max_cost,
    }
    if estimate:  # no provider (and no key) needed: nothing is sent to a model
        # Here, not at the top: it loads the pipeline, which `run --help` does not need.
        from tinygen.commands._estimate import print_estimate

        try:
            print_estimate(Request(text), repo, ref, overrides, as_json=as_json)
        except TinygenError as exc:  # an early error: the same --json shape
            if as_json:
                click.echo(json.dumps(run_json(None, exc, None), indent=2))
            raise
        return
    try:
        opened = open_repository(repo, ref=ref)
        prepared = _delivery.prepare_for(opts, opened, explicit_ref=ref is not None)
        workspace = pipeline.open_workspace(opened, overrides=overrides)
    except TinygenError as exc:  # before any model call: the same --json shape
        if as_json:
            click.echo(json.dumps(run_json(None, exc, None), indent=2))
        raise
    progress = ProgressPrinter(quiet=quiet or as_json)
    try:
        outcome = pipeline.run_and_deliver(
            Request(text), workspace, prepared, progress=progress, run_id=new_run_id()
        )
    finally:
        progress.done()
    extra = _delivery.report(prepared, outcome.delivered, outcome.delivery_error)
    if outcome.fixes:
        extra["delivery"]["fixes"] = _delivery.report_fixes(prepared, outcome.fixes)
    if outcome.error is not None:
        if as_json:
            data = run_json(outcome.error.partial, outcome.error, extra, run_id=outcome.run_id)
            click.echo(json.dumps(data, indent=2))
        raise outcome.error
    result = outcome.result
    assert result is not None
    if not opened.is_clone:
        warn_if_dirty(opened.root, result)
    # the result is printed in any case
    emit(result, out=out, as_json=as_json, extra=extra, exit_code=outcome.exit_code)
    if outcome.delivery_error is not None:
        raise outcome.delivery_error
    sys.exit(outcome.exit_code)


def check_out_path(out: Path | None) -> None:
    if out is None:
        return
    folder = out.parent if str(out.parent) else Path(".")
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        raise click.BadParameter(f"{folder} is not a writable folder", param_hint="--out")


def warn_if_dirty(root: Path, result: RunResult) -> None:
    """The diff is made against the base commit: say so when the user's copies of its files
    have uncommitted changes (`git apply` of the diff may not fit them)."""
    from tinygen.pipeline import diff_paths  # here, as in `command`: not for `run --help`

    dirty = uncommitted(root, diff_paths(result.diff)) if result.diff else []
    if dirty:
        click.echo(
            "tinygen: warning: uncommitted changes in "
            + ", ".join(dirty)
            + "; the diff is made against the base commit and may not apply to them",
            err=True,
        )


def emit(
    result: RunResult,
    *,
    out: Path | None,
    as_json: bool,
    extra: dict[str, Any] | None = None,
    exit_code: int | None = None,
) -> None:
    """Print the result: diff (or JSON, with ``extra`` keys) on stdout or to --out, a summary
    on stderr."""
    if out is not None:
        out.write_text(result.diff, encoding="utf-8")  # also empties a stale file
    if as_json:
        click.echo(json.dumps(run_json(result, None, extra, exit_code=exit_code), indent=2))
    elif out is None and result.diff:
        click.echo(result.diff, nl=False, color=True)  # data: exact (see _terminal)
    for check in result.failed_checks:
        state = "timed out" if check.timed_out else f"exit {check.exit_code}"
        click.echo(f"tinygen: check `{check.command}`: {state} ({check.seconds:.1f} s)", err=True)
        for line in check.output_tail.splitlines()[-CHECK_LINES_SHOWN:]:
            click.echo(f"  | {line}", err=True)
    if result.low_agreement:
        click.echo(
            "tinygen: low agreement: a vote ended without a lead and no check could choose; "
            "the most frequent outcome was taken (`tinygen runs show` has the votes)",
            err=True,
        )
    click.echo(
        f"tinygen: {result.status}: {result.message}\n"
        f"tinygen: run {result.run_id} ({spend_line(result)})"
        + (f"; diff written to {out}" if out is not None else ""),
        err=True,
    )


def spend_line(result: RunResult) -> str:
    """ "1 LLM call(s) and 7 summary call(s), $0.0084 (summaries $0.0022); limit $1.0000"."""
    made = result.summaries
    text = f"{result.calls} LLM call(s)"
    if made is not None and made.calls:
        text += f" and {made.calls} summary call(s)"
    if result.cost_usd is not None:
        text += f", ${result.cost_usd:.4f}"
        if made is not None and made.calls:
            text += f" (summaries ${result.summaries_cost:.4f})"
    elif made is not None and made.calls:
        text += ", cost unknown"
    if result.estimate is not None and result.estimate.cost_usd is not None:
        text += f"; estimated ${result.estimate.cost_usd:.4f}"
    if result.max_cost is not None:
        text += f"; limit ${result.max_cost:.4f}"
    return text
