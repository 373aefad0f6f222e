"""`tinygen summarize`: make the repository's hierarchical summaries (files, folders, an
overview), paying only for what changed; `--estimate` first, `--out` a Markdown guide."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from tinygen.commands._progress import ProgressPrinter
from tinygen.config import load_settings
from tinygen.errors import ExitCode, InputError, TinygenError
from tinygen.repo.atomic import replace_file
from tinygen.repo.git import repo_root
from tinygen.summarize.guide import render_guide
from tinygen.summarize.job import Summarized, plan_summaries, summarize
from tinygen.summarize.plan import Estimate
from tinygen.summarize.progress import every_tenth

BAR_WIDTH = 24


def _dollars(value: float | None) -> str:
    return "unknown (no price for the model)" if value is None else f"${value:.4f}"


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def render_estimate(est: Estimate, max_cost: float | None) -> str:
    made = est.to_make
    lines = [
        f"summaries with {est.model} (no model call was made):",
        f"  {est.total:,} needed: {est.cached:,} cached, {est.calls:,} to make "
        f"({_count(made['file'], 'file')}, {_count(made['folder'], 'folder')}, "
        f"{made['overview']} overview)",
        f"  about {est.usage.input_tokens:,} input and {est.usage.output_tokens:,} output "
        f"tokens, {_dollars(est.cost_usd)}",
    ]
    if max_cost is not None:
        lines.append(f"  limit {_dollars(max_cost)}: no call that could pass it is made")
    return "\n".join(lines)


class _Bar:
    """A progress bar on a terminal; a plain line every tenth otherwise."""

    def __init__(self, printer: ProgressPrinter) -> None:
        self.printer = printer
        self.lines = every_tenth(lambda text: printer("summaries", text))

    def __call__(self, done: int, total: int, dollars: float) -> None:
        if not self.printer.live:
            self.lines(done, total, dollars)
            return
        filled = round((done / total if total else 1.0) * BAR_WIDTH)
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        self.printer("summaries", f"[{bar}] {done:,}/{total:,} ${dollars:.4f}")


def _check_out(out: Path) -> None:
    """Refuse a guide path that cannot be written, before anything is paid."""
    folder = out.resolve().parent
    if out.is_dir():
        problem = f"{out} is a folder"
    elif not folder.is_dir():
        problem = f"the folder {folder} does not exist"
    elif not os.access(folder, os.W_OK):
        problem = f"the folder {folder} is not writable"
    else:
        return
    raise InputError(f"cannot write the guide to {out}: {problem}", hint="give another --out")


def _write_guide(found: Summarized, out: Path) -> None:
    text = render_guide(found.plan, found.records(), found.plan.name, found.shas[""])
    try:
        replace_file(out.resolve(), text.encode("utf-8"))
    except OSError as exc:
        raise InputError(
            f"cannot write the guide to {out}: {exc.strerror or exc}",
            hint="give another --out (the summaries are kept: writing the guide again "
            "costs nothing)",
        ) from exc


@click.command("summarize")
@click.argument("path", required=False, default=".", type=click.Path(path_type=Path))
@click.option("--model", default=None, help="Model that writes them (default: summary-model).")
@click.option(
    "--estimate", "only_estimate", is_flag=True, help="Say what it would cost; call no model."
)
@click.option("--max-cost", type=float, default=None, help="US dollars: stop before passing it.")
@click.option(
    "--jobs", "-j", type=click.IntRange(min=1), default=None, help="Concurrent model calls."
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write the guide as Markdown here.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
@click.option("--quiet", "-q", is_flag=True, help="No progress on stderr.")
def command(
    path: Path,
    model: str | None,
    only_estimate: bool,
    max_cost: float | None,
    jobs: int | None,
    out: Path | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Summarize the repository at PATH (default: here): each source file, each folder,
    then an overview, cached by content in .git/tinygen so that a later run pays only
    for what changed."""
    root = repo_root(path)
    if out is not None:
        _check_out(out)
    settings = load_settings(root, {"summary_model": model, "jobs": jobs, "max_cost": max_cost})
    found = plan_summaries(root, settings)
    if only_estimate:
        if out is not None:  # what is cached, at no cost
            _write_guide(found, out)
        if as_json:
            payload: dict[str, Any] = {"estimate": found.estimate.to_dict()}
            if out is not None:
                payload["guide"] = str(out)
            click.echo(json.dumps(payload, indent=2))
        else:
            click.echo(render_estimate(found.estimate, settings.max_cost))
            if out is not None:
                click.echo(
                    f"guide of the {len(found.plan.cached):,} cached summaries written to {out}"
                )
        return
    printer = ProgressPrinter(quiet=quiet or as_json)
    try:
        summarize(found, settings, progress=_Bar(printer))
    except KeyboardInterrupt:
        printer.done()
        click.echo("tinygen: interrupted; the summaries made so far are kept", err=True)
        raise click.exceptions.Exit(int(ExitCode.INTERRUPTED)) from None
    finally:
        printer.done()
    report = found.report
    assert report is not None
    if out is not None:
        _write_guide(found, out)
    if as_json:
        payload = {"estimate": found.estimate.to_dict(), "report": report.to_dict()}
        if out is not None:
            payload["guide"] = str(out)
        click.echo(json.dumps(payload, indent=2))
    else:
        click.echo(report.line())
        for failure in report.failures[:5]:
            click.echo(f"  {failure.path or '(overview)'}: {failure.error}", err=True)
        if out is not None:
            click.echo(f"guide written to {out}")
    problem: TinygenError | None = (
        report.stopped or report.halted or (report.failures[0].error if report.failures else None)
    )
    if problem is not None:
        # what was made is kept: the next run makes only what is left
        raise problem
