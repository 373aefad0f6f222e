"""`tinygen map`: print the reference sheet of a repository."""

from __future__ import annotations

import warnings
from pathlib import Path

import click

from tinygen.config import load_settings


@click.command("map")
@click.argument("path", required=False, default=".", type=click.Path(path_type=Path))
@click.option("--query", "-Q", default="", help="Request text: the files it names rank first.")
# -q was --query here but is --quiet in `tinygen run`: kept working, hidden, with a warning
@click.option("-q", "old_query", default=None, hidden=True, help="Deprecated: -Q/--query.")
@click.option(
    "--budget", type=click.IntRange(min=1), default=None, help="Token budget (default: everything)."
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
@click.option(
    "--stats",
    "show_stats",
    is_flag=True,
    help="Files seen/parsed/skipped, cache hits, seconds on stderr.",
)
@click.option(
    "--include-untracked",
    is_flag=True,
    default=None,
    help="Also read untracked, non-ignored files.",
)
@click.option(
    "--max-file-bytes",
    type=click.IntRange(min=1),
    default=None,
    help="Skip larger files (default 1000000).",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes for a cold build.",
)
@click.option(
    "--summaries",
    "with_summaries",
    is_flag=True,
    help="Show the cached summaries (made by `tinygen summarize`) and rank with them.",
)
def command(
    path: Path,
    query: str,
    old_query: str | None,
    budget: int | None,
    as_json: bool,
    show_stats: bool,
    include_untracked: bool | None,
    max_file_bytes: int | None,
    jobs: int | None,
    with_summaries: bool,
) -> None:
    """Print the reference sheet of the git repository at PATH (default: here)."""
    if old_query is not None:
        if query:
            raise click.UsageError("give the query once, as -Q or --query")
        click.echo(
            "tinygen: warning: -q for the query is deprecated (-q is --quiet in other "
            "commands); use -Q or --query",
            err=True,
        )
        query = old_query
    # Here, not at the top: they would add ~70 ms (sheet, git helpers) to `map --help`.
    from tinygen.repo.git import repo_root
    from tinygen.sheet import build_sheet, render_sheet
    from tinygen.sheet.cache import SheetCacheWarning
    from tinygen.sheet.render import layout, min_budget
    from tinygen.sheet.summaries import SummaryStoreWarning

    root = repo_root(path)
    settings = load_settings(
        root, {"include_untracked": include_untracked, "max_file_bytes": max_file_bytes}
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SheetCacheWarning)
        warnings.simplefilter("always", SummaryStoreWarning)
        sheet = build_sheet(
            root,
            query=query,
            max_file_bytes=settings.max_file_bytes,
            include_untracked=settings.include_untracked,
            jobs=jobs,
            ranking=bool(query.strip()) or budget is not None,
            summaries=with_summaries,
        )
    for w in caught:
        click.echo(f"tinygen: warning: {w.message}", err=True)
    if budget is not None and budget < min_budget(sheet):
        raise click.UsageError(
            f"--budget {budget} is too small to show anything: this repository's sheet "
            f"needs at least {min_budget(sheet)} tokens (its header line)"
        )
    if as_json:
        if budget is None:
            click.echo(sheet.to_json())
        else:
            # The files the budget shows, in rank order, each with its level of detail.
            lay = layout(sheet, budget)
            shown, folders = (lay.shown(), lay.folders) if lay is not None else ([], [])
            click.echo(sheet.to_json(shown=shown, folders=folders))
    else:
        text = render_sheet(sheet, budget)
        click.echo(text, nl=not text.endswith("\n"), color=True)  # data: exact, see _terminal
    if show_stats:
        click.echo(f"tinygen: {sheet.stats.summary()}", err=True)
    if with_summaries and not sheet.summaries:
        click.echo(
            "tinygen: no summaries are cached for this tree; make them with "
            "`tinygen summarize` (--estimate first shows the cost)",
            err=True,
        )
