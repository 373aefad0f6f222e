"""A server's life without its web framework (tinygen.server.lifecycle): the job database
held one server per SQLite file, the workers run after a stopped server's jobs are failed,
and the clone cache's path hidden in everything a job's failure shows a client — checked
here directly and through the HTTP API with a real failing clone inside the cache."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import test_server_api as api
from tests.fakes.anthropic_server import FakeAnthropic
from tests.test_server_api import parse_sse
from tinygen.errors import ConfigError, ExitCode, RepoError
from tinygen.redact import redact
from tinygen.repo.clone import cache_path
from tinygen.repo.spec import parse_repo_spec
from tinygen.server.config import ServerConfig
from tinygen.server.jobs import Job, JobSpec, JobState, JobStore
from tinygen.server.lifecycle import CACHE_SHOWN_AS, held_database, prepared, running_jobs
from tinygen.server.serving import RunningServer
from tinygen.server.worker import Progress

fake = api.fake
config = api.config
repo_url = api.repo_url
serve = api.serve


def wait_finished(store: JobStore, job_id: str) -> Job:
    deadline = time.monotonic() + 60
    while True:
        job = store.get(job_id)
        assert job is not None
        if job.state.finished:
            return job
        assert time.monotonic() < deadline, f"job {job_id} did not end"
        time.sleep(0.02)


def test_one_server_holds_a_sqlite_database(config: ServerConfig) -> None:
    with held_database(config, "http://127.0.0.1:1, pid 1") as store:
        job = store.add(JobSpec("https://github.com/o/r", "x"), max_queued=10)
        with (
            pytest.raises(ConfigError) as refused,
            held_database(config, "http://127.0.0.1:2, pid 2"),
        ):
            pass
        assert refused.value.exit_code == ExitCode.CONFIG
        assert "in use by another tinygen server (http://127.0.0.1:1, pid 1)" in str(
            refused.value.message
        )
    with held_database(config, "http://127.0.0.1:2, pid 2") as again:  # released
        assert again.get(job.id) is not None, "the same database, reopened"


def test_preparing_refuses_before_anything_listens(
    config: ServerConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("TINYGEN_MODEL", raising=False)
    steps = [
        (replace(config, host="0.0.0.0"), "refusing to listen on 0.0.0.0"),
        (config, "ANTHROPIC_API_KEY"),
    ]
    for server_config, refusal in steps:
        with pytest.raises(ConfigError, match=re.escape(refusal)), prepared(server_config):
            pass
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-not-sent")
    bad_db = replace(config, db_path=blocker / "jobs.sqlite3")
    with pytest.raises(ConfigError, match="cannot open the job database"), prepared(bad_db):
        pass
    with prepared(config) as ready:  # held until the block ends
        assert ready.url == "http://127.0.0.1:0" and ready.database == str(config.db_path)
        with pytest.raises(ConfigError, match="in use by another"), prepared(config):
            pass


def test_workers_start_after_a_stopped_servers_jobs_fail(config: ServerConfig) -> None:
    hidden = config.cache_dir
    assert hidden is not None
    seen: list[str] = []

    def execute(job: Job, progress: Progress) -> dict[str, Any]:
        seen.append(job.spec.prompt)
        progress("clone", f"reading {hidden}/github.com/o/r.git")
        if job.spec.prompt == "fail":
            raise RepoError(f"git fetch failed in {hidden / 'github.com' / 'o' / 'r.git'}")
        return {"status": "no_change"}

    with held_database(config, "test") as store:
        left = store.add(JobSpec("https://github.com/o/r", "left running"), max_queued=10)
        assert store.claim("a-stopped-server") is not None
        ok = store.add(JobSpec("https://github.com/o/r", "ok"), max_queued=10)
        failing = store.add(JobSpec("https://github.com/o/r", "fail"), max_queued=10)
        with running_jobs(replace(config, workers=1), store, execute) as running:
            assert running.recovered == [left.id]
            assert wait_finished(store, ok.id).state == JobState.SUCCEEDED
            failed = wait_finished(store, failing.id)
            assert not running.closing.is_set()
        assert running.closing.is_set(), "event streams are told the server stops"
        recovered = store.get(left.id)
        assert recovered is not None and recovered.state == JobState.FAILED
        assert seen == ["ok", "fail"], "the job left running is not run again"
        assert failed.state == JobState.FAILED and failed.error is not None
        assert failed.error["message"] == f"git fetch failed in {CACHE_SHOWN_AS}/github.com/o/r.git"
        events = [e.message for e in store.events(failing.id)]
        assert f"reading {CACHE_SHOWN_AS}/github.com/o/r.git" in events
        assert not any(str(hidden) in m for m in events), events
    # Once the workers stop, the path is the server's own text again (its log, a CLI).
    assert redact(f"in {hidden}/x") == f"in {hidden}/x"


def test_a_failing_clone_inside_the_cache_shows_no_server_path(
    fake: FakeAnthropic,
    config: ServerConfig,
    serve: Callable[[ServerConfig], RunningServer],
    repo_url: str,
    make_repo: Callable[..., Path],
    bare_remote: Callable[[Path], Path],
) -> None:
    """Two real clones that fail in the server's clone cache: one whose cache entry is not a
    repository (git names the entry: a RepoError), one whose entry cannot be created at all
    (an OSError naming it: an internal error). Neither the API's answers, the job's error
    nor its event stream shows where the cache is."""
    assert config.cache_dir is not None
    cache = config.cache_dir
    broken_entry = cache_path(parse_repo_spec(repo_url), cache)
    broken_entry.mkdir(parents=True)
    (broken_entry / "HEAD").write_text("not a repository\n")

    other_url = f"file://{bare_remote(make_repo(api.APP))}"
    blocked = cache_path(parse_repo_spec(other_url), cache)
    blocked.parent.parent.mkdir(parents=True, exist_ok=True)
    blocked.parent.write_text("a file where the cache wants a folder")

    server = serve(config)
    with httpx.Client(base_url=server.url, timeout=120) as client:
        for url, status, kind in ((repo_url, 422, "RepoError"), (other_url, 500, "InternalError")):
            answer = client.post("/analyze", json={"repoUrl": url, "prompt": "x"})
            assert answer.status_code == status, answer.text
            job_id = answer.json()["jobId"]
            job = client.get(f"/jobs/{job_id}").json()
            events = client.get(f"/jobs/{job_id}/events").text
            assert job["state"] == "failed" and job["error"]["kind"] == kind, job
            assert CACHE_SHOWN_AS in job["error"]["message"], "the failure still says where"
            for text in (answer.text, json.dumps(job), events):
                assert str(cache) not in text, text
                assert str(cache.resolve()) not in text, text
            assert any(name == "end" for name, _ in parse_sse(events))
    assert fake.requests == [], "no model call for a repository that never opened"
