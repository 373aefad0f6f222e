"""Run records: one folder per run under ``<git dir>/tinygen/runs/<run id>/``.

``run.json`` holds the request, plan, verdict, final diff, usage, cost, timings and status;
``calls.jsonl`` holds every LLM call (request and response), appended as it happens, so a
run that dies half-way can still be inspected. Files are written atomically and contain no
secrets (text passes through tinygen.redact).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path
from typing import Any

from tinygen.errors import RepoError
from tinygen.redact import redact
from tinygen.repo.clone import cache_path
from tinygen.repo.git import git_common_dir, repo_root
from tinygen.repo.spec import parse_repo_spec

RUNS_DIR = "runs"
# A run id or a prefix of one: letters, digits, '-' and '_' only (no glob or path characters).
_RUN_ID_PREFIX = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


def new_run_id() -> str:
    """Sortable by time, unique across concurrent runs: 20261123-170102-3f9a1c."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def _dumps(data: Any, indent: int | None = None) -> str:
    return redact(json.dumps(data, default=_plain, ensure_ascii=False, indent=indent))


class RunRecorder:
    """Writes one run's record as it goes. Thread-safe (per-file passes run concurrently)."""

    def __init__(self, runs_root: Path, run_id: str | None = None) -> None:
        self.run_id = run_id or new_run_id()
        self.dir = runs_root / self.run_id
        self.dir.mkdir(parents=True, exist_ok=False)
        self._lock = threading.Lock()
        self._data: dict[str, Any] = {"run_id": self.run_id, "started": time.time()}
        self.save()

    def update(self, **fields: Any) -> None:
        with self._lock:
            self._data.update(fields)
        self.save()

    def save(self) -> None:
        with self._lock:
            _atomic_write(self.dir / "run.json", _dumps(self._data, indent=2) + "\n")

    def call(self, label: str, request: Any, response: Any, seconds: float) -> None:
        """Append one LLM call (request dataclass and response dataclass or error text)."""
        line = _dumps(
            {
                "label": label,
                "at": time.time(),
                "seconds": round(seconds, 3),
                "request": request,
                "response": response,
            }
        )
        with self._lock, open(self.dir / "calls.jsonl", "a", encoding="utf-8") as fh:
            fh.write(line + "\n")

    def write_text(self, name: str, text: str) -> Path:
        path = self.dir / name
        _atomic_write(path, redact(text))
        return path


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    started: float
    status: str
    request: str
    cost_usd: float | None
    files: int


def runs_root(state: Path) -> Path:
    return state / RUNS_DIR


def state_for(repo: str, cache_dir: Path | None = None) -> Path:
    """Where the run records of ``--repo REPO`` live: in a checkout's git directory, or in
    the clone cache entry of a URL or bare repository (runs made on those work there). The
    folder may not exist yet; nothing is fetched."""

    spec = parse_repo_spec(repo)
    if spec.kind == "local":
        return git_common_dir(repo_root(repo)) / "tinygen"
    return cache_path(spec, cache_dir) / "tinygen"


def list_runs(state: Path, limit: int = 20) -> list[RunSummary]:
    """Newest first."""
    root = runs_root(state)
    if not root.is_dir():
        return []
    out: list[RunSummary] = []
    for d in sorted((p for p in root.iterdir() if p.is_dir()), reverse=True)[:limit]:
        data = _read_json(d / "run.json")
        if data is None:
            continue
        request = data.get("request") or {}
        text = request.get("text", "") if isinstance(request, dict) else str(request)
        result = data.get("result") or {}
        out.append(
            RunSummary(
                run_id=d.name,
                started=float(data.get("started", 0)),
                status=str(result.get("status", data.get("status", "running"))),
                request=text.strip().splitlines()[0] if text.strip() else "",
                cost_usd=result.get("cost_usd"),
                files=str(result.get("diff", "")).count("\ndiff --git ")
                + str(result.get("diff", "")).startswith("diff --git "),
            )
        )
    return out


def load_run(state: Path, run_id: str) -> dict[str, Any]:
    root = runs_root(state)
    if not _RUN_ID_PREFIX.fullmatch(run_id):
        raise RepoError(
            f"{run_id!r} is not a run id", hint="run ids look like 20261123-170102-3f9a1c"
        )
    names = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    matches = [root / name for name in names if name.startswith(run_id)]
    if not matches:
        raise RepoError(
            f"no run {run_id!r} in {root}", hint="`tinygen runs` lists the recorded runs"
        )
    if len(matches) > 1:
        shown = ", ".join(m.name for m in matches[-10:])
        raise RepoError(
            f"run id {run_id!r} is ambiguous ({len(matches)} runs match: {shown})",
            hint="give more of the id",
        )
    data = _read_json(matches[0] / "run.json")
    if data is None:
        raise RepoError(f"the record of run {matches[0].name} is unreadable")
    calls_path = matches[0] / "calls.jsonl"
    calls = []
    if calls_path.is_file():
        for line in calls_path.read_text("utf-8").splitlines():
            try:
                calls.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    data["calls"] = calls
    data["dir"] = str(matches[0])
    return data


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None
