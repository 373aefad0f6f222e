"""`tinygen serve` end to end: a real uvicorn server on a free loopback port, the real httpx
client, the real pipeline and anthropic SDK against the local Messages API server, and local
bare repositories as ``repoUrl`` (``file://``, allowed by ``allow_local``)."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.anthropic_server import FakeAnthropic, RecordedRequest, ToolReply
from tests.test_summarize import _fake_answer
from tinygen.llm.usage import Usage, cost_usd
from tinygen.server.config import ServerConfig
from tinygen.server.serving import RunningServer, serve_in_thread

PLAN, EDIT, VERIFY = "submit_plan", "write_file_change", "submit_review"

APP = {
    "app/__init__.py": '"""A tiny application."""\n',
    "app/config.py": (
        '"""Configuration loading."""\n\nimport json\n\n\n'
        "def load_cfg(path: str) -> dict:\n"
        "    with open(path) as fh:\n"
        "        return json.load(fh)\n"
    ),
    "README.md": "# app\n",
}
RENAMED = "+def load_config(path: str) -> dict:"

# --- helpers shared with the other test_server_* modules ---------------------------------


def plan_reply(*paths: str, title: str = "Rename load_cfg") -> ToolReply:
    files = [{"path": p, "action": "modify", "intent": "Rename load_cfg."} for p in paths]
    return ToolReply({"summary": "Rename it.", "title": title, "files": files})


def rename_edit(request: RecordedRequest) -> ToolReply:
    diff = (
        "--- a/app/config.py\n+++ b/app/config.py\n@@ ... @@\n"
        " import json\n \n \n-def load_cfg(path: str) -> dict:\n+def load_config(path: str) -> dict:\n"
    )
    return ToolReply({"diff": diff, "notes": "renamed"})


def approve(request: RecordedRequest | None = None) -> ToolReply:
    return ToolReply({"approved": True, "summary": "Looks right.", "revisions": []})


def script_rename(fake: FakeAnthropic) -> None:
    """Every job: plan one file, rename in it, approve (handlers answer any number of jobs)."""
    fake.on(PLAN, lambda r: plan_reply("app/config.py"))
    fake.on(EDIT, rename_edit)
    fake.on(VERIFY, approve)


def no_change(request: RecordedRequest | None = None) -> ToolReply:
    return ToolReply({"summary": "Nothing to do.", "title": "", "files": []})


class Gate:
    """Holds the model's plan answer until released: keeps a job `running` on demand."""

    def __init__(self) -> None:
        self.entered = threading.Semaphore(0)
        self.release = threading.Event()

    def handler(self, then: Callable[[RecordedRequest], ToolReply]) -> Callable[..., ToolReply]:
        def handle(request: RecordedRequest) -> ToolReply:
            self.entered.release()
            # A safety limit only: a test releases the gate itself. 30 s was too short on a
            # loaded machine (a job finished while a test still counted on it running).
            self.release.wait(120)
            return then(request)

        return handle

    def wait_entered(self, timeout: float = 30) -> None:
        assert self.entered.acquire(timeout=timeout), "no job reached the model"


def wait_for(
    client: httpx.Client, job_id: str, states: set[str], timeout: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job: dict[str, Any] = client.get(f"/jobs/{job_id}").json()
        if job["state"] in states:
            return job
        assert time.monotonic() < deadline, f"job {job_id} stuck in {job['state']}: {job}"
        time.sleep(0.05)


def parse_sse(text: str) -> list[tuple[str, dict[str, Any]]]:
    """(event, data) pairs of a text/event-stream body; comments skipped."""
    events = []
    for block in text.split("\n\n"):
        name, data = "message", []
        for line in block.splitlines():
            if line.startswith("event: "):
                name = line[len("event: ") :]
            elif line.startswith("data: "):
                data.append(line[len("data: ") :])
        if data:
            events.append((name, json.loads("\n".join(data))))
    return events


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        monkeypatch.setenv("ANTHROPIC_API_KEY", server.api_key)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)
        monkeypatch.setenv("TINYGEN_MAX_RETRY_WAIT", "0.05")
        monkeypatch.setenv("TINYGEN_MAX_RETRY_TOTAL", "0.5")
        yield server


@pytest.fixture
def repo_url(make_repo: Callable[..., Path], bare_remote: Callable[[Path], Path]) -> str:
    return f"file://{bare_remote(make_repo(APP))}"


@pytest.fixture
def config(tmp_path: Path) -> ServerConfig:
    return ServerConfig(
        port=0,
        workers=2,
        queue_size=10,
        db_path=tmp_path / "jobs.sqlite3",
        allow_local=True,
        cache_dir=tmp_path / "clones",
        poll_interval=0.2,
        drain_timeout=2.0,
    )


@pytest.fixture
def serve() -> Iterator[Callable[[ServerConfig], RunningServer]]:
    started: list[RunningServer] = []

    def start(config: ServerConfig) -> RunningServer:
        server = serve_in_thread(config)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def client(
    fake: FakeAnthropic, config: ServerConfig, serve: Callable[[ServerConfig], RunningServer]
) -> Iterator[httpx.Client]:
    server = serve(config)
    with httpx.Client(base_url=server.url, timeout=60) as c:
        yield c


# --- the original contract ------------------------------------------------------------------


def test_analyze_returns_the_diff(client: httpx.Client, fake: FakeAnthropic, repo_url: str) -> None:
    script_rename(fake)
    response = client.post(
        "/analyze", json={"repoUrl": repo_url, "prompt": "Rename load_cfg to load_config"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "approved"
    assert RENAMED in body["diff"] and "-def load_cfg(path: str) -> dict:" in body["diff"]
    assert body["runId"] == body["jobId"]
    assert body["plan"]["title"] == "Rename load_cfg"
    assert body["usage"]["calls"] == 3 and body["costUsd"] is not None
    assert len(fake.requests_for(PLAN)) == 1 and len(fake.requests_for(EDIT)) == 1
    # The job stays readable afterwards, with the same result.
    job = client.get(f"/jobs/{body['jobId']}").json()
    assert job["state"] == "succeeded" and job["result"]["diff"] == body["diff"]


def test_analyze_reports_a_failed_job_with_its_error(
    client: httpx.Client, fake: FakeAnthropic, make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    # A repository that exists as a directory but is not a git repository.
    empty = tmp_path / "not-a-repo"
    empty.mkdir()
    response = client.post("/analyze", json={"repoUrl": f"file://{empty}", "prompt": "x"})
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["jobId"] and "repository" in body["detail"].lower()
    assert client.get(f"/jobs/{body['jobId']}").json()["state"] == "failed"
    assert fake.requests == []


# --- jobs -----------------------------------------------------------------------------------


def test_job_goes_through_its_states_with_events(
    client: httpx.Client, fake: FakeAnthropic, repo_url: str
) -> None:
    gate = Gate()
    fake.on(PLAN, gate.handler(lambda r: plan_reply("app/config.py")))
    fake.on(EDIT, rename_edit)
    fake.on(VERIFY, approve)

    created = client.post("/jobs", json={"repoUrl": repo_url, "prompt": "Rename load_cfg"})
    assert created.status_code == 202, created.text
    job_id = created.json()["id"]
    assert created.headers["location"] == f"/jobs/{job_id}"
    gate.wait_entered()
    running = client.get(f"/jobs/{job_id}").json()
    assert running["state"] == "running" and running["stage"] == "brainstorm"
    assert running["result"] is None

    with client.stream("GET", f"/jobs/{job_id}/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        gate.release.set()
        raw = stream.read().decode()
    events = parse_sse(raw)

    states = [d["state"] for name, d in events if name == "state"]
    assert states == ["queued", "running", "succeeded"]
    stages = [d["stage"] for name, d in events if name == "progress"]
    for stage in ("starting", "clone", "sheet", "brainstorm", "validate"):
        assert stage in stages, stages
    assert stages.index("clone") < stages.index("sheet") < stages.index("brainstorm")
    name, final = events[-1]
    assert name == "end" and final["state"] == "succeeded"
    assert RENAMED in final["result"]["diff"]
    listed = client.get("/jobs").json()["jobs"]
    assert [j["id"] for j in listed] == [job_id] and listed[0]["status"] == "approved"

    # A client that reconnects with Last-Event-ID gets what it missed, then the end.
    ids = [int(m) for m in re.findall(r"^id: (\d+)$", raw, re.M)]
    assert ids == sorted(ids) and len(ids) == len(events) - 1
    resumed = client.get(f"/jobs/{job_id}/events", headers={"Last-Event-ID": str(ids[-2])})
    assert [n for n, _ in parse_sse(resumed.text)] == ["state", "end"]


def test_cancel_a_running_and_a_queued_job(
    fake: FakeAnthropic,
    config: ServerConfig,
    serve: Callable[[ServerConfig], RunningServer],
    repo_url: str,
) -> None:
    server = serve(replace(config, workers=1))
    gate = Gate()
    fake.on(PLAN, gate.handler(lambda r: plan_reply("app/config.py")))
    fake.on(EDIT, rename_edit)
    fake.on(VERIFY, approve)
    with httpx.Client(base_url=server.url, timeout=60) as client:
        first = client.post("/jobs", json={"repoUrl": repo_url, "prompt": "one"}).json()["id"]
        gate.wait_entered()
        second = client.post("/jobs", json={"repoUrl": repo_url, "prompt": "two"}).json()["id"]
        assert client.get(f"/jobs/{second}").json()["state"] == "queued"

        queued = client.delete(f"/jobs/{second}")
        assert queued.status_code == 202 and queued.json()["state"] == "cancelled"
        asked = client.delete(f"/jobs/{first}")
        assert asked.status_code == 202 and asked.json()["cancelRequested"] is True
        gate.release.set()
        job = wait_for(client, first, {"succeeded", "failed", "cancelled"})
        assert job["state"] == "cancelled" and job["result"] is None
        # It stopped at the next step: the plan was answered, no file was edited.
        assert fake.requests_for(EDIT) == []
        assert len(fake.requests_for(PLAN)) == 1, "the cancelled queued job never ran"
        again = client.delete(f"/jobs/{first}")
        assert again.status_code == 409 and "already cancelled" in again.json()["detail"]
        assert client.delete("/jobs/20990101-000000-000000000000").status_code == 404


def test_full_queue_answers_429_with_retry_after(
    fake: FakeAnthropic,
    config: ServerConfig,
    serve: Callable[[ServerConfig], RunningServer],
    repo_url: str,
) -> None:
    server = serve(replace(config, workers=1, queue_size=2))
    gate = Gate()
    fake.on(PLAN, gate.handler(no_change))
    body = {"repoUrl": repo_url, "prompt": "Nothing"}
    with httpx.Client(base_url=server.url, timeout=60) as client:
        running = client.post("/jobs", json=body).json()["id"]
        gate.wait_entered()
        accepted = [client.post("/jobs", json=body) for _ in range(2)]
        assert [r.status_code for r in accepted] == [202, 202]
        refused = client.post("/jobs", json=body)
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1
        assert "queue is full" in refused.json()["detail"]
        assert client.post("/analyze", json=body).status_code == 429
        gate.release.set()
        ids = [running, *(r.json()["id"] for r in accepted)]
        finished = [wait_for(client, i, {"succeeded", "failed"}) for i in ids]
        assert [j["result"]["status"] for j in finished] == ["no_change"] * 3
        assert client.post("/jobs", json=body).status_code == 202  # room again


# --- input checks -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"prompt": "x"}, "repoUrl", "required"),
        ({"repoUrl": "https://github.com/o/r"}, "prompt", "required"),
        ({"repoUrl": "https://github.com/o/r", "prompt": ""}, "prompt", "at least 1"),
        ({"repoUrl": "https://github.com/o/r", "prompt": "   "}, "prompt", "blank"),
        ({"repoUrl": "https://github.com/o/r", "prompt": "x" * 5001}, "prompt", "at most 5000"),
        ({"repoUrl": "ext::sh -c touch% /tmp/pwned", "prompt": "x"}, "repoUrl", "transport"),
        ({"repoUrl": "ftp://github.com/o/r", "prompt": "x"}, "repoUrl", "not supported"),
        ({"repoUrl": "http://github.com/o/r", "prompt": "x"}, "repoUrl", "https"),
        ({"repoUrl": "https://evil.example/o/r", "prompt": "x"}, "repoUrl", "not allowed"),
        ({"repoUrl": "https://10.0.0.1/o/r", "prompt": "x"}, "repoUrl", "not allowed"),
        ({"repoUrl": "https://github.com/onlyname", "prompt": "x"}, "repoUrl", "OWNER/NAME"),
        ({"repoUrl": "--upload-pack=x", "prompt": "x"}, "repoUrl", "'-'"),
        ({"repoUrl": "https://github.com/o/r", "prompt": "x", "ref": "-x"}, "ref", "pattern"),
        ({"repoUrl": "https://github.com/o/r", "prompt": "x", "checks": ["make"]}, "checks", ""),
        ({"repoUrl": "https://github.com/o/r", "prompt": 5}, "prompt", "string"),
        ({"repoUrl": "https://ghp_abcdef0123@github.com/o/r", "prompt": "x"}, "repoUrl", "token"),
        ({"repoUrl": "https://someone@github.com/o/r", "prompt": "x"}, "repoUrl", "user name"),
        ({"repoUrl": "https://github.com/evil/r", "prompt": "x"}, "repoUrl", "owner 'evil'"),
        ({"repoUrl": "git@github.com:evil/r.git", "prompt": "x"}, "repoUrl", "owner 'evil'"),
        ({"repoUrl": "https://github.com/o/r", "prompt": "x", "ref": "a..b"}, "ref", "git ref"),
        ({"repoUrl": "https://github.com/o/r", "prompt": "x", "ref": "v1.lock"}, "ref", "git ref"),
        (
            {"repoUrl": "https://github.com/o/r", "prompt": "x", "model": "claude-opus-4-1"},
            "model",
            "not allowed on this server",
        ),
    ],
)
def test_bad_bodies_get_422_naming_the_field(
    fake: FakeAnthropic,
    config: ServerConfig,
    serve: Callable[[ServerConfig], RunningServer],
    body: dict[str, Any],
    field: str,
    words: str,
) -> None:
    server = serve(
        replace(config, allow_local=False, max_prompt_chars=5000, allowed_owners=("o", "O2"))
    )
    response = httpx.post(f"{server.url}/jobs", json=body, timeout=30)
    assert response.status_code == 422, response.text
    detail = response.json()
    assert detail["errors"][0]["field"] == field, detail
    assert detail["detail"].startswith(f"{field}:") and words in detail["detail"], detail
    assert "ghp_abcdef0123" not in response.text
    assert httpx.get(f"{server.url}/jobs").json()["jobs"] == []


def test_local_urls_are_refused_without_allow_local(
    fake: FakeAnthropic,
    config: ServerConfig,
    serve: Callable[[ServerConfig], RunningServer],
    repo_url: str,
) -> None:
    server = serve(replace(config, allow_local=False))
    for url in (repo_url, repo_url[len("file://") :]):
        response = httpx.post(f"{server.url}/jobs", json={"repoUrl": url, "prompt": "x"})
        assert response.status_code == 422
        assert "local repositories are not allowed" in response.json()["detail"]


def test_invalid_json_and_huge_prompt_on_analyze(client: httpx.Client, fake: FakeAnthropic) -> None:
    bad = client.post(
        "/analyze", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "body"
    huge = client.post(
        "/analyze", json={"repoUrl": "https://github.com/o/r", "prompt": "y" * 200_000}
    )
    assert huge.status_code == 422
    assert "prompt: has 200000 characters" in huge.json()["detail"]
    assert "yyyy" not in huge.text, "the input is not echoed back"


def test_repository_over_the_size_limit_fails_clearly(
    fake: FakeAnthropic,
    config: ServerConfig,
    serve: Callable[[ServerConfig], RunningServer],
    make_repo: Callable[..., Path],
    bare_remote: Callable[[Path], Path],
) -> None:
    import os

    big = make_repo({**APP, "data.bin": os.urandom(300_000)})
    bare = bare_remote(big)
    server = serve(replace(config, max_repo_bytes=200_000))
    response = httpx.post(
        f"{server.url}/analyze",
        json={"repoUrl": f"file://{bare}", "prompt": "x"},
        timeout=60,
    )
    assert response.status_code == 422, response.text
    assert "too large for this server" in response.json()["detail"]
    assert "(the limit is 0.2 MB)" in response.json()["detail"]
    assert fake.requests == [], "no model call for a refused repository"
    from tinygen.repo.clone import cache_path
    from tinygen.repo.spec import parse_repo_spec

    entry = cache_path(parse_repo_spec(f"file://{bare}"), config.cache_dir)
    assert entry.parent.is_dir() and not entry.exists(), "the rejected clone is not kept"


def test_checks_run_only_when_allowed(
    fake: FakeAnthropic,
    config: ServerConfig,
    serve: Callable[[ServerConfig], RunningServer],
    make_repo: Callable[..., Path],
    bare_remote: Callable[[Path], Path],
    tmp_path: Path,
) -> None:
    marker = tmp_path / "check-ran"
    # The repository's own config asks for a check: the server must not run it by default.
    repo = make_repo({**APP, ".tinygen.toml": f'checks = ["touch {marker}"]\n'})
    url = f"file://{bare_remote(repo)}"
    script_rename(fake)
    server = serve(config)
    response = httpx.post(f"{server.url}/analyze", json={"repoUrl": url, "prompt": "x"}, timeout=60)
    assert response.status_code == 200, response.text
    assert response.json()["checks"] == [] and not marker.exists()


# --- authentication -------------------------------------------------------------------------


TOKEN = "s3cret-token-for-tests-0123456789"


def test_auth_on(
    fake: FakeAnthropic,
    config: ServerConfig,
    serve: Callable[[ServerConfig], RunningServer],
    repo_url: str,
) -> None:
    fake.on(PLAN, no_change)
    server = serve(replace(config, token=TOKEN))
    body = {"repoUrl": repo_url, "prompt": "x"}
    with httpx.Client(base_url=server.url, timeout=60) as anon:
        for method, path in (("POST", "/jobs"), ("GET", "/jobs"), ("POST", "/analyze")):
            response = anon.request(method, path, json=body)
            assert response.status_code == 401, (method, path)
            assert response.headers["www-authenticate"] == "Bearer"
        wrong = anon.get("/jobs", headers={"Authorization": f"Bearer {TOKEN[:-1]}x"})
        assert wrong.status_code == 401 and TOKEN not in wrong.text
        assert anon.get("/healthz").status_code == 200
        assert anon.get("/openapi.json").status_code == 200
    with httpx.Client(
        base_url=server.url, timeout=60, headers={"Authorization": f"Bearer {TOKEN}"}
    ) as authed:
        response = authed.post("/analyze", json=body)
        assert response.status_code == 200 and response.json()["status"] == "no_change"
        assert len(authed.get("/jobs").json()["jobs"]) == 1


def test_auth_off_needs_no_header(client: httpx.Client, fake: FakeAnthropic, repo_url: str) -> None:
    fake.on(PLAN, no_change)
    response = client.post("/analyze", json={"repoUrl": repo_url, "prompt": "x"})
    assert response.status_code == 200 and response.json()["status"] == "no_change"
    assert "securitySchemes" not in json.dumps(client.get("/openapi.json").json())


def test_errors_never_show_keys(
    fake: FakeAnthropic,
    config: ServerConfig,
    serve: Callable[[ServerConfig], RunningServer],
    repo_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wrong_key = "sk-ant-api03-wrong-key-that-must-not-leak-0123456789"
    monkeypatch.setenv("ANTHROPIC_API_KEY", wrong_key)  # the fake answers 401 to it
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_" + "a" * 36)
    server = serve(config)
    response = httpx.post(
        f"{server.url}/analyze", json={"repoUrl": repo_url, "prompt": "x"}, timeout=60
    )
    assert response.status_code == 502, response.text
    job = httpx.get(f"{server.url}/jobs/{response.json()['jobId']}").json()
    assert job["error"]["kind"] == "LLMAuthError"
    events = httpx.get(f"{server.url}/jobs/{job['id']}/events", timeout=30).text
    for text in (response.text, json.dumps(job), events):
        assert wrong_key not in text and "wrong-key-that" not in text
        assert "ghp_" not in text


# --- documentation --------------------------------------------------------------------------


def test_openapi_documents_the_typed_models(client: httpx.Client) -> None:
    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    spec = client.get("/openapi.json").json()
    assert {"/analyze", "/jobs", "/jobs/{job_id}", "/jobs/{job_id}/events"} <= set(spec["paths"])
    schemas = spec["components"]["schemas"]
    assert {"repoUrl", "prompt", "ref", "model", "checks"} <= set(
        schemas["JobRequest"]["properties"]
    )
    assert {"diff", "status", "runId", "jobId"} <= set(schemas["AnalyzeResponse"]["properties"])
    # The result's parts are typed models, not free-form objects.
    result = schemas["JobResult"]["properties"]
    assert "#/components/schemas/Usage" in json.dumps(result["usage"])
    assert "#/components/schemas/Plan" in json.dumps(result["plan"])
    assert "#/components/schemas/Verdict" in json.dumps(result["verdict"])
    assert {"inputTokens", "outputTokens", "calls"} <= set(schemas["Usage"]["properties"])
    assert {"approved", "summary", "revisions"} <= set(schemas["Verdict"]["properties"])
    assert set(spec["paths"]["/jobs/{job_id}"]) == {"get", "delete"}
    assert "429" in spec["paths"]["/jobs"]["post"]["responses"]


def test_analyze_client_that_hangs_up_cancels_its_job(
    client: httpx.Client, fake: FakeAnthropic, repo_url: str
) -> None:
    gate = Gate()
    fake.on(PLAN, gate.handler(lambda r: plan_reply("app/config.py")))
    fake.on(EDIT, rename_edit)
    fake.on(VERIFY, approve)

    def impatient() -> None:
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(
                str(client.base_url).rstrip("/") + "/analyze",
                json={"repoUrl": repo_url, "prompt": "x"},
                timeout=httpx.Timeout(30, read=1.0),
            )

    caller = threading.Thread(target=impatient)
    caller.start()
    caller.join(30)
    job_id = client.get("/jobs").json()["jobs"][0]["id"]
    deadline = time.monotonic() + 30
    while not client.get(f"/jobs/{job_id}").json()["cancelRequested"]:
        if client.get(f"/jobs/{job_id}").json()["state"] == "cancelled":
            break
        assert time.monotonic() < deadline, "the server did not notice the hang-up"
        time.sleep(0.05)
    gate.release.set()  # in case the job was inside its model call
    assert wait_for(client, job_id, {"succeeded", "failed", "cancelled"})["state"] == "cancelled"
    assert fake.requests_for(EDIT) == []


def test_job_ref_reaches_the_repository(
    client: httpx.Client, fake: FakeAnthropic, repo_url: str
) -> None:
    created = client.post(
        "/jobs", json={"repoUrl": repo_url, "prompt": "x", "ref": "no-such-branch"}
    )
    assert created.status_code == 202
    job = wait_for(client, created.json()["id"], {"succeeded", "failed"})
    assert job["state"] == "failed" and job["ref"] == "no-such-branch"
    assert (
        job["error"]["kind"] == "RefNotFoundError"
        and "no branch or tag 'no-such-branch'" in job["error"]["message"]
    )
    assert job["error"]["exitCode"] == 8 and fake.requests == []
    assert [j["id"] for j in client.get("/jobs", params={"state": "failed"}).json()["jobs"]] == [
        job["id"]
    ]
    assert client.get("/jobs", params={"state": "queued"}).json()["jobs"] == []


def test_a_jobs_cost_counts_its_auto_summaries(
    client: httpx.Client,
    fake: FakeAnthropic,
    make_repo: Callable[..., Path],
    bare_remote: Callable[[Path], Path],
) -> None:
    for tool in ("file_summary", "folder_summary", "overview"):
        fake.on(tool, _fake_answer)
    fake.on(PLAN, no_change)
    files = {**APP, ".tinygen.toml": 'summaries = "auto"\n'}
    url = f"file://{bare_remote(make_repo(files))}"
    answer = client.post("/analyze", json={"repoUrl": url, "prompt": "Rename load_cfg"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "no_change"
    made = body["summaries"]
    assert made["made"] == made["calls"] >= 2 and made["cost_usd"] > 0
    tokens = {k: v for k, v in body["usage"].items() if k != "calls"}
    own = cost_usd(body["model"], Usage(**{_snake(k): v for k, v in tokens.items()}))
    assert own is not None
    assert body["costUsd"] == pytest.approx(own + made["cost_usd"])


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)
