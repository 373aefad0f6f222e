"""Who made a thing tinygen leaves on disk while it works (a run record, a temporary
worktree): the process, as pid, start time and host, so that a later process can tell an
owner that is still working from one that died (``kill -9``, a crash, a power cut) —
even when the pid has been reused since.

The start time is Linux's (``/proc/<pid>/stat``, with the boot id: ticks count from boot).
Elsewhere only the pid is compared. An owner on another host (a git directory on a shared
disk) cannot be checked from here and is taken to be alive: nothing of a live run is
ever removed.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Owner:
    pid: int
    host: str
    started: str | None = None  # "<boot id>:<start ticks>" on Linux, else None

    @classmethod
    def current(cls) -> Owner:
        pid = os.getpid()
        return cls(pid, socket.gethostname(), _start_id(pid))

    def alive(self) -> bool:
        """False only when this owner has certainly ended."""
        if self.host != socket.gethostname():
            return True
        try:
            os.kill(self.pid, 0)  # signal 0: is there such a process?
        except ProcessLookupError:
            return False
        except PermissionError:
            pass  # another user's process: it exists
        except OSError:
            return True
        if _state(self.pid) == "Z":  # killed, not yet reaped by its parent
            return False
        now = _start_id(self.pid)
        return self.started is None or now is None or now == self.started

    def to_dict(self) -> dict[str, Any]:
        return {"pid": self.pid, "host": self.host, "started": self.started}

    @classmethod
    def from_dict(cls, data: Any) -> Owner | None:
        """The owner written by :meth:`to_dict`; None for anything else."""
        if not isinstance(data, dict):
            return None
        pid, host, started = data.get("pid"), data.get("host"), data.get("started")
        if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
            return None
        if not isinstance(host, str) or not (started is None or isinstance(started, str)):
            return None
        return cls(pid, host, started)


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name (field 3 onwards)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text("ascii", "replace")
    except OSError:
        return None
    return text.rpartition(")")[2].split()


def _state(pid: int) -> str | None:
    fields = _stat_fields(pid)
    return fields[0] if fields else None


def _start_id(pid: int) -> str | None:
    fields = _stat_fields(pid)
    if fields is None or len(fields) < 20:
        return None
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text("ascii").strip()
    except OSError:
        boot = ""
    return f"{boot}:{fields[19]}"  # field 22, starttime


__all__ = ["Owner"]
