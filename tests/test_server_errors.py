"""How failures reach a client: a failed job's HTTP status comes from the class of its
error (stored as the job error's ``kind`` by the real worker pool and SQLite store), never
from its message; what a client sees holds no server paths; ``ref`` is checked by git.

The executors here are the pool's parameter (they raise the error under test), not a
replaced tinygen function."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import test_server_api as api
from tests.fakes.anthropic_server import ErrorReply, FakeAnthropic
from tests.test_server_api import EDIT, PLAN, VERIFY, plan_reply, rename_edit
from tinygen.errors import (
    Cancelled,
    ConfigError,
    ForgeError,
    LLMAuthError,
    LLMOverloadedError,
    PatchApplyError,
    PathPolicyError,
    RefNotFoundError,
    RepoAuthError,
    RepoError,
    RepoNetworkError,
    RepoNotFoundError,
    RepoTooLargeError,
    ValidationError,
)
from tinygen.server.config import ServerConfig
from tinygen.server.errors import (
    ApiError,
    ServerStopping,
    error_info,
    failure_status,
    status_of_kind,
)
from tinygen.server.inputs import check_ref, check_repo_url
from tinygen.server.jobs import Job, JobSpec, JobState
from tinygen.server.serving import RunningServer
from tinygen.server.sqlite_store import SQLiteJobStore
from tinygen.server.worker import RESTART_REASON, Progress, WorkerPool

# The API tests' fixtures, shared by name.
fake = api.fake
config = api.config
repo_url = api.repo_url
serve = api.serve

CLI_FLAG = re.compile(r"(?<![\w-])--[a-z]")  # a command-line flag such as --jobs


@pytest.fixture
def store(tmp_path: Path) -> SQLiteJobStore:
    return SQLiteJobStore(tmp_path / "jobs.sqlite3")


def run_to_the_end(store: SQLiteJobStore, error: BaseException) -> Job:
    """One job whose executor raises ``error``, run by a real pool until it ends."""

    def execute(job: Job, progress: Progress) -> dict[str, Any]:
        progress("work", "about to fail")
        raise error

    pool = WorkerPool(store, execute, workers=1, poll_interval=0.02)
    pool.start()
    try:
        job_id = store.add(JobSpec("https://github.com/o/r", "x"), max_queued=10).id
        pool.wake()
        deadline = time.monotonic() + 30
        while True:
            job = store.get(job_id)
            assert job is not None
            if job.state.finished:
                return job
            assert time.monotonic() < deadline, "the job did not end"
            time.sleep(0.01)
    finally:
        pool.stop()


# Messages that a message parser would have misread: the class decides, not the words.
@pytest.mark.parametrize(
    ("error", "status"),
    [
        (RepoNetworkError("could not fetch: the repository was not found"), 502),
        (RepoError("could not fetch: connection timed out"), 422),
        (RepoAuthError("could not fetch: unable to access (returned error: 503)"), 422),
        (RepoNotFoundError("could not fetch: early EOF"), 422),
        (RefNotFoundError("no branch or tag 'x'"), 422),
        (RepoTooLargeError("too large"), 422),
        (ConfigError("cannot parse the config file"), 422),
        (LLMAuthError("refused: repository too large"), 502),
        (LLMOverloadedError("overloaded"), 502),
        (PatchApplyError("a hunk does not fit"), 502),
        (ValidationError("the gate refused the diff"), 502),
        (PathPolicyError(".git/config is not writable"), 502),
        (Cancelled("interrupted"), 409),
        (ServerStopping(), 503),
        (ForgeError("the GitHub API failed: connection refused"), 500),
        (KeyError("interrupted"), 500),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v),
)
def test_failed_jobs_answer_by_their_error_class(
    store: SQLiteJobStore, error: BaseException, status: int
) -> None:
    job = run_to_the_end(store, error)
    assert job.state == JobState.FAILED and job.error is not None
    expected_kind = type(error).__name__ if not isinstance(error, KeyError) else "InternalError"
    assert job.error["kind"] == expected_kind
    assert failure_status(job.error, job.state) == status


def test_interrupted_and_cancelled_jobs(store: SQLiteJobStore) -> None:
    running = store.add(JobSpec("https://github.com/o/r", "x"), max_queued=10)
    assert store.claim("gone-worker") is not None
    assert store.recover(RESTART_REASON) == [running.id]
    recovered = store.get(running.id)
    assert recovered is not None and recovered.error is not None
    assert failure_status(recovered.error, recovered.state) == 503

    queued = store.add(JobSpec("https://github.com/o/r", "y"), max_queued=10)
    cancelled = store.cancel(queued.id)
    assert cancelled is not None and cancelled.state == JobState.CANCELLED
    assert failure_status(cancelled.error or {}, cancelled.state) == 409


def test_unknown_kinds_are_internal_errors() -> None:
    assert status_of_kind("InternalError") == 500
    assert status_of_kind("") == 500
    assert status_of_kind("NoSuchErrorClass") == 500
    assert status_of_kind("RepoNetworkError") == 502 and status_of_kind("RepoError") == 422


def test_a_clients_error_never_holds_the_saved_diff_path(store: SQLiteJobStore) -> None:
    error = LLMAuthError("the key was refused", hint="check the key")
    error.saved_diff = "/srv/tinygen/runs/20260101/diff.patch"
    error.run_id = "20260101-run"
    job = run_to_the_end(store, error)
    assert job.error is not None
    assert job.error["hint"] == "check the key"
    assert "/srv/tinygen" not in repr(job.error) and "diff.patch" not in repr(job.error)
    assert error_info(error) == job.error
    alone = LLMAuthError("the key was refused")
    alone.saved_diff = "/srv/tinygen/runs/20260101/diff.patch"
    assert error_info(alone)["hint"] is None


@pytest.mark.parametrize(
    "ref",
    ["main", "feature/x-1", "v1.2.3", "release_2", "0123456789abcdef0123456789abcdef01234567"],
)
def test_refs_git_accepts_pass(ref: str) -> None:
    check_ref(ref)


@pytest.mark.parametrize(
    "ref", ["a..b", "v1.lock", "x/.hidden", "a//b", "a/", "x.", "HEAD", "a/b.lock/c"]
)
def test_refs_git_refuses_are_a_422_on_ref(ref: str) -> None:
    with pytest.raises(ApiError) as refused:
        check_ref(ref)
    assert refused.value.status == 422
    assert [e["field"] for e in refused.value.errors or []] == ["ref"]
    assert "not a valid git ref name" in refused.value.detail


def test_a_model_failure_after_the_diff_answers_502_in_api_terms(
    fake: FakeAnthropic,
    config: ServerConfig,
    serve: Callable[[ServerConfig], RunningServer],
    repo_url: str,
) -> None:
    """The verify call fails after the edit made a diff: the pipeline saves that diff on
    the server, and the client learns neither the file nor a command-line flag."""
    fake.on(PLAN, lambda r: plan_reply("app/config.py"))
    fake.on(EDIT, rename_edit)
    fake.on(VERIFY, lambda r: ErrorReply.overloaded())
    server = serve(config)
    with httpx.Client(base_url=server.url, timeout=60) as client:
        answer = client.post("/analyze", json={"repoUrl": repo_url, "prompt": "Rename load_cfg"})
        assert answer.status_code == 502, answer.text
        job = client.get(f"/jobs/{answer.json()['jobId']}").json()
    assert job["error"]["kind"] == "LLMOverloadedError"
    assert len(fake.requests_for(EDIT)) == 1, "the failure came after the edit"
    assert config.cache_dir is not None
    saved = [p for p in config.cache_dir.rglob("diff.patch") if job["id"] in str(p)]
    assert saved, "the server kept the diff so far in the job's run record"
    for text in (answer.text, str(job["error"])):
        assert "diff.patch" not in text and str(config.cache_dir) not in text
        assert not CLI_FLAG.search(text), text


def test_a_web_page_url_is_refused_in_request_terms(config: ServerConfig) -> None:
    with pytest.raises(ApiError) as refused:
        check_repo_url("https://github.com/o/r/tree/main", config)
    assert refused.value.status == 422
    assert refused.value.detail.endswith("it is a web page, not a repository URL")
    assert refused.value.hint == "send repoUrl https://github.com/o/r and ref main"
    assert not CLI_FLAG.search(refused.value.detail + str(refused.value.hint))


def test_an_empty_repository_names_the_ref_field(
    fake: FakeAnthropic,
    config: ServerConfig,
    serve: Callable[[ServerConfig], RunningServer],
    tmp_path: Path,
) -> None:
    empty = tmp_path / "empty.git"
    subprocess.run(["git", "init", "-q", "--bare", str(empty)], check=True)
    server = serve(config)
    with httpx.Client(base_url=server.url, timeout=60) as client:
        answer = client.post("/analyze", json={"repoUrl": f"file://{empty}", "prompt": "x"})
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert "no default branch" in body["detail"]
    assert body["hint"] == "name a branch, tag or commit as `ref` (request field: ref)"
    assert fake.requests == []
