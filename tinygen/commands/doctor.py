"""`tinygen doctor`: can these models run tinygen's passes? A handful of tiny calls each."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from tinygen.config import load_settings
from tinygen.errors import ExitCode

if TYPE_CHECKING:
    from tinygen.llm.doctor import Diagnosis

_STATE = {"ok": "ok", "warn": "warn", "fail": "FAIL", "skip": "-"}


@click.command("doctor")
@click.option(
    "--model",
    "models",
    multiple=True,
    help="PROVIDER:MODEL to check (repeatable; default: the configured model).",
)
@click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Read settings (model, budget) from this checkout's .tinygen.toml.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per model, in a list.")
def command(models: tuple[str, ...], repo: Path | None, as_json: bool) -> None:
    """Check that each model can run tinygen: key, endpoint, auth, model, tool calling,
    structured output, streaming, and whether the context it claims is really used (a long
    prompt with a marker at its start; a server that silently cuts prompts is caught).

    The calls are tiny except the context check (about the `budget` setting + 4000
    tokens); their cost is shown.

    \b
    Exit codes: 0 every model can run tinygen's passes, 7 one cannot.
    """
    # Here, not at the top: the providers' modules would add ~50 ms to `doctor --help`.
    from tinygen.llm.doctor import CHECKS, Check, diagnose
    from tinygen.llm.factory import resolved_model

    settings = load_settings(repo)
    names = list(dict.fromkeys(models)) or [resolved_model(settings)]

    def progress(model: str, check: Check) -> None:
        if not as_json and sys.stderr.isatty():
            click.echo(f"tinygen: {model}: {check.name}: {check.state}", err=True)

    results = diagnose(names, settings, on_check=progress)
    if as_json:
        click.echo(json.dumps([d.to_dict() for d in results], indent=2))
    else:
        for diagnosis in results:
            click.echo(f"{diagnosis.model}" + (f" — {diagnosis.where}" if diagnosis.where else ""))
            order = {name: i for i, name in enumerate(CHECKS)}
            for check in sorted(diagnosis.checks, key=lambda c: order.get(c.name, 99)):
                click.echo(f"  {_STATE[check.state]:<5} {check.name:<18} {check.detail}")
                if check.fix and check.state in ("fail", "warn"):
                    click.echo(f"  {'':<5} {'':<18} fix: {check.fix}")
            verdict = "can run tinygen" if diagnosis.usable else "CANNOT run tinygen's passes"
            click.echo(f"  {_calls(diagnosis)}: {verdict}\n")
        if len(results) > 1:
            click.echo(f"{'model':<40} {'ready':<6} {'structured':<12} cost")
            for d in results:
                ready = "yes" if d.usable else "NO"
                click.echo(
                    f"{d.model:<40} {ready:<6} {d.structured_mode or '-':<12} {_cost(d.cost_usd)}"
                )
    if not all(d.usable for d in results):
        sys.exit(int(ExitCode.LLM))


def _cost(value: float | None) -> str:
    return f"${value:.4f}" if value is not None else "unknown"


def _calls(diagnosis: Diagnosis) -> str:
    u = diagnosis.usage
    return (
        f"{diagnosis.calls} call(s), {u.total_input} input + {u.output_tokens} output tokens, "
        f"{_cost(diagnosis.cost_usd)}"
    )
