"""Several `tinygen serve` processes on one PostgreSQL database (a real cluster,
tests/postgres.py): each job claimed once, event streams and cancellation across servers, a
server killed with SIGKILL (its job fails as lost once its lease runs out, its queued jobs
run elsewhere), and a database that goes away and comes back. Facts are counted from the
fake model's requests and the database, never timed."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests import test_server_api as api
from tests.fakes.anthropic_server import FakeAnthropic
from tests.test_server_api import (
    EDIT,
    PLAN,
    VERIFY,
    Gate,
    approve,
    no_change,
    parse_sse,
    plan_reply,
    rename_edit,
    wait_for,
)
from tests.test_server_restart import prompts_seen
from tinygen.server.config import ServerConfig
from tinygen.server.errors import LOST_REASON
from tinygen.server.serving import RunningServer

fake = api.fake
repo_url = api.repo_url
serve = api.serve
FINAL = {"succeeded", "failed", "cancelled"}


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60)


@pytest.fixture
def start(pg_url: str, tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """`tinygen serve --database URL` as its own process (it inherits the fake model's
    environment), on a port the OS chooses, read from uvicorn's startup line."""
    started: list[Server] = []

    def launch(workers: int = 2, lease: float = 30.0) -> Server:
        log = tmp_path / f"serve-{len(started)}.log"
        with open(log, "wb") as sink:
            proc = subprocess.Popen(
                [
                    *(sys.executable, "-m", "tinygen", "serve", "--port", "0"),
                    *("--database", pg_url, "--workers", str(workers)),
                    *("--lease-seconds", str(lease), "--allow-local", "--log-level", "info"),
                ],
                env=dict(os.environ),
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60  # a safety limit
        while True:
            found = re.search(r"Uvicorn running on (http://127\.0\.0\.1:\d+)", log.read_text())
            if found:
                try:
                    if httpx.get(found.group(1) + "/healthz", timeout=5).status_code == 200:
                        server = Server(proc, found.group(1), log)
                        started.append(server)
                        return server
                except httpx.TransportError:
                    pass
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(log.read_text())
            time.sleep(0.1)

    yield launch
    for server in started:
        if server.proc.poll() is None:
            server.proc.send_signal(signal.SIGINT)
    for server in started:
        try:
            server.proc.wait(30)
        except subprocess.TimeoutExpired:
            server.proc.kill()


def rows(url: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, args).fetchall()


def runner_pid(runner: str) -> int:
    """The process of a runner name, ``<host>-<pid>-<slot>``."""
    return int(runner.rsplit("-", 2)[1])


def submit(client: httpx.Client, repo_url: str, prompt: str) -> str:
    response = client.post("/jobs", json={"repoUrl": repo_url, "prompt": prompt})
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def test_two_servers_share_one_queue_and_claim_each_job_once(
    fake: FakeAnthropic, start: Callable[..., Server], repo_url: str, pg_url: str
) -> None:
    gate = Gate()
    fake.on(PLAN, gate.handler(no_change))
    a, b = start(workers=2), start(workers=2)
    with a.client() as ca, b.client() as cb:
        ids = [submit(c, repo_url, f"job-{n:02d}") for n, c in enumerate((ca, cb, ca, cb))]
        for _ in ids:
            gate.wait_entered()  # four jobs in model calls at once: two workers on each server
        running = rows(pg_url, "SELECT runner FROM tinygen_jobs WHERE state = 'running'")
        assert Counter(runner_pid(r) for (r,) in running) == {a.pid: 2, b.pid: 2}
        ids += [submit(ca, repo_url, f"job-{n:02d}") for n in range(4, 12)]
        gate.release.set()
        views = [wait_for(cb, i, FINAL) for i in ids]
        listed = {j["id"] for j in ca.get("/jobs", params={"limit": 50}).json()["jobs"]}
    assert [v["state"] for v in views] == ["succeeded"] * 12
    assert listed == set(ids)
    assert [prompts_seen(fake, f"job-{n:02d}") for n in range(12)] == [1] * 12, "each ran once"
    starts = rows(
        pg_url, "SELECT job_id, count(*) FROM tinygen_events WHERE stage = 'running' GROUP BY 1"
    )
    assert sorted(n for _, n in starts) == [1] * 12, "one claim per job"
    runners = rows(pg_url, "SELECT runner FROM tinygen_jobs")
    assert {runner_pid(r) for (r,) in runners} <= {a.pid, b.pid}


def test_events_stream_from_one_server_and_cancel_through_another(
    fake: FakeAnthropic, start: Callable[..., Server], repo_url: str, pg_url: str
) -> None:
    gate = Gate()
    # A plan with a file: after it the pipeline reports progress again (and stops there).
    fake.on(PLAN, gate.handler(lambda r: plan_reply("app/config.py")))
    fake.on(EDIT, rename_edit)
    fake.on(VERIFY, approve)
    a, b = start(workers=1), start(workers=1)
    with a.client() as ca:
        job_id = submit(ca, repo_url, "alpha")
    gate.wait_entered()
    ((runner,),) = rows(pg_url, "SELECT runner FROM tinygen_jobs WHERE id = %s", job_id)
    other = b if runner_pid(runner) == a.pid else a  # a server that does not run it

    streamed: list[str] = []
    subscribed = threading.Event()

    def follow() -> None:
        with (
            other.client() as client,
            client.stream("GET", f"/jobs/{job_id}/events") as response,
        ):
            subscribed.set()
            for line in response.iter_lines():
                streamed.append(line)

    reader = threading.Thread(target=follow)
    reader.start()
    assert subscribed.wait(30)
    with other.client() as client:
        cancelled = client.delete(f"/jobs/{job_id}")
        assert cancelled.status_code == 202 and cancelled.json()["cancelRequested"]
        gate.release.set()
        job = wait_for(client, job_id, FINAL)
    reader.join(60)
    assert not reader.is_alive()
    assert job["state"] == "cancelled"
    assert fake.requests_for(EDIT) == [], "the worker stopped before its next model call"
    events = parse_sse("\n".join(streamed) + "\n\n")
    names = [(name, data.get("state") or data.get("stage")) for name, data in events]
    assert names[:2] == [("state", "queued"), ("state", "running")]
    assert ("progress", "cancel") in names and names[-2:] == [
        ("state", "cancelled"),
        ("end", "cancelled"),
    ]
    # Resumed from another server after an event id: only what came later.
    ids = [int(m) for m in re.findall(r"^id: (\d+)$", "\n".join(streamed), re.MULTILINE)]
    with a.client() as client:
        again = client.get(f"/jobs/{job_id}/events", headers={"Last-Event-ID": str(ids[1])})
    resumed = parse_sse(again.text)
    assert [n for n, _ in resumed] == [n for n, _ in events[2:]]


def test_a_killed_servers_job_fails_as_lost_and_its_queue_runs_elsewhere(
    fake: FakeAnthropic, start: Callable[..., Server], repo_url: str
) -> None:
    gate = Gate()
    fake.on(PLAN, gate.handler(no_change))
    doomed = start(workers=1, lease=2)
    with doomed.client() as client:
        ids = {"alpha": submit(client, repo_url, "alpha")}
        gate.wait_entered()  # alpha is running on the doomed server, inside its model call
        ids |= {n: submit(client, repo_url, n) for n in ("bravo", "charlie")}
        assert client.get(f"/jobs/{ids['bravo']}").json()["state"] == "queued"
    doomed.proc.send_signal(signal.SIGKILL)
    doomed.proc.wait(30)
    gate.release.set()  # the dead server's request is answered into the void
    fake.on(PLAN, no_change)

    survivor = start(workers=1, lease=2)
    with survivor.client() as client:
        alpha = wait_for(client, ids["alpha"], FINAL)
        assert alpha["state"] == "failed"
        assert alpha["error"]["message"] == LOST_REASON and alpha["error"]["kind"] == "Interrupted"
        for name in ("bravo", "charlie"):
            assert wait_for(client, ids[name], FINAL)["state"] == "succeeded"
        health = client.get("/healthz").json()
    assert health["lostJobs"] == 1 and health["database"] == {
        "kind": "postgresql",
        "ok": True,
        "notifications": True,
    }
    assert [prompts_seen(fake, n) for n in ("alpha", "bravo", "charlie")] == [1, 1, 1]

    # Everything survives every server going: a new one finds the jobs and takes new ones.
    survivor.proc.send_signal(signal.SIGKILL)
    survivor.proc.wait(30)
    later = start(workers=1, lease=2)
    with later.client() as client:
        states = {j["id"]: j["state"] for j in client.get("/jobs").json()["jobs"]}
        assert states == {
            ids["alpha"]: "failed",
            ids["bravo"]: "succeeded",
            ids["charlie"]: "succeeded",
        }
        delta = submit(client, repo_url, "delta")
        assert wait_for(client, delta, FINAL)["state"] == "succeeded"


def test_a_lost_database_answers_503_and_the_server_reconnects(
    fake: FakeAnthropic,
    serve: Callable[[ServerConfig], RunningServer],
    repo_url: str,
    tmp_path: Path,
) -> None:
    from tests.postgres import Cluster

    cluster = Cluster().init()  # its own: this test stops it
    server: RunningServer | None = None
    try:
        config = ServerConfig(
            port=0,
            workers=1,
            queue_size=10,
            database_url=cluster.create_database(),
            allow_local=True,
            cache_dir=tmp_path / "clones",
            poll_interval=0.2,
        )
        gate = Gate()
        fake.on(PLAN, gate.handler(no_change))
        server = serve(config)
        with httpx.Client(base_url=server.url, timeout=60) as client:
            running = submit(client, repo_url, "alpha")
            gate.wait_entered()
            waiting = submit(client, repo_url, "bravo")

            cluster.stop("fast")  # every connection dropped
            down = client.get(f"/jobs/{running}")
            assert down.status_code == 503 and down.headers["Retry-After"].isdigit()
            assert "job database is unavailable" in down.json()["detail"]
            refused = client.post("/jobs", json={"repoUrl": repo_url, "prompt": "charlie"})
            assert refused.status_code == 503
            health = client.get("/healthz")
            assert health.status_code == 503 and health.json()["database"]["ok"] is False
            gate.release.set()  # alpha's model call returns while the database is away

            cluster.start()
            deadline = time.monotonic() + 60  # a safety limit
            while client.get("/healthz").status_code != 200:
                assert time.monotonic() < deadline, "the server did not reconnect"
                time.sleep(0.2)
            states = [wait_for(client, i, FINAL)["state"] for i in (running, waiting)]
    finally:
        if server is not None:
            server.stop()  # before its database goes (else its workers wait out the pool)
        cluster.remove()
    assert states == ["succeeded", "succeeded"], "the running job's outcome and the queue kept"
    assert [prompts_seen(fake, n) for n in ("alpha", "bravo", "charlie")] == [1, 1, 0]


def test_a_database_url_must_be_postgresql(tmp_path: Path) -> None:
    from tinygen.errors import ConfigError

    with pytest.raises(ConfigError) as bad:
        ServerConfig(database_url="mysql://db/jobs")
    assert bad.value.settings == ("database_url",) and "postgresql://" in bad.value.message
    assert replace(ServerConfig(), database_url="postgres://u@h/db").database_url


def test_an_unreachable_database_is_refused_at_start_without_its_password(
    tmp_path: Path,
) -> None:
    from tinygen.errors import ConfigError
    from tinygen.server.postgres_store import PostgresJobStore

    url = f"postgresql://tinygen:s3cret-pass@/jobs?host={tmp_path}&port=1"
    with pytest.raises(ConfigError) as refused:
        PostgresJobStore(url, connect_timeout=2)
    assert refused.value.settings == ("database_url",)
    assert "s3cret-pass" not in refused.value.message
    assert f"tinygen@{tmp_path}:1/jobs" in refused.value.message


def test_a_keys_spending_cap_holds_across_servers(
    fake: FakeAnthropic,
    pg_url: str,  # before serve: the servers stop before their database is dropped
    serve: Callable[[ServerConfig], RunningServer],
    repo_url: str,
    tmp_path: Path,
) -> None:
    fake.on(PLAN, no_change)
    key_a, key_b = "key-a-0123456789abcdef", "key-b-0123456789abcdef"
    config = ServerConfig(
        port=0,
        workers=1,
        database_url=pg_url,
        token=f"{key_a},{key_b}",
        max_key_spend=1e-9,  # one finished job is over it
        allow_local=True,
        cache_dir=tmp_path / "clones",
        poll_interval=0.2,
    )
    first, second = serve(config), serve(replace(config, cache_dir=tmp_path / "clones-2"))
    body = {"repoUrl": repo_url, "prompt": "alpha"}

    def client(server: RunningServer, key: str) -> httpx.Client:
        return httpx.Client(
            base_url=server.url, timeout=60, headers={"Authorization": f"Bearer {key}"}
        )

    with client(first, key_a) as a1, client(second, key_a) as a2, client(second, key_b) as b2:
        done = wait_for(a1, a1.post("/jobs", json=body).json()["id"], FINAL)
        assert done["state"] == "succeeded" and done["result"]["costUsd"] > 0
        refused = a2.post("/jobs", json=body)  # the other server knows what key A spent
        assert refused.status_code == 429, refused.text
        assert refused.headers["Retry-After"].isdigit()
        assert "max_key_spend" in refused.json()["hint"] and key_a not in refused.text
        other = b2.post("/jobs", json={**body, "prompt": "bravo"})
        assert other.status_code == 202, "another key spends on its own"
        assert wait_for(b2, other.json()["id"], FINAL)["state"] == "succeeded"
        wrong = httpx.post(f"{first.url}/jobs", json=body, headers={"Authorization": "Bearer x"})
        assert wrong.status_code == 401
    stored = rows(pg_url, "SELECT DISTINCT client_key FROM tinygen_jobs")
    assert len(stored) == 2 and all(k.startswith("key-") and len(k) == 20 for (k,) in stored)
    assert not {key_a, key_b} & {k for (k,) in stored}, "fingerprints, never the keys"
