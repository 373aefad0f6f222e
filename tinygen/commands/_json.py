"""The one `tinygen run --json` shape (docs/cli.md "JSON output"), for a run, a failure,
an early error and `--estimate` alike."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tinygen.errors import ExitCode, TinygenError
from tinygen.models import RunResult, Status
from tinygen.redact import redact

if TYPE_CHECKING:
    from tinygen.estimate import Estimate


def run_json(
    result: RunResult | None,
    error: TinygenError | None,
    extra: dict[str, Any] | None,
    *,
    run_id: str | None = None,
    exit_code: int | None = None,
    estimate: Estimate | None = None,
) -> dict[str, Any]:
    """The one --json shape (docs/cli.md): every key of a run's result, then ``error``,
    ``hint``, ``error_type``, ``exit_code`` and ``delivery`` — on success, on a failure
    after model calls (the partial result: usage and cost of the calls made), on an early
    error (no run: ``run_id`` null, nothing spent) and for ``--estimate`` (no run: status
    ``estimated``, the projection in ``estimate``)."""
    empty = RunResult(run_id="", status=Status.FAILED, message="")
    data = (result or empty).to_dict()
    if result is None:
        data["run_id"] = run_id
    if estimate is not None:
        data |= {
            "status": "estimated",
            "message": "projected; no model call was made",
            "model": estimate.model,
            "estimate": estimate.to_dict(),
            "cost_usd": 0.0,
        }
        exit_code = int(ExitCode.OK)
    if error is not None:
        interrupted = error.exit_code == ExitCode.INTERRUPTED
        data |= {
            "status": "interrupted" if interrupted else "failed",
            "message": redact(error.message),
            "run_id": error.run_id or run_id,
            "diff_path": error.saved_diff,
        }
    if exit_code is not None:
        code = exit_code
    elif error is not None:
        code = int(error.exit_code)
    else:
        code = int(result.status.exit_code) if result is not None else int(ExitCode.INTERNAL)
    data |= {
        "error": redact(error.message) if error is not None else None,
        "hint": redact(error.hint) if error is not None and error.hint else None,
        "error_type": type(error).__name__ if error is not None else None,
        "exit_code": code,
        "delivery": (extra or {}).get("delivery"),
    }
    return data
