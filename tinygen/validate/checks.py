"""Run the repository's configured check commands in a worktree.

The commands are the repository owner's configured command lines, so they run through
``bash -c``; nothing from a model, an issue or a diff may ever be passed here. Each runs in
its own process group (killed as a whole on timeout), with an environment scrubbed of
keys and tokens, an optional address-space limit, and only the last lines of its output
kept (redacted).

Before the first check, this process is made non-dumpable (Linux): the check runs as the
same user, and could otherwise read the keys tinygen still holds from
``/proc/<tinygen's pid>/environ`` (or its memory). Not a boundary against a check with
sudo: see the README's security notes.
"""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from tinygen.redact import redact, scrubbed_env

TAIL_LINES = 200


@dataclass(frozen=True)
class CheckResult:
    command: str
    exit_code: int | None  # None when it timed out or could not start
    timed_out: bool
    seconds: float
    output_tail: str

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    def to_dict(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "exit_code": self.exit_code,
            "timed_out": self.timed_out,
            "seconds": round(self.seconds, 3),
            "ok": self.ok,
            "output_tail": self.output_tail,
        }


def _limit(memory_mb: int | None) -> Callable[[], None] | None:
    if memory_mb is None:
        return None

    def preexec() -> None:  # runs in the child, before exec
        import resource

        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return preexec


def _pump(stream: IO[bytes], tail: collections.deque[bytes]) -> None:
    for line in iter(stream.readline, b""):
        tail.append(line)
    stream.close()


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _hide_own_environment() -> None:
    """prctl(PR_SET_DUMPABLE, 0): /proc/<pid>/environ, mem, ... of this process become
    root's, so a check run as the same user cannot read them. Children are dumpable again
    after exec, so the checks themselves are not affected. A no-op outside Linux."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_dumpable = 4
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_dumpable, 0, 0, 0, 0)


def run_check(
    worktree: Path, command: str, timeout: float = 300, memory_mb: int | None = None
) -> CheckResult:
    _hide_own_environment()
    started = time.monotonic()
    tail: collections.deque[bytes] = collections.deque(maxlen=TAIL_LINES)
    try:
        proc = subprocess.Popen(
            ["bash", "-c", command],
            cwd=worktree,
            env=scrubbed_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, killed whole on timeout
            preexec_fn=_limit(memory_mb),
        )
    except OSError as exc:
        return CheckResult(command, None, False, 0.0, redact(f"could not start: {exc}"))
    assert proc.stdout is not None
    reader = threading.Thread(target=_pump, args=(proc.stdout, tail), daemon=True)
    reader.start()
    timed_out = False
    try:
        code: int | None = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(proc)
        proc.wait()
        code = None
    else:
        _kill_group(proc)  # leftovers in the group must not outlive the check
    reader.join(timeout=5)
    text = b"".join(tail).decode("utf-8", "replace")
    if timed_out:
        text += f"\n[tinygen: killed after {timeout:g} s]\n"
    return CheckResult(command, code, timed_out, time.monotonic() - started, redact(text))


def run_checks(
    worktree: Path, commands: Sequence[str], timeout: float = 300, memory_mb: int | None = None
) -> list[CheckResult]:
    """Run every command (all of them, even after a failure) and return their results."""
    return [run_check(worktree, c, timeout, memory_mb) for c in commands]


__all__ = ["TAIL_LINES", "CheckResult", "run_check", "run_checks"]
