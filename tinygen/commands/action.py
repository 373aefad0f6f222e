"""`tinygen action`: the GitHub Action's entry point (see action.yml and tinygen.action)."""

from __future__ import annotations

import os
import sys

import click

from tinygen.action.outputs import StepIO


@click.command("action")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Decide only: print one JSON object; no LLM call, no writes (reads the API when a "
    "token is set). Also TINYGEN_INPUT_DRY_RUN=true.",
)
def command(dry_run: bool) -> None:
    """Handle the GitHub event of this workflow run.

    Reads GITHUB_EVENT_NAME, GITHUB_EVENT_PATH, GITHUB_REPOSITORY, GITHUB_API_URL,
    GITHUB_SERVER_URL and GITHUB_RUN_ID; GITHUB_TOKEN and ANTHROPIC_API_KEY; the Action's
    inputs as TINYGEN_INPUT_* variables. Exit code 0 for pr-opened, pr-updated, no-change,
    summaries-refreshed and skipped (12 or 13 when the repository's CI failed or had not
    finished, with wait-checks); the error's exit code for failed (11 when the cost limit
    stopped a summary refresh).
    """
    # Here, not at the top: the Action's run (pipeline, delivery, PyGithub's forge) would
    # add ~300 ms to `action --help`.
    from tinygen.action.run import run_action

    env = dict(os.environ)
    io = StepIO(env)
    outcome = run_action(env, io, dry_run=dry_run)  # it also reads TINYGEN_INPUT_DRY_RUN
    sys.exit(outcome.exit_code)
