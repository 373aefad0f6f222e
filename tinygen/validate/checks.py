"""Run the repository's configured check commands in a worktree.

The commands are the repository owner's configured command lines, so they run through
``bash -c``; nothing from a model, an issue or a diff may ever be passed here. Each runs in
its own process group (killed as a whole on timeout), with an *allow-listed* environment
(PATH, HOME, locale, TERM, TMPDIR, TZ, CI, USER, LOGNAME, SHELL, plus the names or globs of
the ``check-env`` setting; every other variable — keys, tokens, database URLs, agent
sockets — is left out), an optional virtual-memory limit (``ulimit -v`` in the check's own
shell: it caps address space, which some runtimes reserve generously), and only the end of
its output kept (the last 200 lines, each cut at 2 KiB, at most 64 KiB, redacted).

Before the first check, this process is made non-dumpable (Linux): the check runs as the
same user, and could otherwise read the keys tinygen still holds from
``/proc/<tinygen's pid>/environ`` (or its memory). Not a boundary against a check with
sudo: see the README's security notes.
"""

from __future__ import annotations

import collections
import contextlib
import fnmatch
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from tinygen.redact import SECRET_ENV_NAMES, redact
from tinygen.repo.git import temp_worktree
from tinygen.repo.trees import snapshot_commit

TAIL_LINES = 200
MAX_LINE = 2048  # bytes of one output line kept
TAIL_BYTES = 64 * 1024  # bytes of output kept in all
# Passed to every check; everything else only when named in the check-env setting.
BASE_ENV: tuple[str, ...] = (
    *("PATH", "HOME", "LANG", "LANGUAGE", "LC_*", "TERM", "TMPDIR", "TZ"),
    *("CI", "USER", "LOGNAME", "SHELL"),
)


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


def check_env(pass_env: Sequence[str] = (), env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a check gets: :data:`BASE_ENV` and ``pass_env`` (names, or globs
    such as ``PYTHON*``). A glob never passes a secret-looking name (``*_TOKEN``,
    ``*_KEY``, ...): those must be named one by one."""
    env = os.environ if env is None else env
    exact = {p for p in pass_env if not any(c in p for c in "*?[")}
    globs = [p for p in (*BASE_ENV, *pass_env) if p not in exact]
    out = {}
    for name, value in env.items():
        if (
            name in exact
            or name in BASE_ENV
            or (
                any(fnmatch.fnmatchcase(name, g) for g in globs)
                and not SECRET_ENV_NAMES.search(name)
            )
        ):
            out[name] = value
    return out


def _command(command: str, memory_mb: int | None) -> list[str]:
    if memory_mb is None:
        return ["bash", "-c", command]
    # The limit is set by the check's own shell (no preexec_fn in a threaded parent); the
    # command reaches the inner shell as an argument, never pasted into a command line.
    script = 'ulimit -v "$1" || exit 125; exec bash -c "$0"'
    return ["bash", "-c", script, command, str(memory_mb * 1024)]


def _pump(stream: IO[bytes], tail: collections.deque[bytes]) -> None:
    while True:
        line = stream.readline(MAX_LINE + 1)
        if not line:
            break
        if len(line) > MAX_LINE and not line.endswith(b"\n"):
            cut = 0
            while True:  # skip the rest of a very long line, keeping no more of it
                rest = stream.readline(64 * 1024)
                cut += len(rest)
                if not rest or rest.endswith(b"\n"):
                    break
            line = line[:MAX_LINE] + f" [... {len(line) - MAX_LINE + cut} bytes cut]\n".encode()
        tail.append(line)
    stream.close()


def _tail_text(tail: collections.deque[bytes]) -> str:
    data = b"".join(tail)
    if len(data) > TAIL_BYTES:
        data = data[-TAIL_BYTES:]
        data = data[data.find(b"\n") + 1 :] if b"\n" in data[:-1] else data
    return data.decode("utf-8", "replace")


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
    worktree: Path,
    command: str,
    timeout: float = 300,
    memory_mb: int | None = None,
    *,
    pass_env: Sequence[str] = (),
) -> CheckResult:
    _hide_own_environment()
    started = time.monotonic()
    tail: collections.deque[bytes] = collections.deque(maxlen=TAIL_LINES)
    try:
        proc = subprocess.Popen(
            _command(command, memory_mb),
            cwd=worktree,
            env=check_env(pass_env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, killed whole on timeout
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
    text = _tail_text(tail)
    if timed_out:
        text += f"\n[tinygen: killed after {timeout:g} s]\n"
    return CheckResult(command, code, timed_out, time.monotonic() - started, redact(text))


def run_checks(
    worktree: Path,
    commands: Sequence[str],
    timeout: float = 300,
    memory_mb: int | None = None,
    *,
    pass_env: Sequence[str] = (),
) -> list[CheckResult]:
    """Run every command (all of them, even after a failure) and return their results.
    ``pass_env``: the ``check-env`` setting (variables passed beyond :data:`BASE_ENV`)."""
    return [run_check(worktree, c, timeout, memory_mb, pass_env=pass_env) for c in commands]


def run_checks_on_tree(
    root: Path,
    tree: str,
    parent: str,
    commands: Sequence[str],
    timeout: float = 300,
    memory_mb: int | None = None,
    *,
    pass_env: Sequence[str] = (),
) -> list[CheckResult]:
    """:func:`run_checks` on exactly ``tree`` (the validation gate's: what delivery commits
    and ``tinygen apply`` writes), in a temporary worktree of a throwaway commit of it on
    ``parent``, removed afterwards: checks may write anything."""
    snapshot = snapshot_commit(root, tree, parent)
    with temp_worktree(root, snapshot) as wt:
        return run_checks(wt, commands, timeout, memory_mb, pass_env=pass_env)


__all__ = [
    "BASE_ENV",
    "TAIL_LINES",
    "CheckResult",
    "check_env",
    "run_check",
    "run_checks",
    "run_checks_on_tree",
]
