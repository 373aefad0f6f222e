"""A throwaway PostgreSQL cluster for the tests: ``initdb`` and ``pg_ctl`` in a temporary
folder, reached through a unix socket in that folder (no TCP port to collide with tests
running in parallel), stopped and removed at the end.

The server binaries come from the distribution (``apt-get install postgresql``, which
``.ci/run`` does when they are missing); they are looked up in /usr/lib/postgresql/*/bin
(Debian does not put them on PATH), then on PATH. PostgreSQL refuses to run as root: as
root the cluster runs as the ``postgres`` user the package creates.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict

SETTINGS = {
    # A test database holds nothing worth a sync, and the machine is small.
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "shared_buffers": "16MB",
    "max_connections": "300",
    "listen_addresses": "''",
}


def bindir() -> Path:
    """Where initdb and pg_ctl are, or an error saying how to install them."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: [int(n) for n in re.findall(r"\d+", p.parent.parent.name)],
    )
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    raise RuntimeError(
        "the PostgreSQL tests need the PostgreSQL server (initdb, pg_ctl): "
        "apt-get install postgresql (.ci/run installs it)"
    )


class Cluster:
    """One PostgreSQL server on a unix socket in ``base``."""

    def __init__(self) -> None:
        self.bin = bindir()
        self.base = Path(tempfile.mkdtemp(prefix="tinygen-pg-"))
        self.data = self.base / "data"
        self.log = self.base / "server.log"
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            try:
                user = pwd.getpwnam("postgres")  # created by Debian's postgresql package
            except KeyError:
                raise RuntimeError(
                    "PostgreSQL refuses to run as root, and there is no `postgres` user to run "
                    "the test cluster as: create one (useradd --system postgres)"
                ) from None
            os.chown(self.base, user.pw_uid, user.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str) -> None:
        done = subprocess.run(
            [*self.as_user, *args], capture_output=True, text=True, cwd=self.base, check=False
        )
        if done.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"{args[0]} failed: {done.stdout}{done.stderr}\n{log}")

    def init(self) -> Cluster:
        self._run(
            str(self.bin / "initdb"),
            *("-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"),
            *("--no-sync", "--no-instructions", "--locale=C"),
        )
        return self.start()

    def start(self) -> Cluster:
        options = " ".join(f"-c {k}={v}" for k, v in SETTINGS.items())
        self._run(
            str(self.bin / "pg_ctl"),
            *("-D", str(self.data), "-l", str(self.log), "-w", "-t", "60"),
            *("-o", f"-k {self.base} {options}", "start"),
        )
        return self

    def stop(self, mode: str = "fast") -> None:
        """``mode``: fast (disconnect clients, clean stop) or immediate (as a crash)."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@/{dbname}?host={self.base}"

    def create_database(self) -> str:
        """A new empty database; its URL."""
        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = conninfo_to_dict(url)["dbname"]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def remove(self) -> None:
        with contextlib.suppress(RuntimeError):  # not running
            self.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)


__all__ = ["Cluster", "bindir"]
