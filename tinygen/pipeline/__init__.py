"""The orchestrator: request + repository → validated canonical diff (a RunResult) → delivery.

    open_workspace   repository (checkout or clone cache), settings, provider
    run              sheet → brainstorm → edit per file (parallel) → [validate → verify → revise]*
    run_and_deliver  run → deliver (apply, branch, push, pull request) → salvage on failure

It is the only place that sequences the stages; the CLI and the Action call
``open_workspace`` and ``run_and_deliver``, the HTTP service (which delivers nothing: the
diff is its answer) ``open_workspace`` and ``run``; each words the typed results itself. All
work happens in a temporary worktree at the base commit; the user's checkout is never
touched unless delivery is asked to write it. Every run leaves a record under
``.git/tinygen/runs/<id>/``.

    workspace.py   Target, Workspace, open_workspace
    runner.py      run: the recorded run and its stages up to the plan
    review.py      edit → validate → verify → revise rounds; the stop at the cost limit
    rounds.py      between rounds, pure: what to revise, what the reviewer is told, the end
    auto_summaries.py  the summaries a run with summaries = "auto" makes first
    estimates.py   estimate: a run's cost projected without a model call
    outcome.py     Outcome of run_and_deliver and its exit code
    deliver.py     run_and_deliver: run → deliver → salvage; follow-ups while CI fails
"""

from tinygen.pipeline.auto_summaries import SHARE as SUMMARIES_SHARE
from tinygen.pipeline.deliver import run_and_deliver
from tinygen.pipeline.estimates import estimate
from tinygen.pipeline.outcome import CI_EXIT, Outcome
from tinygen.pipeline.rounds import diff_paths
from tinygen.pipeline.runner import run, warm_up
from tinygen.pipeline.workspace import Target, Workspace, open_workspace

__all__ = [
    "CI_EXIT",
    "SUMMARIES_SHARE",
    "Outcome",
    "Target",
    "Workspace",
    "diff_paths",
    "estimate",
    "open_workspace",
    "run",
    "run_and_deliver",
    "warm_up",
]
