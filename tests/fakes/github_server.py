"""A local, stateful stand-in for GitHub's REST API, for tests.

It answers the endpoints :class:`tinygen.github.GitHubForge` uses (through the real PyGithub
client) with the JSON shapes PyGithub parses: repositories, collaborator permissions, issues,
pull requests, issue comments and reactions. State lives in memory and can be set up and
inspected from the test::

    with FakeGitHub(token="ghp_...") as gh:
        gh.add_repo("octo/demo")
        gh.set_permission("octo/demo", "alice", "write")
        n = gh.add_issue("octo/demo", "Fix the bug", body="...", user="alice")
        forge = GitHubForge(token="ghp_...", api_url=gh.api_url, policy=ForgePolicy.fast())
        ...
        assert gh.comments("octo/demo", n)[0]["body"] == "..."

Test controls: ``fail_next`` (answer the next matching request with an error, optionally
after performing it: the classic "POST succeeded but the gateway said 502"),
``rate_limited_until``, ``restrict_token`` (fine-grained permissions, answered with 403 and
``X-Accepted-GitHub-Permissions`` like GitHub does), and ``requests`` (everything received).

``prefix="/api/v3"`` serves the API under a path prefix like GitHub Enterprise Server. When a
repository's ``clone_url`` is a local (bare) git repository, creating a pull request checks
that the head branch exists there and takes its commit, like GitHub checks the pushed branch.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

# The token the server accepts unless told otherwise (shaped like a real one, so redaction
# patterns apply to it too).
DEFAULT_TOKEN = "ghp_faketoken0000000000000000000000000000"
ROLES = ("none", "read", "triage", "write", "maintain", "admin")
REACTIONS = ("+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes")
_LEVELS = {"none": 0, "read": 1, "write": 2, "admin": 3}


@dataclass
class Recorded:
    """One request the server received (``route`` is the path without the prefix)."""

    method: str
    path: str
    route: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class _Failure:
    method: str
    pattern: re.Pattern[str]
    status: int
    body: Any
    headers: dict[str, str]
    after_effect: bool


@dataclass
class ScriptedCheck:
    """One CI job on every commit: a check run (``kind="check_run"``) or a commit status
    (``"status"``). ``steps`` is its state at each listing of the commit's check runs:
    ``("queued", None)``, ``("in_progress", None)``, ``("completed", "success")``... The last
    step repeats. A status uses GitHub's status states (pending, success, failure, error)."""

    name: str
    steps: list[tuple[str, str | None]]
    kind: str = "check_run"
    summary: str = ""

    def at(self, poll: int) -> tuple[str, str | None]:
        return self.steps[min(poll, len(self.steps) - 1)]


@dataclass
class _App:
    app_id: int
    public_key: str  # PEM: JWTs signed with the matching private key are accepted
    installation_id: int
    repos: tuple[str, ...]
    login: str


@dataclass
class _Token:
    login: str
    # fine-grained permissions like {"pull_requests": "read"}; None: everything the user may do
    permissions: dict[str, str] | None = None


@dataclass
class _Repo:
    full_name: str
    id: int
    default_branch: str
    clone_url: str
    private: bool
    fork_of: str | None = None
    roles: dict[str, str] = field(default_factory=dict)
    # issues and pull requests share one number space, as on GitHub
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    # the repository's CI, as scripted by a test: every commit gets these checks
    ci: list[ScriptedCheck] = field(default_factory=list)
    ci_polls: dict[str, int] = field(default_factory=dict)  # check-run listings per commit
    ci_later: list[list[ScriptedCheck]] = field(default_factory=list)  # for later commits
    ci_commits: list[str] = field(default_factory=list)  # commits in the order first listed

    def checks_of(self, sha: str) -> list[ScriptedCheck]:
        """The first commit listed gets ``ci``, the next ``ci_later[0]``, and so on."""
        if sha not in self.ci_commits:
            self.ci_commits.append(sha)
        n = self.ci_commits.index(sha)
        if n == 0 or not self.ci_later:
            return self.ci
        return self.ci_later[min(n - 1, len(self.ci_later) - 1)]

    @property
    def owner(self) -> str:
        return self.full_name.split("/", 1)[0]


class _HTTPError(Exception):
    def __init__(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = dict(headers or {})


def _not_found() -> _HTTPError:
    return _HTTPError(
        404,
        {
            "message": "Not Found",
            "documentation_url": "https://docs.github.com/rest",
            "status": "404",
        },
    )


def _require_comment_body(body: dict[str, Any]) -> None:
    """GitHub's 422 for a comment whose body is missing or blank."""
    if not isinstance(body.get("body"), str) or not body["body"]:
        raise _invalid(
            "Body cannot be blank", resource="IssueComment", field="body", code="missing_field"
        )


def _invalid(message: str, **error: Any) -> _HTTPError:
    err = {"message": message, **error} if message else dict(error)
    return _HTTPError(
        422,
        {
            "message": "Validation Failed",
            "errors": [err],
            "documentation_url": "https://docs.github.com/rest",
            "status": "422",
        },
    )


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeGitHub:
    """The server and its state. Use as a context manager, or call ``close()``."""

    def __init__(
        self,
        *,
        token: str | None = DEFAULT_TOKEN,
        login: str = "tinygen-bot",
        prefix: str = "",
    ) -> None:
        self.prefix = prefix.rstrip("/")
        self.requests: list[Recorded] = []
        self.reactions: list[dict[str, Any]] = []
        self._tokens: dict[str, _Token] = {}
        if token:
            self._tokens[token] = _Token(login)
        self._repos: dict[str, _Repo] = {}
        self._comments: dict[int, dict[str, Any]] = {}
        self._failures: list[_Failure] = []
        self._rate_reset: int | None = None
        self._apps: dict[int, _App] = {}
        self.minted: list[str] = []  # installation tokens handed out, in order
        self._ids = itertools.count(1001)
        self._lock = threading.RLock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.root_url = f"http://127.0.0.1:{self.port}"
        self.api_url = self.root_url + self.prefix
        # where PyGithub sends GraphQL: /graphql, or /api/graphql next to /api/v3 (Enterprise)
        self.graphql_path = self.prefix.removesuffix("/v3") + "/graphql"
        # a short poll interval keeps shutdown (every test's teardown) quick
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeGitHub:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- set up ------------------------------------------------------------------------------

    def add_token(
        self, token: str, login: str, permissions: Mapping[str, str] | None = None
    ) -> None:
        with self._lock:
            self._tokens[token] = _Token(login, dict(permissions) if permissions else None)

    def restrict_token(self, token: str, permissions: Mapping[str, str]) -> None:
        """Give ``token`` only these fine-grained permissions, e.g. ``{"issues": "write"}``."""
        with self._lock:
            self._tokens[token].permissions = dict(permissions)

    def add_repo(
        self,
        full_name: str,
        default_branch: str = "main",
        clone_url: str | None = None,
        private: bool = False,
        fork_of: str | None = None,
    ) -> None:
        with self._lock:
            self._repos[full_name] = _Repo(
                full_name=full_name,
                id=next(self._ids),
                default_branch=default_branch,
                clone_url=clone_url or f"{self.root_url}/{full_name}.git",
                private=private,
                fork_of=fork_of,
            )
            owner = full_name.split("/", 1)[0]
            self._repos[full_name].roles.setdefault(owner, "admin")
            for tok in self._tokens.values():
                self._repos[full_name].roles.setdefault(tok.login, "write")

    def script_ci(
        self,
        full_name: str,
        checks: list[ScriptedCheck],
        *later: list[ScriptedCheck],
    ) -> None:
        """Every commit of ``full_name`` gets these checks (see :class:`ScriptedCheck`); with
        ``later``, the second commit whose checks are read gets ``later[0]``, and so on."""
        with self._lock:
            self._repos[full_name].ci = list(checks)
            self._repos[full_name].ci_later = [list(c) for c in later]

    def ci_polls(self, full_name: str, sha: str) -> int:
        """How often the check runs of ``sha`` were listed."""
        with self._lock:
            return self._repos[full_name].ci_polls.get(sha, 0)

    def add_app(
        self,
        app_id: int,
        public_key: str,
        repos: tuple[str, ...],
        *,
        installation_id: int = 77,
        login: str = "tinygen-app[bot]",
    ) -> None:
        """A GitHub App installed on ``repos``: JWTs signed with its private key may mint
        installation tokens, which act as ``login`` with write access to those repos."""
        with self._lock:
            self._apps[app_id] = _App(app_id, public_key, installation_id, tuple(repos), login)
            for name in repos:
                self._repos[name].roles[login] = "write"

    def delete_repo(self, full_name: str) -> None:
        """Remove a repository (a deleted fork: its pull requests show ``head.repo: null``)."""
        with self._lock:
            del self._repos[full_name]

    def set_permission(self, repo: str, user: str, perm: str) -> None:
        """``perm`` is one of admin, maintain, write, triage, read, none."""
        if perm not in ROLES:
            raise ValueError(f"unknown role {perm!r}; one of {ROLES}")
        with self._lock:
            self._repos[repo].roles[user] = perm

    def add_issue(
        self,
        repo: str,
        title: str,
        body: str | None = "",
        *,
        user: str = "alice",
        labels: tuple[str, ...] | list[str] = (),
        state: str = "open",
        number: int | None = None,
    ) -> int:
        with self._lock:
            r = self._repos[repo]
            n = number if number is not None else self._next_number(r)
            r.issues[n] = {
                "number": n,
                "id": next(self._ids),
                "title": title,
                "body": body,
                "user": user,
                "labels": list(labels),
                "state": state,
                "created_at": _now(),
                "updated_at": _now(),
                "is_pr": False,
            }
            return n

    def add_pull(
        self,
        repo: str,
        head: str,
        *,
        base: str | None = None,
        title: str = "A change",
        body: str | None = "",
        user: str = "alice",
        head_repo: str | None = None,
        head_sha: str | None = None,
        draft: bool = False,
        state: str = "open",
        number: int | None = None,
        merged: bool = False,
    ) -> int:
        """A pull request from branch ``head`` of ``head_repo`` (default: ``repo`` itself;
        another name makes it a fork's pull request, the fork repository is added if needed).
        ``merged`` makes it a merged (closed) one."""
        with self._lock:
            r = self._repos[repo]
            head_repo = head_repo or repo
            if head_repo not in self._repos:
                self.add_repo(head_repo, default_branch=r.default_branch, fork_of=repo)
            n = number if number is not None else self._next_number(r)
            self._store_pull(
                r,
                n,
                title=title,
                body=body,
                user=user,
                head_ref=head,
                head_repo=head_repo,
                head_sha=head_sha or self._sha_for(self._repos[head_repo], head),
                base_ref=base or r.default_branch,
                draft=draft,
                state="closed" if merged else state,
                merged_at=_now() if merged else None,
            )
            return n

    def add_comment(
        self,
        repo: str,
        number: int,
        body: str,
        *,
        user: str = "alice",
        created_at: str | None = None,
        updated_at: str | None = None,
    ) -> int:
        with self._lock:
            self._issue(self._repos[repo], number)
            return self._store_comment(repo, number, body, user, created_at, updated_at)

    def fail_next(
        self,
        method: str,
        path_regex: str,
        status: int,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        after_effect: bool = False,
    ) -> None:
        """Answer the next ``method`` request whose route matches ``path_regex`` with ``status``.

        ``after_effect=True`` performs the request first and then answers the error. A ``str``
        or ``bytes`` body is sent as it is (as HTML), like a proxy's error page.
        """
        if body is None:
            body = {"message": f"fake failure {status}"}
        with self._lock:
            self._failures.append(
                _Failure(
                    method.upper(),
                    re.compile(path_regex),
                    status,
                    body,
                    dict(headers or {}),
                    after_effect,
                )
            )

    def rate_limited_until(self, ts: int | None) -> None:
        """Until epoch second ``ts`` every request gets GitHub's primary rate-limit 403."""
        with self._lock:
            self._rate_reset = ts

    # -- inspect -----------------------------------------------------------------------------

    def pulls(self, repo: str) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(p) for _, p in sorted(self._repos[repo].pulls.items())]

    def comments(self, repo: str, number: int) -> list[dict[str, Any]]:
        with self._lock:
            return [
                dict(c)
                for _, c in sorted(self._comments.items())
                if c["repo"] == repo and c["number"] == number
            ]

    def issue_state(self, repo: str, number: int) -> dict[str, Any]:
        with self._lock:
            return dict(self._issue(self._repos[repo], number))

    def requests_matching(self, method: str, route_regex: str) -> list[Recorded]:
        return [
            r
            for r in list(self.requests)
            if r.method == method.upper() and re.search(route_regex, r.route)
        ]

    # -- state helpers -----------------------------------------------------------------------

    def _next_number(self, r: _Repo) -> int:
        return max([0, *r.issues]) + 1

    def _sha_for(self, r: _Repo, branch: str) -> str:
        local = _local_git_dir(r.clone_url)
        if local is not None:
            proc = subprocess.run(
                ["git", "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}^{{commit}}"],
                cwd=local,
                capture_output=True,
                text=True,
            )
            if proc.returncode == 0:
                return proc.stdout.strip()
            raise _invalid("", resource="PullRequest", field="head", code="invalid")
        return hashlib.sha1(f"{r.full_name}:{branch}".encode()).hexdigest()

    def _issue(self, r: _Repo, n: int) -> dict[str, Any]:
        if n not in r.issues:
            raise _not_found()
        return r.issues[n]

    def _store_pull(self, r: _Repo, n: int, **fields: Any) -> dict[str, Any]:
        now = _now()
        r.issues[n] = {
            "number": n,
            "id": next(self._ids),
            "title": fields["title"],
            "body": fields["body"],
            "user": fields["user"],
            "labels": [],
            "state": fields["state"],
            "created_at": now,
            "updated_at": now,
            "is_pr": True,
        }
        r.pulls[n] = {"number": n, "id": next(self._ids), "created_at": now, **fields}
        return r.pulls[n]

    def _store_comment(
        self,
        repo: str,
        number: int,
        body: str,
        user: str,
        created_at: str | None = None,
        updated_at: str | None = None,
    ) -> int:
        cid = next(self._ids)
        created = created_at or _now()
        self._comments[cid] = {
            "id": cid,
            "repo": repo,
            "number": number,
            "user": user,
            "body": body,
            "created_at": created,
            "updated_at": updated_at or created,
        }
        return cid

    # -- JSON shapes -------------------------------------------------------------------------

    def _check_run_json(self, r: _Repo, c: ScriptedCheck, sha: str, poll: int) -> dict[str, Any]:
        status, conclusion = c.at(poll)
        return {
            "id": abs(hash((r.full_name, c.name))) % 10**9,
            "name": c.name,
            "head_sha": sha,
            "status": status,
            "conclusion": conclusion,
            "html_url": f"{self.root_url}/{r.full_name}/runs/{c.name}",
            "details_url": f"{self.root_url}/{r.full_name}/runs/{c.name}",
            "started_at": _now(),
            "completed_at": _now() if status == "completed" else None,
            "output": {"title": c.name, "summary": c.summary, "text": None, "annotations_count": 0},
            "app": {"id": 15368, "slug": "github-actions", "name": "GitHub Actions"},
        }

    def _user_json(self, login: str) -> dict[str, Any]:
        return {
            "login": login,
            "id": int(hashlib.sha1(login.encode()).hexdigest()[:7], 16),
            "type": "Bot" if login.endswith("[bot]") else "User",
            "url": f"{self.api_url}/users/{login}",
            "html_url": f"{self.root_url}/{login}",
            "site_admin": False,
        }

    def _role(self, r: _Repo, login: str | None) -> str:
        if login is None:
            return "none" if r.private else "read"
        return r.roles.get(login, "none" if r.private else "read")

    def _repo_json(self, r: _Repo, viewer: str | None) -> dict[str, Any]:
        role = ROLES.index(self._role(r, viewer))
        owner, name = r.full_name.split("/", 1)
        data: dict[str, Any] = {
            "id": r.id,
            "node_id": f"R_{r.id}",
            "name": name,
            "full_name": r.full_name,
            "owner": self._user_json(owner),
            "private": r.private,
            "visibility": "private" if r.private else "public",
            "fork": r.fork_of is not None,
            "html_url": f"{self.root_url}/{r.full_name}",
            "url": f"{self.api_url}/repos/{r.full_name}",
            "clone_url": r.clone_url,
            "default_branch": r.default_branch,
            "permissions": {
                "admin": role >= ROLES.index("admin"),
                "maintain": role >= ROLES.index("maintain"),
                "push": role >= ROLES.index("write"),
                "triage": role >= ROLES.index("triage"),
                "pull": role >= ROLES.index("read"),
            },
        }
        return data

    def _association(self, r: _Repo, login: str) -> str:
        if login == r.owner:
            return "OWNER"
        if ROLES.index(r.roles.get(login, "none")) >= ROLES.index("read"):
            return "COLLABORATOR"
        return "NONE"

    def _issue_json(self, r: _Repo, i: dict[str, Any]) -> dict[str, Any]:
        base = f"{self.api_url}/repos/{r.full_name}"
        n = i["number"]
        data: dict[str, Any] = {
            "id": i["id"],
            "node_id": f"I_{i['id']}",
            "number": n,
            "title": i["title"],
            "body": i["body"],
            "user": self._user_json(i["user"]),
            "labels": [
                {"id": idx + 1, "name": name, "color": "ededed", "url": f"{base}/labels/{name}"}
                for idx, name in enumerate(i["labels"])
            ],
            "state": i["state"],
            "locked": False,
            "comments": sum(
                1 for c in self._comments.values() if c["repo"] == r.full_name and c["number"] == n
            ),
            "created_at": i["created_at"],
            "updated_at": i["updated_at"],
            "closed_at": None,
            "author_association": self._association(r, i["user"]),
            "url": f"{base}/issues/{n}",
            "html_url": f"{self.root_url}/{r.full_name}/{'pull' if i['is_pr'] else 'issues'}/{n}",
            "comments_url": f"{base}/issues/{n}/comments",
            "repository_url": base,
        }
        if i["is_pr"]:
            data["pull_request"] = {
                "url": f"{base}/pulls/{n}",
                "html_url": f"{self.root_url}/{r.full_name}/pull/{n}",
                "diff_url": f"{self.root_url}/{r.full_name}/pull/{n}.diff",
                "patch_url": f"{self.root_url}/{r.full_name}/pull/{n}.patch",
            }
        return data

    def _pull_json(self, r: _Repo, p: dict[str, Any], viewer: str | None) -> dict[str, Any]:
        base = f"{self.api_url}/repos/{r.full_name}"
        n = p["number"]
        issue = r.issues[n]
        head_repo = self._repos.get(p["head_repo"])
        head_owner = p["head_repo"].split("/", 1)[0]
        return {
            "id": p["id"],
            "node_id": f"PR_{p['id']}",
            "number": n,
            "state": issue["state"],
            "title": issue["title"],
            "body": issue["body"],
            "user": self._user_json(p["user"]),
            "draft": p["draft"],
            "merged": p.get("merged_at") is not None,
            "merged_at": p.get("merged_at"),
            "mergeable": None,
            "maintainer_can_modify": False,
            "created_at": p["created_at"],
            "updated_at": issue["updated_at"],
            "url": f"{base}/pulls/{n}",
            "html_url": f"{self.root_url}/{r.full_name}/pull/{n}",
            "issue_url": f"{base}/issues/{n}",
            "comments_url": f"{base}/issues/{n}/comments",
            "author_association": self._association(r, p["user"]),
            "head": {
                "label": f"{head_owner}:{p['head_ref']}",
                "ref": p["head_ref"],
                "sha": p["head_sha"],
                "user": self._user_json(head_owner),
                # a deleted fork shows as null
                "repo": self._repo_json(head_repo, viewer) if head_repo else None,
            },
            "base": {
                "label": f"{r.owner}:{p['base_ref']}",
                "ref": p["base_ref"],
                "sha": self._sha_or_none(r, p["base_ref"]),
                "user": self._user_json(r.owner),
                "repo": self._repo_json(r, viewer),
            },
        }

    def _sha_or_none(self, r: _Repo, branch: str) -> str:
        try:
            return self._sha_for(r, branch)
        except _HTTPError:
            return "0" * 40

    def _comment_json(self, c: dict[str, Any]) -> dict[str, Any]:
        r = self._repos[c["repo"]]
        base = f"{self.api_url}/repos/{c['repo']}"
        kind = "pull" if r.issues[c["number"]]["is_pr"] else "issues"
        return {
            "id": c["id"],
            "node_id": f"IC_{c['id']}",
            "body": c["body"],
            "user": self._user_json(c["user"]),
            "created_at": c["created_at"],
            "updated_at": c["updated_at"],
            "author_association": self._association(r, c["user"]),
            "url": f"{base}/issues/comments/{c['id']}",
            "html_url": f"{self.root_url}/{c['repo']}/{kind}/{c['number']}#issuecomment-{c['id']}",
            "issue_url": f"{base}/issues/{c['number']}",
        }

    # -- request handling --------------------------------------------------------------------

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

            def _serve(self) -> None:
                fake._handle(self)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

        return Handler

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        parts = urlsplit(h.path)
        path = unquote(parts.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        route = path[len(self.prefix) :] if path.startswith(self.prefix + "/") else None
        if path == self.graphql_path:
            route = "/graphql"
        with self._lock:
            self.requests.append(
                Recorded(h.command, path, route or path, query, dict(h.headers.items()), body)
            )
        status, data, headers = 200, None, {}
        try:
            if route is None:
                raise _not_found()
            failure = self._take_failure(h.command, route)
            if failure and not failure.after_effect:
                raise _HTTPError(failure.status, failure.body, failure.headers)
            with self._lock:
                self._check_rate_limit()
                app = self._app_route(h.command, route, h.headers.get("Authorization"))
                if app is not None:
                    status, data = app
                else:
                    viewer = self._authenticate(h.headers.get("Authorization"))
                    status, data = self._dispatch(h.command, route, query, body, viewer)
            if failure:
                raise _HTTPError(failure.status, failure.body, failure.headers)
        except _HTTPError as err:
            status, data, headers = err.status, err.body, err.headers
        self._respond(h, status, data, headers)

    def _respond(
        self, h: BaseHTTPRequestHandler, status: int, data: Any, headers: Mapping[str, str]
    ) -> None:
        if isinstance(data, str | bytes):  # a raw body: a proxy's HTML error page, say
            payload = data.encode() if isinstance(data, str) else data
            content_type = "text/html; charset=utf-8"
        else:
            payload = b"" if data is None and status == 204 else json.dumps(data).encode()
            content_type = "application/json; charset=utf-8"
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(payload)))
        sent = {k.lower() for k in headers}
        if "x-ratelimit-remaining" not in sent:
            h.send_header("X-RateLimit-Limit", "5000")
            h.send_header("X-RateLimit-Remaining", "4999")
            h.send_header("X-RateLimit-Reset", str(int(time.time()) + 3600))
        for k, v in headers.items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(payload)

    def _take_failure(self, method: str, route: str) -> _Failure | None:
        with self._lock:
            for i, f in enumerate(self._failures):
                if f.method == method and f.pattern.search(route):
                    return self._failures.pop(i)
        return None

    def _check_rate_limit(self) -> None:
        if self._rate_reset is not None and time.time() < self._rate_reset:
            raise _HTTPError(
                403,
                {
                    "message": "API rate limit exceeded for user ID 1.",
                    "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
                },
                {
                    "X-RateLimit-Limit": "5000",
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Used": "5000",
                    "X-RateLimit-Reset": str(self._rate_reset),
                },
            )

    def _app_route(self, method: str, route: str, header: str | None) -> tuple[int, Any] | None:
        """GitHub App routes, authenticated by a JWT the App signed (RS256, like GitHub)."""
        installation = re.fullmatch(r"/repos/([^/]+/[^/]+)/installation", route)
        mint = re.fullmatch(r"/app/installations/(\d+)/access_tokens", route)
        if not ((method == "GET" and installation) or (method == "POST" and mint)):
            return None
        import jwt  # PyJWT, which PyGithub depends on

        scheme, _, value = (header or "").partition(" ")
        try:
            claims = jwt.decode(value, options={"verify_signature": False})
            app = self._apps[int(claims["iss"])]
            jwt.decode(value, app.public_key, algorithms=["RS256"])
        except Exception as exc:
            raise _HTTPError(
                401, {"message": f"A JSON web token could not be decoded ({type(exc).__name__})"}
            ) from None
        if scheme.lower() != "bearer":
            raise _HTTPError(401, {"message": "Bearer authentication is required"})
        if installation:
            if installation.group(1) not in app.repos:
                raise _not_found()
            return 200, {
                "id": app.installation_id,
                "app_id": app.app_id,
                "account": {"login": installation.group(1).split("/")[0], "type": "User"},
                "permissions": {"contents": "write", "pull_requests": "write"},
            }
        assert mint is not None
        if int(mint.group(1)) != app.installation_id:
            raise _not_found()
        token = f"ghs_{next(self._ids):06d}" + "a" * 30
        self._tokens[token] = _Token(app.login)
        self.minted.append(token)
        expires = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return 201, {"token": token, "expires_at": expires, "permissions": {}}

    def _authenticate(self, header: str | None) -> _Token | None:
        if not header:
            return None
        scheme, _, value = header.partition(" ")
        tok = self._tokens.get(value.strip()) if scheme.lower() in ("token", "bearer") else None
        if tok is None:
            raise _HTTPError(
                401,
                {
                    "message": "Bad credentials",
                    "documentation_url": "https://docs.github.com/rest",
                    "status": "401",
                },
            )
        return tok

    def _need(self, viewer: _Token | None, r: _Repo, permission: str, level: str) -> None:
        """Refuse like GitHub: 404 when the viewer cannot see the repository, 401 when a write
        needs a login, 403 when a fine-grained token or the user's role is not enough."""
        login = viewer.login if viewer else None
        role = self._role(r, login)
        if r.private and role == "none":
            raise _not_found()
        if level != "read" and viewer is None:
            raise _HTTPError(
                401,
                {
                    "message": "Requires authentication",
                    "documentation_url": "https://docs.github.com/rest",
                },
            )
        if viewer is not None and viewer.permissions is not None:
            granted = viewer.permissions.get(permission, "none")
            if _LEVELS[granted] < _LEVELS[level]:
                raise _HTTPError(
                    403,
                    {
                        "message": "Resource not accessible by personal access token",
                        "documentation_url": "https://docs.github.com/rest",
                        "status": "403",
                    },
                    {"X-Accepted-GitHub-Permissions": f"{permission}={level}"},
                )

    def _dispatch(
        self,
        method: str,
        route: str,
        query: dict[str, str],
        body: Any,
        viewer: _Token | None,
    ) -> tuple[int, Any]:
        login = viewer.login if viewer else None
        if method == "GET" and route == "/user":
            if viewer is None:
                raise _HTTPError(401, {"message": "Requires authentication"})
            return 200, self._user_json(viewer.login)
        if method == "POST" and route == "/graphql":
            return 200, self._graphql(body, viewer)
        m = re.fullmatch(r"/repos/([^/]+/[^/]+)(/.*)?", route)
        if not m:
            raise _not_found()
        # names are case-insensitive on GitHub
        r = next((x for k, x in self._repos.items() if k.lower() == m.group(1).lower()), None)
        if r is None:
            raise _not_found()
        rest = m.group(2) or ""
        body = body if isinstance(body, dict) else {}

        if method == "GET" and rest == "":
            self._need(viewer, r, "metadata", "read")
            return 200, self._repo_json(r, login)

        if method == "GET" and (m2 := re.fullmatch(r"/commits/([0-9a-f]{40})/check-runs", rest)):
            self._need(viewer, r, "checks", "read")
            sha = m2.group(1)
            poll = r.ci_polls.get(sha, 0)
            r.ci_polls[sha] = poll + 1
            runs = [
                self._check_run_json(r, c, sha, poll)
                for c in r.checks_of(sha)
                if c.kind == "check_run"
            ]
            return 200, {"total_count": len(runs), "check_runs": runs}

        if method == "GET" and (m2 := re.fullmatch(r"/commits/([0-9a-f]{40})/status", rest)):
            self._need(viewer, r, "statuses", "read")
            sha = m2.group(1)
            poll = max(r.ci_polls.get(sha, 0) - 1, 0)  # the state of the last check-run listing
            statuses = [
                {
                    "id": i + 1,
                    "context": c.name,
                    "state": c.at(poll)[0],
                    "description": c.summary,
                    "target_url": f"{self.root_url}/ci/{c.name}/{sha}",
                    "created_at": _now(),
                    "updated_at": _now(),
                }
                for i, c in enumerate(r.checks_of(sha))
                if c.kind == "status"
            ]
            states = {st["state"] for st in statuses}
            combined = (
                "failure"
                if states & {"failure", "error"}
                else ("pending" if "pending" in states or not states else "success")
            )
            return 200, {
                "state": combined,
                "statuses": statuses,
                "sha": sha,
                "total_count": len(statuses),
                "repository": self._repo_json(r, login),
                "commit_url": f"{self.api_url}/repos/{r.full_name}/commits/{sha}",
                "url": f"{self.api_url}/repos/{r.full_name}/commits/{sha}/status",
            }

        if method == "GET" and (m2 := re.fullmatch(r"/collaborators/([^/]+)/permission", rest)):
            self._need(viewer, r, "metadata", "read")
            from urllib.parse import unquote

            user = unquote(m2.group(1))
            if user.endswith("[bot]") and user not in r.roles:
                # as GitHub: an App's bot account is no user, so no collaborator either
                raise _HTTPError(404, {"message": f"{user} is not a user"})
            role = r.roles.get(user, "none" if r.private else "read")
            legacy = {"maintain": "write", "triage": "read"}.get(role, role)
            return 200, {"permission": legacy, "role_name": role, "user": self._user_json(user)}

        if m2 := re.fullmatch(r"/issues/(\d+)", rest):
            self._need(viewer, r, "issues", "read" if method == "GET" else "write")
            issue = self._issue(r, int(m2.group(1)))
            if method == "GET":
                return 200, self._issue_json(r, issue)
            raise _HTTPError(405, {"message": "Method not supported by the fake"})

        if m2 := re.fullmatch(r"/issues/(\d+)/comments", rest):
            n = int(m2.group(1))
            self._need(viewer, r, "issues", "read" if method == "GET" else "write")
            self._issue(r, n)
            if method == "GET":
                items = [
                    self._comment_json(c)
                    for _, c in sorted(self._comments.items())
                    if c["repo"] == r.full_name and c["number"] == n
                ]
                return 200, items
            if method == "POST":
                _require_comment_body(body)
                assert login is not None
                cid = self._store_comment(r.full_name, n, body["body"], login)
                return 201, self._comment_json(self._comments[cid])

        if m2 := re.fullmatch(r"/issues/comments/(\d+)", rest):
            self._need(viewer, r, "issues", "read" if method == "GET" else "write")
            c = self._comments.get(int(m2.group(1)))
            if c is None or c["repo"] != r.full_name:
                raise _not_found()
            if method == "GET":
                return 200, self._comment_json(c)
            if method == "PATCH":
                _require_comment_body(body)
                c["body"] = body["body"]
                c["updated_at"] = _now()
                return 200, self._comment_json(c)

        if method == "POST" and (
            m2 := re.fullmatch(r"/issues/(?:(comments)/)?(\d+)/reactions", rest)
        ):
            self._need(viewer, r, "issues", "write")
            assert login is not None
            target_id = int(m2.group(2))
            if m2.group(1):
                c = self._comments.get(target_id)
                if c is None or c["repo"] != r.full_name:
                    raise _not_found()
                target: dict[str, Any] = {"comment_id": target_id}
            else:
                self._issue(r, target_id)
                target = {"issue": target_id}
            content = body.get("content")
            if content not in REACTIONS:
                raise _invalid("", resource="Reaction", field="content", code="invalid")
            for existing in self.reactions:
                if (
                    existing["repo"] == r.full_name
                    and existing["user"] == login
                    and existing["content"] == content
                    and all(existing.get(k) == v for k, v in target.items())
                ):
                    return 200, self._reaction_json(existing)
            reaction = {
                "id": next(self._ids),
                "repo": r.full_name,
                "user": login,
                "content": content,
                "created_at": _now(),
                **target,
            }
            self.reactions.append(reaction)
            return 201, self._reaction_json(reaction)

        if m2 := re.fullmatch(r"/pulls/(\d+)", rest):
            n = int(m2.group(1))
            self._need(viewer, r, "pull_requests", "read" if method == "GET" else "write")
            p = r.pulls.get(n)
            if p is None:
                raise _not_found()
            if method == "GET":
                return 200, self._pull_json(r, p, login)
            if method == "PATCH":
                issue = r.issues[n]
                for key in ("title", "body", "state"):
                    if key in body:
                        issue[key] = body[key]
                        p[key] = body[key]
                if "base" in body:
                    p["base_ref"] = body["base"]
                issue["updated_at"] = _now()
                return 200, self._pull_json(r, p, login)

        if rest == "/pulls":
            self._need(viewer, r, "pull_requests", "read" if method == "GET" else "write")
            if method == "GET":
                return 200, self._list_pulls(r, query, login)
            if method == "POST":
                return 201, self._create_pull(r, body, login)

        raise _not_found()

    def _graphql(self, body: Any, viewer: _Token | None) -> dict[str, Any]:
        """The two mutations the REST API lacks: convertPullRequestToDraft and
        markPullRequestReadyForReview (input ``{"pullRequestId": <node_id>}``)."""
        if viewer is None:
            raise _HTTPError(401, {"message": "This endpoint requires you to be authenticated."})
        query = str((body or {}).get("query") or "")
        found = re.search(r"\b(convertPullRequestToDraft|markPullRequestReadyForReview)\(", query)
        if not found:
            return {"errors": [{"message": "the fake knows only two mutations"}]}
        name = found.group(1)
        node = str(((body.get("variables") or {}).get("input") or {}).get("pullRequestId"))
        for r in self._repos.values():
            for p in r.pulls.values():
                if f"PR_{p['id']}" == node:
                    self._need(viewer, r, "pull_requests", "write")
                    p["draft"] = name == "convertPullRequestToDraft"
                    r.issues[p["number"]]["updated_at"] = _now()
                    return {
                        "data": {
                            name: {"clientMutationId": None, "pullRequest": {"isDraft": p["draft"]}}
                        }
                    }
        return {
            "errors": [
                {"type": "NOT_FOUND", "message": f"Could not resolve to a node with the id {node}"}
            ]
        }

    def _reaction_json(self, reaction: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": reaction["id"],
            "node_id": f"REA_{reaction['id']}",
            "user": self._user_json(reaction["user"]),
            "content": reaction["content"],
            "created_at": reaction["created_at"],
        }

    def _list_pulls(
        self, r: _Repo, query: dict[str, str], viewer: str | None
    ) -> list[dict[str, Any]]:
        state = query.get("state", "open")
        head = query.get("head")
        out = []
        for n, p in sorted(r.pulls.items()):
            issue_state = r.issues[n]["state"]
            if state != "all" and issue_state != state:
                continue
            # GitHub filters by "owner:branch"; a bare branch name filters nothing
            if head and ":" in head:
                owner, _, ref = head.partition(":")
                head_owner = p["head_repo"].split("/", 1)[0]
                if p["head_ref"] != ref or head_owner.lower() != owner.lower():
                    continue
            if "base" in query and p["base_ref"] != query["base"]:
                continue
            out.append(self._pull_json(r, p, viewer))
        return out

    def _create_pull(self, r: _Repo, body: dict[str, Any], login: str | None) -> dict[str, Any]:
        for key in ("head", "base"):
            if not isinstance(body.get(key), str) or not body[key]:
                raise _invalid("", resource="PullRequest", field=key, code="missing_field")
        if not isinstance(body.get("title"), str) or not body["title"].strip():
            raise _invalid("", resource="PullRequest", field="title", code="missing_field")
        head: str = body["head"]
        if ":" in head:
            owner, _, ref = head.partition(":")
            head_repo = f"{owner}/{r.full_name.split('/', 1)[1]}"
            if owner == r.owner:
                head_repo = r.full_name
        else:
            ref, head_repo = head, r.full_name
        if head_repo not in self._repos:
            raise _invalid("", resource="PullRequest", field="head", code="invalid")
        for n, p in r.pulls.items():
            if (
                r.issues[n]["state"] == "open"
                and p["head_ref"] == ref
                and p["head_repo"] == head_repo
                and p["base_ref"] == body["base"]
            ):
                owner = head_repo.split("/", 1)[0]
                raise _invalid(
                    f"A pull request already exists for {owner}:{ref}.",
                    resource="PullRequest",
                    code="custom",
                )
        sha = self._sha_for(self._repos[head_repo], ref)
        assert login is not None
        p = self._store_pull(
            r,
            self._next_number(r),
            title=body["title"],
            body=body.get("body"),
            user=login,
            head_ref=ref,
            head_repo=head_repo,
            head_sha=sha,
            base_ref=body["base"],
            draft=bool(body.get("draft", False)),
            state="open",
        )
        return self._pull_json(r, p, login)


def _local_git_dir(clone_url: str) -> Path | None:
    """The directory of a clone URL that points at a local repository, else None."""
    if clone_url.startswith("file://"):
        path = Path(unquote(urlsplit(clone_url).path))
    elif "://" in clone_url or clone_url.startswith("git@"):
        return None
    else:
        path = Path(clone_url)
    return path if path.is_dir() else None
