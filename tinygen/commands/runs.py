"""`tinygen runs`: list recorded runs; `tinygen runs show ID`: one in full."""

from __future__ import annotations

import datetime as dt
import json

import click

_REPO_HELP = "Repository whose runs to list: a checkout, a bare repository or a URL."


@click.group("runs", invoke_without_command=True)
@click.option("--repo", default=".", show_default=True, help=_REPO_HELP)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="How many runs to list.",
)
@click.pass_context
def command(ctx: click.Context, repo: str, limit: int) -> None:
    """List recorded runs, newest first."""
    ctx.obj = repo
    if ctx.invoked_subcommand is not None:
        return
    # Here, not at the top: tinygen.runs (clone cache, sockets) would add ~40 ms to `runs --help`.
    from tinygen.runs import list_runs, runs_root, state_for

    state = state_for(repo)
    runs = list_runs(state, limit)
    if not runs:
        click.echo(f"no runs recorded yet (records live in {runs_root(state)})", err=True)
        return
    for r in runs:
        if r.problem is not None:  # said, and the listing goes on
            click.echo(f"{r.run_id}  (unreadable record)")
            click.echo(f"tinygen: warning: run {r.run_id}: {r.problem}", err=True)
            continue
        when = dt.datetime.fromtimestamp(r.started, dt.UTC).strftime("%Y-%m-%d %H:%M")
        cost = f"${r.cost_usd:.4f}" if r.cost_usd is not None else "-"
        click.echo(
            f"{r.run_id}  {when}  {r.status:<13} {r.files:>2} file(s)  {cost:>9}  {r.request[:60]}"
        )


@command.command("show")
@click.argument("run_id")
@click.option("--repo", "show_repo", default=None, help=_REPO_HELP + " [default: .]")
@click.option("--json", "as_json", is_flag=True, help="Print the whole record as JSON.")
@click.pass_obj
def show(repo: str, run_id: str, show_repo: str | None, as_json: bool) -> None:
    """Print one run: request, plan, verdict, diff, usage (RUN_ID may be a prefix)."""
    from tinygen.runs import load_run, state_for  # here, as in `command`: for `show --help`

    data = load_run(state_for(show_repo or repo), run_id)
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    result = data.get("result") or {}
    request = data.get("request") or {}
    click.echo(f"run:      {data.get('run_id')}")
    click.echo(f"status:   {result.get('status', data.get('status', 'running'))}")
    click.echo(f"model:    {data.get('model')}")
    click.echo(f"base:     {data.get('base_commit')}")
    click.echo(f"request:  {request.get('text', '').strip()}")
    if result.get("message"):
        click.echo(f"message:  {result['message']}")
    if result.get("error"):
        click.echo(f"error:    {result['error']}")
    plan = data.get("plan") or {}
    for item in plan.get("files", []):
        click.echo(f"  {item['action']:<7} {item['path']}: {item['intent']}")
    for edit in result.get("files") or []:
        if edit.get("error"):  # why the model's edit of this file was not placed
            tries = edit.get("attempts")
            click.echo(f"not placed: {edit.get('path')} (after {tries} attempt(s)):")
            for line in str(edit["error"]).splitlines():
                click.echo(f"  | {line}")
    for edit in result.get("files") or []:
        if edit.get("vote"):
            click.echo(f"vote:     {edit.get('path')}: {_vote_line(edit['vote'])}")
    verdict_vote = (result.get("verdict") or {}).get("vote")
    if verdict_vote:
        click.echo(f"vote:     review: {_vote_line(verdict_vote)}")
    if result.get("low_agreement"):
        click.echo("agreement: LOW (a vote without a lead; the most frequent outcome was taken)")
    for check in result.get("checks") or []:
        state = "timed out" if check.get("timed_out") else f"exit {check.get('exit_code')}"
        click.echo(f"check:    `{check.get('command')}`: {state}")
    usage = result.get("usage") or {}
    if usage:
        click.echo("usage:    " + ", ".join(f"{k}={v}" for k, v in usage.items()))
    cost = result.get("cost_usd")
    estimate = data.get("estimate") or result.get("estimate") or {}
    if cost is not None or estimate:
        line = f"${cost:.4f}" if cost is not None else "unknown"
        if estimate.get("cost_usd") is not None:
            line += f" (estimated ${estimate['cost_usd']:.4f}"
            low, high = estimate.get("cost_low_usd"), estimate.get("cost_high_usd")
            if low is not None and high is not None:
                line += f", range ${low:.4f} to ${high:.4f}"
            line += ")"
        if result.get("max_cost") is not None:
            line += f"; limit ${result['max_cost']:.4f}"
        click.echo(f"cost:     {line}")
    click.echo(f"calls:    {len(data.get('calls', []))} recorded in {data.get('dir')}")
    if result.get("diff"):
        click.echo("")
        click.echo(result["diff"], nl=False, color=True)  # data: exact, see _terminal


def _vote_line(vote: dict[str, object]) -> str:
    """One vote: samples, votes per outcome, the winner's margin, red flags by reason."""
    votes = vote.get("votes") or {}
    flags = vote.get("red_flags") or {}
    assert isinstance(votes, dict) and isinstance(flags, dict)
    shown = ", ".join(f"{label} {n}" for label, n in votes.items()) or "none"
    how = {"votes": "decided", "checks": "chosen by the checks", "plurality": "LOW AGREEMENT"}
    line = (
        f"{vote.get('samples')} sample(s), votes: {shown}; margin {vote.get('margin')} "
        f"(k={vote.get('k')}, confidence {vote.get('confidence')}), "
        f"{how.get(str(vote.get('settled_by')), vote.get('settled_by'))}"
    )
    if flags:
        line += "; red flags: " + ", ".join(f"{reason} {n}" for reason, n in flags.items())
    if vote.get("stopped"):
        line += f"; stopped by the {vote['stopped']}"
    return line
