"""Compare models on one request: the same request, base commit and reference sheet for
every model, each run in its own worktree, a few at a time.

    comparison = compare_models(request, opened, ["claude-sonnet-4-6", "ollama:qwen3:8b"])

Each model's run goes through :func:`tinygen.pipeline.open_workspace` (on the already
opened repository, so the base commit is the same) and :func:`tinygen.pipeline.run_and_deliver`
(no delivery). One model failing — a missing key, a server that is down — is that model's
result; the others go on. The comparison is written to ``comparisons/<id>/`` in the
run-records area (``.git/tinygen/``): ``<model>.diff`` per model and ``metrics.yaml``.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tinygen import pipeline
from tinygen.errors import TinygenError
from tinygen.llm.factory import make_provider
from tinygen.models import Request, RunResult, Status
from tinygen.redact import redact
from tinygen.repo.git import real_folder, state_dir
from tinygen.runs import new_run_id, runs_root

if TYPE_CHECKING:
    from tinygen.llm import Completion, CompletionRequest, Provider
    from tinygen.repo.clone import OpenedRepo

COMPARISONS_DIR = "comparisons"
# Best first: how a model's run ended, before its cost breaks ties.
STATUS_ORDER = (
    Status.APPROVED,
    Status.UNVERIFIED,
    Status.UNAPPROVED,
    Status.CHECKS_FAILED,
    Status.INVALID,
    Status.UNPLACED,
    Status.NO_CHANGE,
    Status.FAILED,
)


class _Observed:
    """A provider that counts what the metrics need and the run record does not sum up:
    the structured mode of each call and the correction rounds."""

    def __init__(self, inner: Provider) -> None:
        self.inner = inner
        self.modes: Counter[str] = Counter()
        self.corrections = 0
        self._lock = threading.Lock()

    def complete(self, request: CompletionRequest) -> Completion:
        completion = self.inner.complete(request)
        with self._lock:
            if completion.structured_mode is not None:
                self.modes[completion.structured_mode] += 1
            self.corrections += request.correction
        return completion


@dataclass
class ModelResult:
    """One model's part of a comparison."""

    model: str
    status: str
    seconds: float
    run_id: str | None = None
    exit_code: int = 0  # what `tinygen run` would have exited with
    error: str | None = None  # why the run failed (when it did)
    result: RunResult | None = None  # the run's result, or what a failed run got done
    modes: dict[str, int] = field(default_factory=dict)
    correction_rounds: int = 0
    sheet_sha256: str | None = None
    diff_file: str | None = None

    @property
    def cost_usd(self) -> float | None:
        return self.result.cost_usd if self.result is not None else None

    def metrics(self) -> dict[str, Any]:
        """The flat figures of metrics.yaml."""
        r = self.result
        usage = r.usage if r is not None else None
        checks = r.checks if r is not None else []
        return {
            "status": self.status,
            "seconds": round(self.seconds, 2),
            "calls": r.calls if r is not None else 0,
            "input_tokens": usage.input_tokens + usage.cache_write_tokens if usage else 0,
            "output_tokens": usage.output_tokens if usage else 0,
            "cached_tokens": usage.cache_read_tokens if usage else 0,
            "cost_usd": round(r.cost_usd, 6) if r is not None and r.cost_usd is not None else None,
            "files_changed": len(pipeline.diff_paths(r.diff)) if r is not None and r.diff else 0,
            "checks_passed": sum(c.ok for c in checks),
            "checks_failed": sum(not c.ok for c in checks),
            "review_rounds": r.rounds if r is not None else 0,
            "correction_rounds": self.correction_rounds,
            "structured_mode": "+".join(sorted(self.modes)) or None,
            "run_id": self.run_id,
            "diff": self.diff_file,
            "sheet_sha256": self.sheet_sha256,
            "error": self.error,
        }


@dataclass
class Comparison:
    comparison_id: str
    folder: Path
    request: str
    base_commit: str
    results: list[ModelResult]  # ranked: status, then cost (unknown last)

    def to_dict(self) -> dict[str, Any]:
        return {
            "comparison_id": self.comparison_id,
            "folder": str(self.folder),
            "request": self.request,
            "base_commit": self.base_commit,
            "models": [{"model": m.model, "rank": i} | m.metrics() for i, m in
                       enumerate(self.results, 1)],
        }  # fmt: skip


def rank_key(result: ModelResult) -> tuple[int, int, float]:
    try:
        order = STATUS_ORDER.index(Status(result.status))
    except ValueError:
        order = len(STATUS_ORDER)
    cost = result.cost_usd
    return (order, cost is None, cost or 0.0)


def compare_models(
    request: Request,
    opened: OpenedRepo,
    models: list[str],
    *,
    overrides: dict[str, Any] | None = None,
    parallel: int = 3,
    progress: Callable[[str, str], None] | None = None,
    provider_for: Callable[[Any], Provider] | None = None,
) -> Comparison:
    """Run ``request`` with each of ``models`` (``parallel`` at a time) on ``opened``'s base
    commit and write the comparison. ``overrides`` are settings for every run (checks,
    budget…); ``provider_for(settings)`` makes providers (default: the factory's)."""
    say = progress or (lambda model, message: None)
    comparison_id = new_run_id()
    folder = real_folder(state_dir(opened.root), COMPARISONS_DIR, comparison_id)

    def one(model: str) -> ModelResult:
        say(model, "started")
        started = time.monotonic()
        try:
            outcome = _run_one(request, opened, model, overrides or {}, provider_for)
        except Exception as exc:  # one model's bug must not stop the others
            outcome = ModelResult(model, str(Status.FAILED), 0.0, exit_code=1, error=_describe(exc))
        outcome.seconds = time.monotonic() - started
        say(model, f"{outcome.status} in {outcome.seconds:.1f} s")
        return outcome

    with ThreadPoolExecutor(max_workers=max(1, min(parallel, len(models)))) as pool:
        results = list(pool.map(one, models))
    for result in results:
        result.diff_file = _write_diff(folder, result)
        if result.run_id is not None:
            result.sheet_sha256 = _sheet_hash(opened, result.run_id)
    results.sort(key=rank_key)
    comparison = Comparison(comparison_id, folder, request.text, opened.base_commit, results)
    (folder / "metrics.yaml").write_text(metrics_yaml(comparison), "utf-8")
    return comparison


def _run_one(
    request: Request,
    opened: OpenedRepo,
    model: str,
    overrides: dict[str, Any],
    provider_for: Callable[[Any], Provider] | None,
) -> ModelResult:
    observed: list[_Observed] = []

    def make(settings: Any) -> Provider:
        provider = _Observed((provider_for or make_provider)(settings))
        observed.append(provider)
        return provider

    try:
        workspace = pipeline.open_workspace(
            opened, overrides={**overrides, "model": model}, provider_for=make
        )
    except TinygenError as exc:  # a missing key, an unknown provider
        return ModelResult(
            model, str(Status.FAILED), 0.0, exit_code=int(exc.exit_code), error=_describe(exc)
        )
    outcome = pipeline.run_and_deliver(request, workspace, None, run_id=new_run_id())
    result = outcome.result
    if result is None and outcome.error is not None:
        result = outcome.error.partial
    status = str(outcome.result.status) if outcome.result is not None else str(Status.FAILED)
    counted = observed[0] if observed else None
    return ModelResult(
        model,
        status,
        0.0,
        run_id=outcome.run_id,
        exit_code=outcome.exit_code,
        error=_describe(outcome.error) if outcome.error is not None else None,
        result=result,
        modes=dict(counted.modes) if counted else {},
        correction_rounds=counted.corrections if counted else 0,
    )


def _describe(exc: BaseException) -> str:
    text = exc.message if isinstance(exc, TinygenError) else f"{type(exc).__name__}: {exc}"
    return redact(text)


def file_name(model: str) -> str:
    """A file name for a model name (``openrouter:qwen/qwen3-coder`` -> ``openrouter_qwen_qwen3-coder``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", model).strip("._") or "model"


def _write_diff(folder: Path, result: ModelResult) -> str | None:
    diff = result.result.diff if result.result is not None else ""
    if not diff:
        return None
    name = file_name(result.model) + ".diff"
    (folder / name).write_text(redact(diff), "utf-8")
    return name


def _sheet_hash(opened: OpenedRepo, run_id: str) -> str | None:
    """The reference sheet the run used (hashed): the same for every model of a comparison."""
    path = runs_root(state_dir(opened.root)) / run_id / "sheet.txt"
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


# --- metrics.yaml -------------------------------------------------------------------------


def _scalar(value: Any) -> str:
    """A YAML scalar: JSON's double-quoted strings are valid YAML, so are its numbers."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    return json.dumps(str(value), ensure_ascii=False)


def metrics_yaml(comparison: Comparison) -> str:
    """metrics.yaml: flat figures per model, best first (no YAML library needed for this)."""
    lines = [
        "# tinygen compare: the same request, base commit and sheet for every model;",
        "# models ranked by status, then cost (unknown cost last).",
        f"comparison: {_scalar(comparison.comparison_id)}",
        f"request: {_scalar(comparison.request)}",
        f"base_commit: {_scalar(comparison.base_commit)}",
        "models:",
    ]
    for rank, result in enumerate(comparison.results, 1):
        lines.append(f"  - model: {_scalar(result.model)}")
        lines.append(f"    rank: {rank}")
        lines += [f"    {key}: {_scalar(value)}" for key, value in result.metrics().items()]
    return "\n".join(lines) + "\n"


__all__ = [
    "COMPARISONS_DIR",
    "STATUS_ORDER",
    "Comparison",
    "ModelResult",
    "compare_models",
    "file_name",
    "metrics_yaml",
    "rank_key",
]
