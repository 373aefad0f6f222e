"""What a client cannot make the server do: run two servers' jobs into each other, download
oversized repositories, read huge bodies, spend beyond the operator's limits; and which
HTTP status each kind of failure gets. Real uvicorn servers, real git, the fake Messages API."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests import test_server_api as api
from tests.fakes.anthropic_server import FakeAnthropic, RecordedRequest, ToolReply
from tests.test_server_api import (
    APP,
    EDIT,
    PLAN,
    VERIFY,
    Gate,
    no_change,
    plan_reply,
    rename_edit,
    script_rename,
    wait_for,
)
from tinygen.errors import ExitCode
from tinygen.llm import default_model
from tinygen.server.auth import AUTH_HINT
from tinygen.server.config import ServerConfig
from tinygen.server.execute import CloneWatch
from tinygen.server.inputs import check_repo_url
from tinygen.server.serving import RunningServer

fake = api.fake
config = api.config
repo_url = api.repo_url
serve = api.serve
client = api.client

TOKEN = "s3cret-token-for-tests-0123456789"


# --- one server per database ------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_second_server_on_the_same_database_is_refused(
    fake: FakeAnthropic,
    config: ServerConfig,
    serve: Callable[[ServerConfig], RunningServer],
    repo_url: str,
) -> None:
    gate = Gate()
    fake.on(PLAN, gate.handler(no_change))
    first = serve(config)
    with httpx.Client(base_url=first.url, timeout=60) as c:
        job_id = c.post("/jobs", json={"repoUrl": repo_url, "prompt": "x"}).json()["id"]
        gate.wait_entered()

        # Another `tinygen serve` on the same --db: exit code 6 before it listens.
        proc = subprocess.run(
            [sys.executable, "-m", "tinygen", "serve", "--port", "0", "--db", str(config.db_path)],
            capture_output=True,
            text=True,
            timeout=120,
            env=dict(os.environ),
        )
        assert proc.returncode == ExitCode.CONFIG, proc.stderr
        assert f"the job database {config.db_path} is in use by another tinygen server" in (
            proc.stdout + proc.stderr
        )
        # And an in-process one does not start either.
        with pytest.raises(RuntimeError, match="did not start"):
            serve(replace(config, port=0))

        assert c.get(f"/jobs/{job_id}").json()["state"] == "running", "nobody failed it"
        gate.release.set()
        job = wait_for(c, job_id, {"succeeded", "failed", "cancelled"})
    assert job["state"] == "succeeded" and job["result"]["status"] == "no_change"


# --- repository size ------------------------------------------------------------------------


def test_clone_watch_kills_git_working_in_an_oversized_entry(tmp_path: Path) -> None:
    entry = tmp_path / "r.git"
    subprocess.run(["git", "init", "--bare", "--quiet", str(entry)], check=True)
    (entry / "objects" / "pack" / "tmp_pack_x").write_bytes(os.urandom(300_000))
    # A git process of ours working in the entry that would otherwise run forever.
    proc = subprocess.Popen(
        ["git", "cat-file", "--batch"], cwd=entry, stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        with CloneWatch(entry, limit=100_000, interval=0.02) as watch:
            code = proc.wait(timeout=30)
    finally:
        proc.kill()
        proc.wait()
    assert code == -9 and watch.tripped is not None and watch.tripped >= 300_000


def test_clone_watch_leaves_a_small_entry_alone(tmp_path: Path) -> None:
    entry = tmp_path / "r.git"
    subprocess.run(["git", "init", "--bare", "--quiet", str(entry)], check=True)
    proc = subprocess.Popen(
        ["git", "cat-file", "--batch"], cwd=entry, stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        with CloneWatch(entry, limit=10_000_000, interval=0.02) as watch:
            threading.Event().wait(0.3)
            assert proc.poll() is None
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(30)
    assert watch.tripped is None and proc.returncode == 0


# --- request bodies -------------------------------------------------------------------------


def raw_request(url: str, head: str, chunks: list[bytes] | None = None) -> tuple[int, str]:
    """Send a request's head (and optionally chunked body parts) on a raw socket and read
    the answer as soon as it comes: (status, body text). Waits at most 30 s."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(head.encode())
        for chunk in chunks or ():
            try:
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            except (BrokenPipeError, ConnectionResetError):
                break  # the server answered and closed: read what it said
        data = b""
        while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _length(data):
            more = sock.recv(65536)
            if not more:
                break
            data += more
    status = int(data.split(b" ", 2)[1])
    return status, data.split(b"\r\n\r\n", 1)[1].decode()


def _length(data: bytes) -> int:
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":", 1)[1])
    return 0


def test_oversized_bodies_are_refused_before_they_are_read(
    fake: FakeAnthropic, config: ServerConfig, serve: Callable[[ServerConfig], RunningServer]
) -> None:
    server = serve(replace(config, max_prompt_chars=1000))
    limit = 1000 * 6 + 64 * 1024
    # A declared length over the limit: answered at once, with no byte of the body sent.
    head = (
        "POST /jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Content-Length: 300000000\r\n\r\n"
    )
    status, body = raw_request(server.url, head)
    assert status == 413, body
    assert f"larger than this server accepts ({limit} bytes)" in json.loads(body)["detail"]
    # A streamed body is refused once it passes the limit (the rest never needs to arrive).
    head = (
        "POST /analyze HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    )
    status, body = raw_request(server.url, head, [b"x" * 16384] * 8)
    assert status == 413, body
    # Bodies within the limit still get their field-level answer.
    response = httpx.post(
        f"{server.url}/jobs", json={"repoUrl": "https://github.com/o/r", "prompt": "y" * 2000}
    )
    assert response.status_code == 422 and "prompt: has 2000 characters" in response.text
    assert httpx.get(f"{server.url}/jobs").json()["jobs"] == []


def test_credentials_are_checked_before_the_body_is_read(
    fake: FakeAnthropic, config: ServerConfig, serve: Callable[[ServerConfig], RunningServer]
) -> None:
    server = serve(replace(config, token=TOKEN))
    head = (
        "POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: 50000\r\n\r\n"  # within the limit, but never sent
    )
    status, body = raw_request(server.url, head)
    assert status == 401
    answer = json.loads(body)
    assert answer["detail"] == "missing or wrong bearer token"
    assert answer["hint"] == AUTH_HINT and "***" not in body
    wrong = httpx.get(f"{server.url}/jobs", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.json()["hint"] == AUTH_HINT
    right = httpx.get(f"{server.url}/jobs", headers={"Authorization": f"Bearer {TOKEN}"})
    assert right.status_code == 200


def test_without_a_token_only_loopback_names_are_served(
    fake: FakeAnthropic, config: ServerConfig, serve: Callable[[ServerConfig], RunningServer]
) -> None:
    """DNS rebinding: a web page whose name now points at 127.0.0.1 sends its own name in
    Host and Origin; a tokenless loopback server must refuse it."""
    server = serve(replace(config, token=None))
    port = server.url.rsplit(":", 1)[1]
    for headers in (
        {"Host": f"attacker.example:{port}"},
        {"Host": f"127.0.0.1:{port}", "Origin": f"http://attacker.example:{port}"},
        {"Host": f"127.0.0.1:{port}", "Origin": "null"},
    ):
        refused = httpx.get(f"{server.url}/jobs", headers=headers)
        assert refused.status_code == 403, headers
        assert "DNS rebinding" in refused.json()["detail"]
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost"):
        assert httpx.get(f"{server.url}/jobs", headers={"Host": host}).status_code == 200
    origin = {"Origin": f"http://localhost:{port}"}
    assert httpx.get(f"{server.url}/jobs", headers=origin).status_code == 200
    other_db = config.db_path.with_name("with-token.sqlite3")  # one server per database
    with_token = serve(replace(config, token=TOKEN, db_path=other_db))
    foreign = {"Host": "tinygen.example.com", "Authorization": f"Bearer {TOKEN}"}
    assert httpx.get(f"{with_token.url}/jobs", headers=foreign).status_code == 200


def test_prompt_length_is_in_the_schema(client: httpx.Client) -> None:
    schema = client.get("/openapi.json").json()["components"]["schemas"]["AnalyzeRequest"]
    assert schema["properties"]["prompt"]["maxLength"] == 1_000_000


# --- spending -------------------------------------------------------------------------------


def reject(request: RecordedRequest) -> ToolReply:
    revision = {"path": "app/config.py", "feedback": "try again"}
    return ToolReply({"approved": False, "summary": "not yet", "revisions": [revision]})


def test_repository_config_cannot_raise_the_servers_spending(
    fake: FakeAnthropic,
    config: ServerConfig,
    serve: Callable[[ServerConfig], RunningServer],
    make_repo: Callable[..., Path],
    bare_remote: Callable[[Path], Path],
) -> None:
    toml = 'max-rounds = 6\nmodel = "claude-opus-4-1"\nbudget = 900000\nmax-tokens = 64000\n'
    url = f"file://{bare_remote(make_repo({**APP, '.tinygen.toml': toml}))}"
    fake.on(PLAN, lambda r: plan_reply("app/config.py"))
    fake.on(EDIT, rename_edit)
    fake.on(VERIFY, reject)
    server = serve(config)
    default_model = config.models()[0]
    response = httpx.post(
        f"{server.url}/analyze", json={"repoUrl": url, "prompt": "Rename load_cfg"}, timeout=120
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "unapproved" and body["rounds"] == 2  # the server's default
    assert len(fake.requests_for(VERIFY)) == 2
    assert {r.model for r in fake.requests} == {default_model} == {body["model"]}
    assert {r.body["max_tokens"] for r in fake.requests} == {16000}
    events = httpx.get(f"{server.url}/jobs/{body['jobId']}/events", timeout=30).text
    limits = [d["message"] for n, d in api.parse_sse(events) if d.get("stage") == "limits"]
    assert len(limits) == 1
    for words in ("max-rounds 6", "budget 900000", "max-tokens 64000", "claude-opus-4-1"):
        assert words in limits[0], limits


def test_operator_limits_and_model_allow_list(
    fake: FakeAnthropic,
    config: ServerConfig,
    serve: Callable[[ServerConfig], RunningServer],
    repo_url: str,
) -> None:
    fake.on(PLAN, lambda r: plan_reply("app/config.py"))
    fake.on(EDIT, rename_edit)
    fake.on(VERIFY, reject)
    server = serve(replace(config, max_rounds=1, allowed_models=("claude-a-1", "claude-b-2")))
    with httpx.Client(base_url=server.url, timeout=60) as c:
        refused = c.post(
            "/jobs", json={"repoUrl": repo_url, "prompt": "x", "model": "claude-opus-4-1"}
        )
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["field"] == "model"
        assert "allowed: claude-a-1, claude-b-2" in refused.json()["detail"]
        created = c.post("/jobs", json={"repoUrl": repo_url, "prompt": "x", "model": "claude-b-2"})
        assert created.status_code == 202, created.text
        job = wait_for(c, created.json()["id"], {"succeeded", "failed"})
        default = c.post("/analyze", json={"repoUrl": repo_url, "prompt": "y"}).json()
    assert job["state"] == "succeeded" and job["result"]["model"] == "claude-b-2"
    assert job["result"]["rounds"] == 1 and default["rounds"] == 1
    assert default["model"] == "claude-a-1", "the first allowed model is the default"
    assert len(fake.requests_for(VERIFY)) == 2


def test_models_default_to_the_servers_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINYGEN_MODEL", "claude-b-2")
    assert ServerConfig().models() == ("claude-b-2",)
    assert ServerConfig(allowed_models=("claude-a-1", "claude-b-2")).models() == (
        "claude-b-2",
        "claude-a-1",
    )
    assert ServerConfig(allowed_models=("claude-a-1",)).models() == ("claude-a-1",)
    # the setting `model`, read as every settings reader reads it (blank: the SDK's default)
    monkeypatch.setenv("TINYGEN_MODEL", "  claude-b-2 ")
    assert ServerConfig().models() == ("claude-b-2",)
    monkeypatch.setenv("TINYGEN_MODEL", "  ")
    assert ServerConfig().models() == (default_model(),)


# --- URLs and statuses ----------------------------------------------------------------------


def test_repository_urls_are_stored_normalised(config: ServerConfig) -> None:
    for given in ("https://github.com/o/r/", " https://GitHub.com/o/r"):
        assert check_repo_url(given, config) == "https://github.com/o/r"
    assert check_repo_url("git@github.com:o/r.git", config) == "git@github.com:o/r.git"


def test_failures_map_to_statuses(
    fake: FakeAnthropic,
    config: ServerConfig,
    serve: Callable[[ServerConfig], RunningServer],
    make_repo: Callable[..., Path],
    bare_remote: Callable[[Path], Path],
) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    host = f"127.0.0.1:{port}"
    server = serve(replace(config, allowed_hosts=("github.com", host)))
    broken = bare_remote(make_repo({**APP, ".tinygen.toml": "max-rounds = [\n"}))
    with httpx.Client(base_url=server.url, timeout=120) as c:
        unreachable = c.post("/analyze", json={"repoUrl": f"https://{host}/o/r", "prompt": "x"})
        assert unreachable.status_code == 502, unreachable.text
        assert "could not list the refs" in unreachable.json()["detail"]
        bad_config = c.post("/analyze", json={"repoUrl": f"file://{broken}", "prompt": "x"})
        assert bad_config.status_code == 422, bad_config.text
        assert "cannot parse the config file" in bad_config.json()["detail"]
        assert str(config.cache_dir) not in bad_config.text, "no server paths in errors"
    assert fake.requests == []


# --- several jobs at once, TLS, health -------------------------------------------------------


def test_four_workers_eight_jobs_on_one_repository(
    fake: FakeAnthropic,
    config: ServerConfig,
    serve: Callable[[ServerConfig], RunningServer],
    repo_url: str,
) -> None:
    script_rename(fake)
    server = serve(replace(config, workers=4))
    with httpx.Client(base_url=server.url, timeout=120) as c:
        ids = [
            c.post("/jobs", json={"repoUrl": repo_url, "prompt": f"Rename {i}"}).json()["id"]
            for i in range(8)
        ]
        jobs = [wait_for(c, i, {"succeeded", "failed", "cancelled"}, timeout=240) for i in ids]
    assert [j["state"] for j in jobs] == ["succeeded"] * 8, [j.get("error") for j in jobs]
    assert [j["result"]["status"] for j in jobs] == ["approved"] * 8
    diffs = {j["result"]["diff"] for j in jobs}
    assert len(diffs) == 1 and api.RENAMED in diffs.pop()


def test_health_reports_workers_and_the_oldest_running_job(
    fake: FakeAnthropic, client: httpx.Client, repo_url: str
) -> None:
    idle = client.get("/healthz")
    assert idle.status_code == 200
    assert idle.json()["status"] == "ok" and idle.json()["liveWorkers"] == 2
    assert idle.json()["oldestRunningSeconds"] is None
    assert idle.json()["database"] == {"kind": "sqlite", "ok": True, "notifications": True}
    assert idle.json()["lostJobs"] == 0
    gate = Gate()
    fake.on(PLAN, gate.handler(no_change))
    job_id = client.post("/jobs", json={"repoUrl": repo_url, "prompt": "x"}).json()["id"]
    gate.wait_entered()
    busy = client.get("/healthz").json()
    assert busy["jobs"]["running"] == 1 and busy["oldestRunningSeconds"] >= 0
    gate.release.set()
    wait_for(client, job_id, {"succeeded"})


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def test_tls(
    fake: FakeAnthropic,
    config: ServerConfig,
    serve: Callable[[ServerConfig], RunningServer],
    tmp_path: Path,
) -> None:
    import ssl

    cert, key = self_signed(tmp_path)
    server = serve(replace(config, token=TOKEN, ssl_certfile=cert, ssl_keyfile=key))
    assert server.url.startswith("https://127.0.0.1:")
    trust = ssl.create_default_context(cafile=str(cert))
    headers = {"Authorization": f"Bearer {TOKEN}"}
    response = httpx.get(f"{server.url}/jobs", headers=headers, verify=trust)
    assert response.status_code == 200 and response.json() == {"jobs": []}
    with pytest.raises(httpx.TransportError):
        httpx.get(server.url.replace("https", "http") + "/jobs", headers=headers)
