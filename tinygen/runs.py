"""Run records: one folder per run under ``<git dir>/tinygen/runs/<run id>/``.

``run.json`` holds the request, plan, verdict, final diff, usage, cost, timings and status;
``calls.jsonl`` holds every LLM call (request and response), appended as it happens, so a
run that dies half-way can still be inspected. Files are written atomically and contain no
secrets (text passes through tinygen.redact); folders are made through
:func:`tinygen.repo.git.real_folder` (never through a symbolic link).

While a run works, ``owner.json`` names its process (:class:`tinygen.owner.Owner`). A run
that ends, however it ends, removes it; one still there whose process is gone was killed
(``kill -9``, a crash): :func:`recover` — called when the next run starts, and by the HTTP
service when it starts — marks its record ``interrupted`` and removes the temporary
worktrees such runs left (:func:`tinygen.repo.git.remove_stale_worktrees`). Until then
``tinygen runs`` already shows such a record as interrupted.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import threading
import time
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path
from typing import Any

from tinygen import safejson
from tinygen.errors import InputError, RepoError
from tinygen.inputs import MAX_RECORD_BYTES, read_file
from tinygen.owner import Owner
from tinygen.redact import redact
from tinygen.repo.atomic import replace_file
from tinygen.repo.clone import cache_path
from tinygen.repo.git import (
    git_common_dir,
    open_no_follow,
    real_folder,
    remove_stale_worktrees,
    repo_root,
    state_dir,
)
from tinygen.repo.spec import parse_repo_spec

RUNS_DIR = "runs"
# What one model call may take in calls.jsonl: longer texts in it (a huge prompt or answer)
# are cut, saying how much was left out, so a record stays readable and small.
MAX_CALL_CHARS = 1_000_000
OWNER_FILE = "owner.json"  # present while the run's process works on it
INTERRUPTED = "interrupted"
# A run id or a prefix of one: letters, digits, '-' and '_' only (no glob or path characters).
_RUN_ID_PREFIX = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


def new_run_id() -> str:
    """Sortable by time, unique across concurrent runs: 20261123-170102-3f9a1c."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


def _atomic_write(path: Path, text: str) -> None:
    # backslashreplace: a lone surrogate becomes \udXXX, a JSON escape, not a crash
    replace_file(path, text.encode("utf-8", "backslashreplace"))


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
    """Writes one run's record as it goes. Thread-safe (per-file passes run concurrently).
    :meth:`finish` records the end (and removes ``owner.json``)."""

    def __init__(self, runs_root: Path, run_id: str | None = None) -> None:
        self.run_id = run_id or new_run_id()
        if not runs_root.parent.is_dir():
            runs_root.parent.mkdir(parents=True)
        self.dir = real_folder(runs_root.parent, runs_root.name) / self.run_id
        self.dir.mkdir()  # a new run: never an existing folder, nor through a link
        self._lock = threading.Lock()
        owner = Owner.current().to_dict()
        self._data: dict[str, Any] = {
            "run_id": self.run_id,
            "started": time.time(),
            "status": "running",
            "process": owner,
        }
        self.save()
        _atomic_write(self.dir / OWNER_FILE, json.dumps(owner) + "\n")

    def update(self, **fields: Any) -> None:
        with self._lock:
            self._data.update(fields)
        self.save()

    def save(self) -> None:
        with self._lock:
            _atomic_write(self.dir / "run.json", _dumps(self._data, indent=2) + "\n")

    def finish(self, **fields: Any) -> None:
        """The last update: the run has ended (succeeded, failed or interrupted)."""
        self.update(**fields)
        (self.dir / OWNER_FILE).unlink(missing_ok=True)

    def call(self, label: str, request: Any, response: Any, seconds: float) -> None:
        """Append one LLM call (request dataclass and response dataclass or error text), cut
        to :data:`MAX_CALL_CHARS`."""
        entry = {
            "label": label,
            "at": time.time(),
            "seconds": round(seconds, 3),
            "request": request,
            "response": response,
        }
        line = _dumps(entry)
        if len(line) > MAX_CALL_CHARS:
            line = _dumps(_shortened(json.loads(line), len(line)))
        with (
            self._lock,
            os.fdopen(
                open_no_follow(self.dir / "calls.jsonl"),
                "a",
                encoding="utf-8",
                errors="backslashreplace",
            ) as fh,
        ):
            fh.write(line + "\n")

    def write_text(self, name: str, text: str) -> Path:
        path = self.dir / name
        _atomic_write(path, redact(text))
        return path


def _shortened(entry: dict[str, Any], size: int) -> dict[str, Any]:
    """``entry`` (a call) with its longest texts cut until it fits MAX_CALL_CHARS; each cut
    says how many characters were left out, and ``recorded_chars`` how large it was."""
    keep = MAX_CALL_CHARS // 4
    while keep >= 1_000:
        cut = _cut_texts(entry, keep)
        if len(json.dumps(cut, ensure_ascii=False)) <= MAX_CALL_CHARS - 1_000:
            return {**cut, "cut_from_chars": size}
        keep //= 2
    return {k: entry.get(k) for k in ("label", "at", "seconds")} | {
        "cut_from_chars": size,
        "request": None,
        "response": None,
    }


def _cut_texts(value: Any, keep: int) -> Any:
    if isinstance(value, str):
        if len(value) <= keep:
            return value
        return value[:keep] + f"\n[… {len(value) - keep} more characters not recorded]"
    if isinstance(value, dict):
        return {k: _cut_texts(v, keep) for k, v in value.items()}
    if isinstance(value, list):
        return [_cut_texts(v, keep) for v in value]
    return value


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    started: float
    status: str
    request: str
    cost_usd: float | None
    files: int
    problem: str | None = None  # why the record cannot be read (the other fields are empty)


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
    """Newest first. A record that cannot be read is listed with its ``problem``; one whose
    process died while it ran shows as interrupted."""
    root = runs_root(state)
    if not root.is_dir():
        return []
    out: list[RunSummary] = []
    for d in sorted((p for p in root.iterdir() if p.is_dir()), reverse=True)[:limit]:
        data, problem = read_record(d)
        if data is None:
            out.append(RunSummary(d.name, 0.0, "unreadable", "", None, 0, problem))
            continue
        try:
            out.append(_summary(d, data))
        except (TypeError, ValueError, AttributeError) as exc:
            why = f"{d / 'run.json'}: a field has the wrong type ({exc})"
            out.append(RunSummary(d.name, 0.0, "unreadable", "", None, 0, why))
    return out


def _summary(folder: Path, data: dict[str, Any]) -> RunSummary:
    request = data.get("request") or {}
    text = request.get("text", "") if isinstance(request, dict) else str(request)
    result = data.get("result") or {}
    diff = str(result.get("diff", ""))
    cost = result.get("cost_usd")
    return RunSummary(
        run_id=folder.name,
        started=float(data.get("started", 0)),
        status=_status(folder, data),
        request=text.strip().splitlines()[0] if text.strip() else "",
        cost_usd=float(cost) if cost is not None else None,
        files=diff.count("\ndiff --git ") + diff.startswith("diff --git "),
    )


def _status(folder: Path, data: dict[str, Any]) -> str:
    """The record's status; ``interrupted`` for a running record whose process is gone."""
    result = data.get("result") or {}
    status = str(result.get("status", data.get("status", "running")))
    if status == "running" and _dead_owner(folder) is not None:
        return INTERRUPTED
    return status


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
    data, problem = read_record(matches[0])
    if data is None:
        raise RepoError(
            f"the record of run {matches[0].name} is unreadable: {problem}",
            hint=f"look at the files in {matches[0]} yourself, or delete that folder",
        )
    if isinstance(data.get("status"), str):
        data["status"] = _status(matches[0], data)
    calls_path = matches[0] / "calls.jsonl"
    calls = []
    if calls_path.is_file():
        text = _read_capped(calls_path).decode("utf-8", "replace")
        for line in text.splitlines():
            try:
                calls.append(safejson.loads(line, str(calls_path)))
            except (ValueError, InputError):
                continue  # a line cut short by a crash, or not ours
    data["calls"] = calls
    data["dir"] = str(matches[0])
    return data


def _read_capped(path: Path) -> bytes:
    return read_file(path, MAX_RECORD_BYTES, str(path), "look at it yourself, or delete it")


def read_record(folder: Path) -> tuple[dict[str, Any] | None, str | None]:
    """A run folder's ``run.json`` as a dict, or None and what is wrong with it."""
    path = folder / "run.json"
    try:
        data = safejson.loads(_read_capped(path), str(path))
    except FileNotFoundError:
        return None, f"{path} is missing"
    except OSError as exc:
        return None, f"cannot read {path}: {exc.strerror or exc}"
    except InputError as exc:
        return None, exc.message
    except UnicodeDecodeError:
        return None, f"{path} is not UTF-8 text"
    except json.JSONDecodeError as exc:
        return None, f"{path} is not valid JSON (line {exc.lineno}: {exc.msg})"
    if not isinstance(data, dict):
        return None, f"{path} holds a JSON {type(data).__name__}, not a run record"
    return data, None


# --- after a crash ----------------------------------------------------------------------------


def _dead_owner(folder: Path) -> Owner | None:
    """The owner of a run still marked as working when that process has ended, else None."""
    try:
        path = folder / OWNER_FILE
        owner = Owner.from_dict(safejson.loads(read_file(path, 100_000, str(path)), str(path)))
    except (OSError, ValueError, InputError):
        return None
    return owner if owner is not None and not owner.alive() else None


def recover_runs(state: Path) -> list[str]:
    """Mark ``interrupted`` the records of runs whose process ended while they worked
    (their ``owner.json`` is still there); their ids. Live runs are never touched."""
    root = runs_root(state)
    if not root.is_dir():
        return []
    recovered = []
    for marker in sorted(root.glob(f"*/{OWNER_FILE}")):
        folder = marker.parent
        owner = _dead_owner(folder)
        if owner is None:
            continue
        data, _problem = read_record(folder)
        if data is not None:
            result = data.get("result")
            result = result if isinstance(result, dict) else {}
            why = (
                f"the process running it (pid {owner.pid}) ended before the run did "
                "(killed or crashed)"
            )
            data["status"] = INTERRUPTED
            data["result"] = {**result, "status": INTERRUPTED, "error": why}
            data["interrupted_at"] = time.time()
            _atomic_write(folder / "run.json", _dumps(data, indent=2) + "\n")
        marker.unlink(missing_ok=True)
        recovered.append(folder.name)
    return recovered


@dataclass(frozen=True)
class Recovered:
    """What :func:`recover` cleaned up: worktrees removed, run records marked interrupted."""

    worktrees: list[Path]
    runs: list[str]

    def __bool__(self) -> bool:
        return bool(self.worktrees or self.runs)

    def describe(self) -> str:
        parts = []
        if self.runs:
            parts.append(f"marked {len(self.runs)} run(s) interrupted ({', '.join(self.runs)})")
        if self.worktrees:
            parts.append(f"removed {len(self.worktrees)} temporary worktree(s)")
        return "after runs killed before they ended: " + "; ".join(parts)


def recover(root: Path, state: Path | None = None) -> Recovered:
    """Clean up what killed runs left in the repository at ``root`` (a checkout or a clone
    cache entry): their temporary worktrees, and their records (in ``state``, default the
    repository's tinygen folder)."""
    worktrees = remove_stale_worktrees(root)
    return Recovered(worktrees, recover_runs(state if state is not None else state_dir(root)))
