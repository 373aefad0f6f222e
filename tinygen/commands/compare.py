"""`tinygen compare`: one request, several models, a table of what each one did."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from tinygen.compare import Comparison


@click.command("compare")
@click.argument("request")
@click.option(
    "--model",
    "models",
    multiple=True,
    required=True,
    help="PROVIDER:MODEL to run (repeat for each model).",
)
@click.option(
    "--repo",
    default=".",
    show_default=True,
    help="A checkout path, a bare repository, or a URL (cloned into the user cache).",
)
@click.option("--ref", default=None, help="Base commit, branch or tag [default: HEAD].")
@click.option(
    "--check",
    "checks",
    multiple=True,
    help="Command run on each model's changed tree (repeatable; replaces configured checks).",
)
@click.option("--budget", type=click.IntRange(min=1), default=None, help="Reference-sheet tokens.")
@click.option(
    "--max-rounds", type=click.IntRange(min=0), default=None, help="Verify rounds per model."
)
@click.option(
    "--parallel",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="Models run at once.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as one JSON object.")
def command(
    request: str,
    models: tuple[str, ...],
    repo: str,
    ref: str | None,
    checks: tuple[str, ...],
    budget: int | None,
    max_rounds: int | None,
    parallel: int,
    as_json: bool,
) -> None:
    """Run REQUEST with every --model on the same base commit and reference sheet, each in
    its own worktree, and rank what they did by status, then cost.

    REQUEST is the text of the change, @FILE, or - for stdin. Nothing in your checkout
    changes. Each model's diff and a metrics.yaml (status, seconds, calls, tokens, cost,
    files changed, checks, correction rounds, structured-output mode) are written to
    .git/tinygen/comparisons/<id>/. One model failing does not stop the others.

    \b
    Exit code: the best-ranked model's, as `tinygen run` gives it
    (0: its change was approved or validated).
    """
    # Here, not at the top: the run's modules (pipeline, delivery, providers) would add
    # ~300 ms to `compare --help`.
    from tinygen.commands.run import read_request
    from tinygen.compare import compare_models
    from tinygen.models import Request
    from tinygen.repo.clone import open_repository

    text = read_request(request)
    opened = open_repository(repo, ref=ref)
    overrides = {"checks": checks, "budget": budget, "max_rounds": max_rounds}

    def progress(model: str, message: str) -> None:
        if not as_json:
            click.echo(f"tinygen: {model}: {message}", err=True)

    comparison = compare_models(
        Request(text),
        opened,
        list(dict.fromkeys(models)),
        overrides=overrides,
        parallel=parallel,
        progress=progress,
    )
    if as_json:
        click.echo(json.dumps(comparison.to_dict(), indent=2))
    else:
        click.echo(table(comparison))
        click.echo(f"\nwritten to {comparison.folder}", err=True)
    sys.exit(comparison.results[0].exit_code)


def table(comparison: Comparison) -> str:
    """The ranked table: one line per model."""
    header = (
        f"{'#':>2}  {'model':<34} {'status':<13} {'seconds':>7} {'calls':>5} "
        f"{'in/out/cached tokens':>22} {'cost':>9} {'files':>5} {'checks':>6} "
        f"{'fixes':>5}  mode"
    )
    lines = [header]
    for rank, result in enumerate(comparison.results, 1):
        m = result.metrics()
        tokens = f"{m['input_tokens']}/{m['output_tokens']}/{m['cached_tokens']}"
        cost = f"${m['cost_usd']:.4f}" if m["cost_usd"] is not None else "unknown"
        checks = f"{m['checks_passed']}/{m['checks_passed'] + m['checks_failed']}"
        lines.append(
            f"{rank:>2}  {result.model[:34]:<34} {m['status']:<13} {m['seconds']:>7.1f} "
            f"{m['calls']:>5} {tokens:>22} {cost:>9} {m['files_changed']:>5} {checks:>6} "
            f"{m['correction_rounds']:>5}  {m['structured_mode'] or '-'}"
        )
        if result.error:
            lines.append(f"    {result.error.splitlines()[0][:150]}")
    return "\n".join(lines)
