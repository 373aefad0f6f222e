"""Token plumbing against a real HTTPS git server on 127.0.0.1 (git http-backend behind a tiny
CGI bridge that demands the Authorization header), with the real git client.

Proves: the header is sent (or not) by the host rules, clones/fetches/pushes work with it,
and the token is never written to the cache, a ref, a config file or a message.
"""

from __future__ import annotations

import base64
import os
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.helpers import branch_commit, commit_all, git, init_repo, write_files
from tinygen.delivery.commits import commit_on_top
from tinygen.delivery.pushes import checkout_pr_head, push_branch, push_to_ref
from tinygen.errors import RepoError
from tinygen.repo.clone import open_repository

TOKEN = "tok-3f9c2a7e41d84b6f9a0c"  # not a known token shape: only our own plumbing hides it
WRONG = "wrong-7d1e5b2c9a4f6e08"


def _basic(token: str) -> str:
    return "Basic " + base64.b64encode(f"x-access-token:{token}".encode()).decode()


@dataclass
class GitServer:
    url: str  # https://127.0.0.1:PORT
    root: Path  # GIT_PROJECT_ROOT: repositories live at root/<owner>/<name>.git
    seen: list[str | None] = field(default_factory=list)  # Authorization header per request


def _make_handler(server: GitServer) -> type[BaseHTTPRequestHandler]:
    backend = (
        Path(
            subprocess.run(
                ["git", "--exec-path"], capture_output=True, text=True, check=True
            ).stdout.strip()
        )
        / "git-http-backend"
    )

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                data = b""
                while True:
                    size = int(self.rfile.readline().strip(), 16)
                    if size == 0:
                        self.rfile.readline()
                        return data
                    data += self.rfile.read(size)
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _handle(self) -> None:
            auth = self.headers.get("Authorization")
            server.seen.append(auth)
            body = self._body() if self.command == "POST" else b""
            if auth != _basic(TOKEN):
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="test"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            path, _, query = self.path.partition("?")
            env = {
                "PATH": os.environ["PATH"],
                "GIT_PROJECT_ROOT": str(server.root),
                "GIT_HTTP_EXPORT_ALL": "1",
                "REMOTE_USER": "x-access-token",  # lets http-backend accept pushes
                "REMOTE_ADDR": "127.0.0.1",
                "REQUEST_METHOD": self.command,
                "PATH_INFO": path,
                "QUERY_STRING": query,
                "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "CONTENT_LENGTH": str(len(body)),
                "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
                "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
            }
            out = subprocess.run([str(backend)], input=body, env=env, capture_output=True).stdout
            head, _, payload = out.partition(b"\r\n\r\n")
            if not _:
                head, _, payload = out.partition(b"\n\n")
            headers = [h.split(":", 1) for h in head.decode().splitlines() if ":" in h]
            status = next((int(v.split()[0]) for k, v in headers if k.lower() == "status"), 200)
            self.send_response(status)
            for k, v in headers:
                if k.lower() != "status":
                    self.send_header(k, v.strip())
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = _handle
        do_POST = _handle

    return Handler


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def server(
    tmp_path: Path, certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> Iterator[GitServer]:
    cert, key = certificate
    root = tmp_path / "served"
    work = init_repo(tmp_path / "work")
    write_files(work, {"secret_app.py": "print('private')\n"})
    commit_all(work, "initial")
    (root / "acme").mkdir(parents=True)
    git(tmp_path, "clone", "-q", "--bare", str(work), str(root / "acme" / "private.git"))
    git(work, "remote", "add", "origin", str(root / "acme" / "private.git"))
    state = GitServer(url="", root=root)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(state))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    state.url = f"https://127.0.0.1:{httpd.server_address[1]}"
    monkeypatch.setenv("GIT_SSL_CAINFO", str(cert))  # trust our test certificate only
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


def _assert_nowhere(root: Path, *values: str) -> None:
    """No file under ``root`` contains any of ``values`` (config, refs, logs, packs...)."""
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for value in values:
                assert value.encode() not in data, f"{value!r} leaked into {path}"


def test_clone_fetch_and_push_with_token(server: GitServer, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    url = f"{server.url}/acme/private.git"
    opened = open_repository(url, cache_dir=cache, token=TOKEN)
    assert server.seen and set(server.seen) == {_basic(TOKEN)}  # the header was sent
    assert opened.default_branch == "main"
    assert git(opened.root, "show", f"{opened.base_commit}:secret_app.py") == "print('private')\n"
    assert git(opened.root, "remote", "get-url", "origin").strip() == url  # no credentials in it

    sha = branch_commit(
        opened.root,
        opened.base_commit,
        "--- a/secret_app.py\n+++ b/secret_app.py\n@@ -1 +1 @@\n-print('private')\n+print('changed')\n",
        branch="tinygen/change",
        message="Change the greeting",
        trailers={"Tinygen-Run": "r1"},
    )
    push_branch(opened.root, "tinygen/change", token=TOKEN, default_branch="main")
    served = server.root / "acme" / "private.git"
    assert git(served, "rev-parse", "refs/heads/tinygen/change").strip() == sha

    # --to-pr over https: fetch the head, commit on top, fast-forward it.
    head = checkout_pr_head(
        opened.root, remote_url_or_name="origin", head_ref="tinygen/change", token=TOKEN
    )
    assert head == sha
    top = commit_on_top(
        opened.root,
        head,
        "--- a/secret_app.py\n+++ b/secret_app.py\n@@ -1 +1 @@\n-print('changed')\n+print('again')\n",
        message="Follow-up",
        trailers={},
    )
    push_to_ref(opened.root, top, "tinygen/change", token=TOKEN, default_branch="main")
    assert git(served, "rev-parse", "refs/heads/tinygen/change").strip() == top

    secret_forms = (TOKEN, _basic(TOKEN).split()[1])
    _assert_nowhere(cache, *secret_forms)
    _assert_nowhere(served, *secret_forms)
    assert not any(s in repr(opened) for s in secret_forms)


def test_missing_and_wrong_token_fail_clearly_without_leaking(
    server: GitServer, tmp_path: Path
) -> None:
    url = f"{server.url}/acme/private.git"
    with pytest.raises(RepoError, match="authentication failed") as missing:
        open_repository(url, cache_dir=tmp_path / "c1")
    assert missing.value.hint and "GITHUB_TOKEN" in missing.value.hint
    with pytest.raises(RepoError, match="authentication failed") as wrong:
        open_repository(url, cache_dir=tmp_path / "c2", token=WRONG)
    assert _basic(WRONG) in server.seen  # it was sent, and refused
    for exc in (missing.value, wrong.value):
        text = f"{exc} {exc.hint} {exc!r}"
        assert WRONG not in text and _basic(WRONG).split()[1] not in text
    _assert_nowhere(tmp_path / "c2", WRONG, _basic(WRONG).split()[1])


def test_env_token_goes_only_to_github_hosts(
    server: GitServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"{server.url}/acme/private.git"
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    # 127.0.0.1 is not GitHub: a URL from a request must not collect the user's token.
    with pytest.raises(RepoError, match="authentication failed"):
        open_repository(url, cache_dir=tmp_path / "c1")
    assert _basic(TOKEN) not in server.seen
    # Declared as the GitHub Enterprise server, it gets the token.
    monkeypatch.setenv("GITHUB_SERVER_URL", server.url)
    opened = open_repository(url, cache_dir=tmp_path / "c2")
    assert _basic(TOKEN) in server.seen
    assert opened.default_branch == "main"
    _assert_nowhere(tmp_path / "c2", TOKEN, _basic(TOKEN).split()[1])


def test_token_never_sent_over_plain_http(tmp_path: Path) -> None:
    with pytest.raises(RepoError, match="refusing to send a token over plain http"):
        open_repository("http://127.0.0.1:9/o/r", cache_dir=tmp_path, token=TOKEN)


def test_an_inherited_auth_header_is_replaced_not_duplicated(
    server: GitServer, tmp_path: Path, isolated_env: Path
) -> None:
    # actions/checkout persists its own header in git config; ours must win, alone.
    with (isolated_env / ".gitconfig").open("a") as fh:
        fh.write(f'[http "{server.url}/"]\n\textraHeader = Authorization: {_basic(WRONG)}\n')
    opened = open_repository(f"{server.url}/acme/private.git", cache_dir=tmp_path, token=TOKEN)
    assert opened.default_branch == "main"
    assert _basic(WRONG) not in server.seen and _basic(TOKEN) in server.seen
