"""`tinygen run --estimate`: what a run would cost, printed before (instead of) any model call."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from tinygen import pipeline
from tinygen.commands._json import run_json
from tinygen.config import load_settings
from tinygen.llm import resolved_model
from tinygen.repo.clone import open_repository

if TYPE_CHECKING:
    from tinygen.estimate import Estimate
    from tinygen.models import Request


def print_estimate(
    request: Request, repo: str, ref: str | None, overrides: dict[str, Any], *, as_json: bool
) -> None:
    """Open the repository, read its settings, project the run (``pipeline.estimate``) and
    print the projection: a table, or the ``--json`` shape with ``estimate`` filled in."""
    opened = open_repository(repo, ref=ref)
    settings = load_settings(opened.root, overrides, commit=opened.base_commit)
    target = pipeline.Target(
        opened.root, opened.base_commit, opened.spec.full_name or opened.spec.name
    )
    found = pipeline.estimate(request, target, settings, model=resolved_model(settings))
    if as_json:
        click.echo(json.dumps(run_json(None, None, None, estimate=found), indent=2))
        return
    click.echo(render(found, vote=settings.vote, max_cost=settings.max_cost))


def _dollars(value: float | None) -> str:
    return f"${value:.4f}" if value is not None else "unknown"


def render(estimate: Estimate, *, vote: int = 0, max_cost: float | None = None) -> str:
    """The projection as a table, per pass, with the range and how files were estimated."""
    files = estimate.files
    lines = [
        f"estimate for {estimate.model} (no model call was made)",
        f"files:  {files.expected} expected, {files.low} to {files.high} ({files.how})",
        "",
        f"{'pass':<11}{'calls':>6}{'input':>10}{'output':>9}{'cache read':>12}"
        f"{'cache write':>13}{'cost':>11}",
    ]
    for p in (*estimate.passes, None):
        name, calls = (p.name, p.calls) if p else ("total", estimate.calls)
        u = p.usage if p else estimate.usage
        cost = p.cost_usd if p else estimate.cost_usd
        lines.append(
            f"{name:<11}{calls:>6}{u.input_tokens:>10,}{u.output_tokens:>9,}"
            f"{u.cache_read_tokens:>12,}{u.cache_write_tokens:>13,}{_dollars(cost):>11}"
        )
    lines += [
        "",
        f"range:  {_dollars(estimate.cost_low)} (fewest files, no retries) to "
        f"{_dollars(estimate.cost_high)} (most files, every retry, sample and round)",
    ]
    if vote:
        samples = estimate.assumptions.get("samples_per_file")
        lines.append(f"vote:   {vote}: {samples} samples a file and review expected")
    if max_cost is not None:
        lines.append(f"limit:  {_dollars(max_cost)}: no call that could pass it is made")
    return "\n".join(lines)


__all__ = ["print_estimate", "render"]
