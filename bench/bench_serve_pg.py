"""`tinygen serve` on PostgreSQL: one server vs two on one database, against SQLite.

Each configuration runs real `tinygen serve` processes (2 workers each) against the fake
Messages API (every reply delayed by ``--delay`` s; three model calls per job: plan, edit,
approve) and a local bare repository; ``--jobs`` jobs are submitted at once, round-robin
over the servers. Printed per configuration: wall time, jobs/s, p50/p95 job latency
(submitted -> finished, from the store's own timestamps), speed-up over one PostgreSQL
server, and the counted checks: jobs lost (never finished), jobs run twice (more model
calls than a job makes).

The last run kills one of two servers with SIGKILL once ``--kill-after`` jobs finished:
every job still ends, none runs twice, and the killed server's running jobs are marked
``interrupted (worker lost)`` — printed: how long after the kill, against the lease.

    .venv/bin/python bench/bench_serve_pg.py [--database postgresql://...] [--jobs 100]
        [--delay 0.5] [--lease 3]

Measured (2-core machine, load 8-10 from other work; --jobs 100 --delay 1 --lease 3): 0.55
jobs/s for SQLite and for one PostgreSQL server, 1.09 jobs/s for two (2.00x); with one of two
killed after 33 jobs: 0 lost, 0 run twice, its 2 running jobs marked lost 3.4 s after the
kill. docs/server.md has the table.

Without ``--database`` a throwaway cluster is started (tests/postgres.py; needs the
PostgreSQL server binaries). With one, each configuration gets its own new database in it
(the URL's user needs CREATEDB).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
import psycopg
from bench_serve import (
    CALLS_PER_JOB,
    isolated_home,
    job_of,
    make_remote,
    percentile,
    script,
)

from tests.fakes.anthropic_server import FakeAnthropic
from tinygen.server.errors import LOST_REASON

FINAL = ("succeeded", "failed", "cancelled")
WORKERS = 2


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    url: str


def start_server(store: list[str], base: Path, lease: float, jobs: int) -> Server:
    """A `tinygen serve` process on a port the OS chooses (read from uvicorn's line)."""
    log = base / f"serve-{uuid.uuid4().hex[:8]}.log"
    with open(log, "wb") as sink:
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "tinygen", "serve", "--port", "0", *store),
                *("--workers", str(WORKERS), "--queue-size", str(jobs), "--allow-local"),
                *("--lease-seconds", str(lease), "--log-level", "info"),
            ],
            env=dict(os.environ),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 120
    while True:
        found = re.search(r"Uvicorn running on (http://127\.0\.0\.1:\d+)", log.read_text())
        if found:
            with suppress(httpx.TransportError):
                if httpx.get(found.group(1) + "/healthz", timeout=5).status_code == 200:
                    return Server(proc, found.group(1))
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"a server did not start:\n{log.read_text()}")
        time.sleep(0.1)


def run(
    label: str,
    store: list[str],
    servers: int,
    args: argparse.Namespace,
    url: str,
    base: Path,
    database: str | None,
    kill_after: int | None = None,
) -> dict[str, Any]:
    jobs = args.jobs
    with FakeAnthropic(delay=args.delay) as fake:
        script(fake)
        os.environ["ANTHROPIC_API_KEY"] = fake.api_key
        os.environ["ANTHROPIC_BASE_URL"] = fake.base_url
        running = [start_server(store, base, args.lease, jobs) for _ in range(servers)]
        killed: dict[str, Any] = {}
        try:
            clients = [httpx.Client(base_url=s.url, timeout=120) for s in running]

            def submit(n: int) -> str:
                body = {"repoUrl": url, "prompt": f"Rename load_cfg (bench-job-{n:03d})"}
                response = clients[n % servers].post("/jobs", json=body)
                response.raise_for_status()
                return str(response.json()["id"])

            with ThreadPoolExecutor(16) as pool:
                ids = list(pool.map(submit, range(jobs)))
            while True:
                alive = [c for c, s in zip(clients, running, strict=True) if s.proc.poll() is None]
                listed = alive[-1].get("/jobs", params={"limit": 200}).json()["jobs"]
                done = sum(j["state"] in FINAL for j in listed if j["id"] in ids)
                if kill_after is not None and not killed and done >= kill_after:
                    victim = running[0]
                    victim.proc.send_signal(signal.SIGKILL)
                    victim.proc.wait(30)
                    killed = {"at": time.time(), "pid": victim.proc.pid}
                    assert database is not None
                    with psycopg.connect(database) as conn:  # its jobs, frozen by the kill
                        killed["running"] = [
                            r[0]
                            for r in conn.execute(
                                "SELECT id FROM tinygen_jobs WHERE state = 'running'"
                                " AND runner LIKE %s",
                                (f"%-{victim.proc.pid}-%",),
                            )
                        ]
                if done == jobs:
                    break
                time.sleep(0.5)
            views = [alive[-1].get(f"/jobs/{i}").json() for i in ids]
            for c in clients:
                c.close()
        finally:
            for s in running:
                if s.proc.poll() is None:
                    s.proc.send_signal(signal.SIGINT)
            for s in running:
                try:
                    s.proc.wait(30)
                except subprocess.TimeoutExpired:
                    s.proc.kill()
        per_job = Counter(job_of(r) for r in fake.requests)
    ok = [v for v in views if v["state"] == "succeeded" and v["result"]["status"] == "approved"]
    latencies = [v["finishedAt"] - v["createdAt"] for v in ok]
    wall = max(v["finishedAt"] for v in views) - min(v["createdAt"] for v in views)
    result = {
        "label": label,
        "wall": wall,
        "throughput": len(ok) / wall,
        "p50": statistics.median(latencies),
        "p95": percentile(latencies, 0.95),
        "succeeded": len(ok),
        "lost": sum(v["state"] not in FINAL for v in views),
        "twice": sum(1 for n in range(jobs) if per_job[f"bench-job-{n:03d}"] > CALLS_PER_JOB),
    }
    if killed:
        by_id = {v["id"]: v for v in views}
        theirs = [by_id[i] for i in killed["running"]]
        result["killed_running"] = len(theirs)
        result["interrupted"] = sum(
            v["state"] == "failed" and v["error"]["message"] == LOST_REASON for v in theirs
        )
        result["noticed_after"] = max((v["finishedAt"] - killed["at"] for v in theirs), default=0)
        result["other_failures"] = sum(
            v["state"] != "succeeded" for v in views if v["id"] not in killed["running"]
        )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", help="a PostgreSQL URL (default: a throwaway cluster)")
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--delay", type=float, default=0.5, help="seconds per model reply")
    parser.add_argument("--lease", type=float, default=3.0, help="the servers' lease, seconds")
    parser.add_argument("--kill-after", type=int, default=None, help="default: a third")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="tinygen-bench-serve-pg-") as tmp:
        base = Path(tmp)
        isolated_home(base)
        url = make_remote(base)

        cluster = None
        if args.database is None:
            from tests.postgres import Cluster

            cluster = Cluster().init()
            server_url = cluster.url()
        else:
            server_url = args.database

        def new_database() -> str:
            name = "tinygen_bench_" + uuid.uuid4().hex[:8]
            with psycopg.connect(server_url, autocommit=True) as conn:
                conn.execute(f"CREATE DATABASE {name}")
            return urlsplit(server_url)._replace(path=f"/{name}").geturl()

        def pg() -> list[str]:
            return ["--database", new_database()]

        try:
            print(
                f"{args.jobs} jobs submitted at once; {CALLS_PER_JOB} model calls per job, "
                f"{args.delay:g} s each; {WORKERS} workers per server; lease {args.lease:g} s"
            )
            # Warm up outside the figures: imports, the clone cache.
            warm = argparse.Namespace(**{**vars(args), "jobs": 2})
            run("warm-up", ["--db", str(base / "warm.sqlite3")], 1, warm, url, base, None)
            rows = []
            rows.append(
                run(
                    "SQLite, 1 server",
                    ["--db", str(base / "jobs.sqlite3")],
                    1,
                    args,
                    url,
                    base,
                    None,
                )
            )
            one = pg()
            rows.append(run("PostgreSQL, 1 server", one, 1, args, url, base, one[1]))
            two = pg()
            rows.append(run("PostgreSQL, 2 servers", two, 2, args, url, base, two[1]))
            kill = pg()
            kill_after = args.kill_after if args.kill_after is not None else args.jobs // 3
            rows.append(
                run(
                    "PostgreSQL, 2 servers, one killed",
                    kill,
                    2,
                    args,
                    url,
                    base,
                    kill[1],
                    kill_after=kill_after,
                )
            )
        finally:
            if cluster is not None:
                cluster.remove()

    baseline = rows[1]["throughput"]
    print(
        f"{'configuration':<36} {'wall s':>7} {'jobs/s':>7} {'p50 s':>6} {'p95 s':>6} "
        f"{'vs 1 PG':>7} {'ok':>4} {'lost':>4} {'twice':>5}"
    )
    for r in rows:
        print(
            f"{r['label']:<36} {r['wall']:>7.2f} {r['throughput']:>7.2f} {r['p50']:>6.2f} "
            f"{r['p95']:>6.2f} {r['throughput'] / baseline:>6.2f}x {r['succeeded']:>4} "
            f"{r['lost']:>4} {r['twice']:>5}"
        )
    k = rows[-1]
    print(
        f"killed server: {k['killed_running']} job(s) running at the kill, {k['interrupted']} "
        f"marked '{LOST_REASON}' {k['noticed_after']:.1f} s after it (lease {args.lease:g} s); "
        f"{k['other_failures']} other job(s) not succeeded"
    )


if __name__ == "__main__":
    main()
