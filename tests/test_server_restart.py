"""Restarts: a `tinygen serve` process killed with SIGKILL while a job runs and two wait,
then a new server on the same SQLite file; and a graceful stop of an in-thread server.
No job is lost, none runs twice."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import httpx

from tests import test_server_api as api
from tests.fakes.anthropic_server import FakeAnthropic
from tests.test_server_api import (
    EDIT,
    PLAN,
    VERIFY,
    Gate,
    approve,
    no_change,
    plan_reply,
    rename_edit,
    wait_for,
)
from tinygen.server.config import ServerConfig
from tinygen.server.errors import SHUTDOWN_REASON
from tinygen.server.serving import RunningServer
from tinygen.server.worker import RESTART_REASON

# The API tests' fixtures, shared by name.
fake = api.fake
config = api.config
repo_url = api.repo_url
serve = api.serve


def start_process(db: Path, log: Path) -> tuple[subprocess.Popen[bytes], int]:
    """`tinygen serve` as its own process (it inherits the fake server's environment) on a
    port the OS chooses, read from uvicorn's startup line: a port picked here and then
    released could be taken by a test running in parallel before the server binds it."""
    with open(log, "wb") as sink:
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "tinygen", "serve", "--port", "0", "--db", str(db)),
                *("--workers", "1", "--allow-local", "--log-level", "info"),
            ],
            env=dict(os.environ),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60  # a safety limit
    while True:
        started = re.search(r"Uvicorn running on http://127\.0\.0\.1:(\d+)", log.read_text())
        if started:
            port = int(started.group(1))
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    return proc, port
            except httpx.TransportError:
                pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(log.read_text())
        time.sleep(0.1)


def prompts_seen(server: FakeAnthropic, word: str) -> int:
    """Plan requests for the job whose prompt is ``word`` (the request is in the system part)."""
    return sum(1 for r in server.requests_for(PLAN) if word in r.system_text + r.text)


def test_killed_server_restarts_without_losing_or_repeating_jobs(
    fake: FakeAnthropic,
    config: ServerConfig,
    serve: Callable[[ServerConfig], RunningServer],
    repo_url: str,
    tmp_path: Path,
) -> None:
    gate = Gate()
    fake.on(PLAN, gate.handler(no_change))
    proc, port = start_process(config.db_path, tmp_path / "serve.log")
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            ids = {}
            for name in ("alpha", "bravo", "charlie"):
                response = client.post("/jobs", json={"repoUrl": repo_url, "prompt": name})
                assert response.status_code == 202, response.text
                ids[name] = response.json()["id"]
                if name == "alpha":
                    gate.wait_entered()  # alpha is running, inside its model call
            assert client.get(f"/jobs/{ids['alpha']}").json()["state"] == "running"
            assert client.get(f"/jobs/{ids['bravo']}").json()["state"] == "queued"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    gate.release.set()  # the dead server's request is answered into the void

    fake.on(PLAN, no_change)
    server = serve(replace(config, workers=1))
    with httpx.Client(base_url=server.url, timeout=60) as client:
        alpha = client.get(f"/jobs/{ids['alpha']}").json()
        assert alpha["state"] == "failed" and alpha["error"]["message"] == RESTART_REASON
        for name in ("bravo", "charlie"):
            job = wait_for(client, ids[name], {"succeeded", "failed", "cancelled"})
            assert job["state"] == "succeeded" and job["result"]["status"] == "no_change"
        listed = {j["id"]: j["state"] for j in client.get("/jobs").json()["jobs"]}
    assert listed == {
        ids["alpha"]: "failed",
        ids["bravo"]: "succeeded",
        ids["charlie"]: "succeeded",
    }
    assert [prompts_seen(fake, n) for n in ("alpha", "bravo", "charlie")] == [1, 1, 1]


def test_graceful_stop_interrupts_running_and_keeps_queued(
    fake: FakeAnthropic,
    config: ServerConfig,
    serve: Callable[[ServerConfig], RunningServer],
    repo_url: str,
) -> None:
    gate = Gate()
    # A plan with a file: after it the pipeline reports progress again (and stops there).
    fake.on(PLAN, gate.handler(lambda r: plan_reply("app/config.py")))
    fake.on(EDIT, rename_edit)
    fake.on(VERIFY, approve)
    first = serve(replace(config, workers=1, drain_timeout=0.2))
    with httpx.Client(base_url=first.url, timeout=60) as client:
        running = client.post("/jobs", json={"repoUrl": repo_url, "prompt": "alpha"}).json()["id"]
        gate.wait_entered()
        waiting = client.post("/jobs", json={"repoUrl": repo_url, "prompt": "bravo"}).json()["id"]
    # The model call returns only after the drain time: the job stops at its next step.
    threading.Timer(1.0, gate.release.set).start()
    first.stop()

    fake.on(PLAN, no_change)
    second = serve(config)
    with httpx.Client(base_url=second.url, timeout=60) as client:
        stopped = client.get(f"/jobs/{running}").json()
        assert stopped["state"] == "failed" and stopped["error"]["message"] == SHUTDOWN_REASON
        assert stopped["error"]["hint"] == "submit the job again"
        job = wait_for(client, waiting, {"succeeded", "failed"})
        assert job["state"] == "succeeded"
    assert [prompts_seen(fake, n) for n in ("alpha", "bravo")] == [1, 1]
    assert fake.requests_for(EDIT) == [], "the interrupted job edited nothing"
