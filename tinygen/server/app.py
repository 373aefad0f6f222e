"""The FastAPI application: routes, authentication, input checks, and a threaded runner.

::

    POST   /analyze            {"repoUrl", "prompt"} -> waits -> {"diff", "status", "runId", ...}
    POST   /jobs               same body + ref, model, checks -> 202 {"id", ...}
    GET    /jobs               recent jobs (?state=&limit=)
    GET    /jobs/{id}          state, stage, result or error
    GET    /jobs/{id}/events   server-sent events: state changes and stage progress
    DELETE /jobs/{id}          cancel
    GET    /healthz            liveness, live workers, queue figures (no authentication)
    GET    /docs, /openapi.json

Every request passes :class:`RequestGate` first, a plain ASGI middleware: it checks the
bearer token and refuses oversized bodies (413) before anything reads or parses them.

Handlers that touch SQLite are plain ``def`` (FastAPI runs them in its thread pool); the
two that wait (``/analyze``, the event stream) are ``async`` and poll the store from a
thread, so a slow disk never blocks the event loop.

FastAPI reads the handlers' annotations at runtime (some name local objects such as the
bearer scheme), so this module does not use ``from __future__ import annotations``.
"""

import asyncio
import hmac
import json
import logging
import re
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tinygen import __version__
from tinygen.errors import RepoError, TinygenError
from tinygen.redact import redact
from tinygen.server.config import ServerConfig, is_loopback
from tinygen.server.jobs import Event, Job, JobSpec, JobState, JobStore, QueueFull, SQLiteJobStore
from tinygen.server.lock import DatabaseLock, owner_text
from tinygen.server.schemas import (
    AnalyzeRequest,
    AnalyzeResponse,
    ErrorBody,
    Health,
    JobCreated,
    JobList,
    JobRequest,
    JobResult,
    JobStateName,
    JobView,
    summary_of,
)
from tinygen.server.worker import Executor, WorkerPool

log = logging.getLogger("tinygen.server")

MAX_CHECK_CHARS = 1000
KEEPALIVE_SECONDS = 15.0
EVENT_POLL_SECONDS = 0.1

# HTTP status of a failed /analyze job, by the CLI exit code of its error: repository and
# repository-config problems are the client's (422), model API failures are upstream (502).
_STATUS_BY_EXIT = {8: 422, 7: 502, 5: 502, 6: 422}
# A RepoError that is the git host's or the network's fault, not the request's: 502.
_NETWORK_TROUBLE = re.compile(
    r"could not resolve|failed to connect|connection (refused|reset|timed out)|timed out"
    r"|network is unreachable|unable to access|early eof|remote end hung up"
    r"|could not read from remote|\bssl\b|\btls\b|gnutls|returned error: 5\d\d",
    re.IGNORECASE,
)
_CLIENT_REPO_TROUBLE = re.compile(
    r"authentication failed|was not found|no such ref|no branch or tag|too large", re.IGNORECASE
)
AUTH_HINT = "send an Authorization header with the server token as a bearer token"
PUBLIC_PATHS = frozenset({"/healthz", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})


class ApiError(Exception):
    """An error answer: ``{"detail", "hint", "jobId"}`` with this status."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        hint: str | None = None,
        job_id: str | None = None,
        headers: dict[str, str] | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.hint = hint
        self.job_id = job_id
        self.headers = headers
        self.errors = errors


def field_error(name: str, message: str) -> ApiError:
    return ApiError(
        422,
        f"{name}: {message}",
        hint=f"fix {name} and send the request again",
        errors=[{"field": name, "message": message}],
    )


def failure_status(error: dict[str, Any], state: JobState) -> int:
    """The HTTP status /analyze answers a job that did not succeed with."""
    if state == JobState.CANCELLED:
        return 409
    message = str(error.get("message", ""))
    if error.get("kind") == "Interrupted" or "interrupted" in message:
        return 503
    if state != JobState.FAILED:
        return 500
    exit_code = int(error.get("exitCode") or 1)
    if (
        exit_code == 8
        and _NETWORK_TROUBLE.search(message)
        and not _CLIENT_REPO_TROUBLE.search(message)
    ):
        return 502
    return _STATUS_BY_EXIT.get(exit_code, 500)


@dataclass
class _Service:
    config: ServerConfig
    store: JobStore
    pool: WorkerPool
    models: tuple[str, ...]
    closing: threading.Event = field(default_factory=threading.Event)
    recovered: list[str] = field(default_factory=list)


def check_repo_url(url: str, config: ServerConfig) -> str:
    """The URL as jobs will use and store it (normalised), or a 422 naming ``repoUrl``."""
    from urllib.parse import urlsplit

    from tinygen.repo.spec import parse_repo_spec

    try:
        spec = parse_repo_spec(url, allow_local=config.allow_local)
    except RepoError as exc:
        message = exc.message + (f" ({exc.hint})" if exc.hint else "")
        raise field_error("repoUrl", redact(message)) from None
    if spec.kind in ("local", "bare", "file"):
        return spec.url  # parse_repo_spec refuses these unless allow_local
    if spec.kind in ("https", "http") and urlsplit(url.strip()).username is not None:
        # A token in the user part would be stored with the job and shown to every client.
        raise field_error(
            "repoUrl",
            "it contains a user name or token; send the URL without it (this server uses "
            "its own credentials)",
        )
    if spec.kind not in ("https", "ssh"):
        raise field_error(
            "repoUrl", f"{spec.kind}:// is not allowed; use an https:// or git@host: URL"
        )
    allowed = {h.lower() for h in config.allowed_hosts}
    if (spec.host or "") not in allowed:
        raise field_error(
            "repoUrl",
            f"the host {spec.host!r} is not allowed on this server (allowed: "
            + ", ".join(sorted(allowed))
            + ")",
        )
    if spec.full_name is None:
        raise field_error("repoUrl", "expected a repository URL of the form HOST/OWNER/NAME")
    owners = {o.lower() for o in config.allowed_owners}
    if owners and (spec.owner or "").lower() not in owners:
        raise field_error(
            "repoUrl",
            f"the owner {spec.owner!r} is not allowed on this server (allowed: "
            + ", ".join(sorted(owners))
            + ")",
        )
    return spec.url


_REF_PART_BAD = re.compile(r"^\.|\.lock$|\.$")


def check_ref(ref: str) -> None:
    """git's ref-name rules beyond the schema's character pattern (422 on ``ref``)."""
    parts = ref.split("/")
    if (
        ".." in ref
        or "//" in ref
        or ref.endswith("/")
        or any(_REF_PART_BAD.search(p) for p in parts)
    ):
        raise field_error(
            "ref",
            "is not a valid git ref name (no '..', '//', trailing '/' or '.', "
            "no part starting with '.' or ending in '.lock')",
        )


def job_spec(
    body: AnalyzeRequest, config: ServerConfig, models: tuple[str, ...] | None = None
) -> JobSpec:
    """Checks that need the server's settings (pydantic did the static ones). ``models``:
    the allowed models (default: ``config.models()``)."""
    if not body.prompt.strip():
        raise field_error("prompt", "is blank; say what to change")
    if len(body.prompt) > config.max_prompt_chars:
        raise field_error(
            "prompt",
            f"has {len(body.prompt)} characters; this server accepts at most "
            f"{config.max_prompt_chars}",
        )
    url = check_repo_url(body.repo_url, config)
    if not isinstance(body, JobRequest):
        return JobSpec(repo_url=url, prompt=body.prompt)
    if body.ref is not None:
        check_ref(body.ref)
    if body.model is not None:
        allowed = models if models is not None else config.models()
        if body.model not in allowed:
            raise field_error(
                "model",
                f"{body.model!r} is not allowed on this server (allowed: {', '.join(allowed)})",
            )
    checks = tuple(body.checks or ())
    if checks and not config.allow_checks:
        raise field_error(
            "checks", "this server does not run commands from requests (see --allow-checks)"
        )
    for command in checks:
        if not command.strip() or len(command) > MAX_CHECK_CHARS:
            raise field_error("checks", f"each check is 1 to {MAX_CHECK_CHARS} characters")
    return JobSpec(repo_url=url, prompt=body.prompt, ref=body.ref, model=body.model, checks=checks)


def _sse(event: str, data: dict[str, Any], seq: int | None = None) -> str:
    head = f"id: {seq}\n" if seq is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, sort_keys=True)}\n\n"


def _event_data(ev: Event) -> dict[str, Any]:
    if ev.kind == "state":
        return {"state": ev.stage, "message": ev.message, "time": ev.time}
    return {"stage": ev.stage, "message": ev.message, "time": ev.time}


def _view(job: Job) -> dict[str, Any]:
    return JobView.of(job).model_dump(by_alias=True, mode="json")


# --- the request gate (plain ASGI, before routing) --------------------------------------------

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _host_part(netloc: str) -> str:
    """The host of ``host[:port]`` or ``[v6][:port]``."""
    if netloc.startswith("["):
        return netloc[: netloc.find("]") + 1] if "]" in netloc else netloc
    return netloc.rsplit(":", 1)[0] if netloc.count(":") == 1 else netloc


class RequestGate:
    """Authentication and a body size limit before anything reads or parses the body.

    FastAPI reads a whole body before a dependency could refuse it, so a client without
    credentials could make the server hold hundreds of megabytes. Here the token is checked
    from the headers alone, a declared ``Content-Length`` over the limit is refused at once,
    and a streamed body is counted as it arrives and refused the moment it passes the limit;
    what is accepted is handed on to the application, already read.
    """

    def __init__(self, app: ASGIApp, *, token: str | None, max_body: int) -> None:
        self.app = app
        self.token = token.encode("utf-8") if token is not None else None
        self.max_body = max_body

    def _foreign(self, headers: dict[str, bytes]) -> str | None:
        """Without a token the server listens on loopback only, but a web page can still
        reach it: DNS rebinding points the page's own name at 127.0.0.1, making its
        requests same-origin. They carry that name in Host (and Origin), so refuse any
        request whose Host or Origin is not a loopback name. With a token this is moot."""
        if self.token is not None:
            return None
        host = headers.get("host", b"").decode("latin-1")
        if not is_loopback(_host_part(host)):
            return f"Host {host!r}"
        origin = headers.get("origin")
        if origin is not None:
            text = origin.decode("latin-1")
            netloc = text.split("://", 1)[1] if "://" in text else ""
            if not netloc or not is_loopback(_host_part(netloc)):
                return f"Origin {text!r}"
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v for k, v in scope.get("headers", [])}
        foreign = self._foreign(headers)
        if foreign is not None:
            await _reply(
                send,
                403,
                ErrorBody(
                    detail=f"refused: {foreign} is not this loopback server (DNS rebinding guard)",
                    hint="call the server as http://127.0.0.1:PORT or http://localhost:PORT, or "
                    "set TINYGEN_SERVER_TOKEN to serve other names",
                ),
                [],
            )
            return
        if self.token is not None and scope.get("path") not in PUBLIC_PATHS:
            scheme, _, given = headers.get("authorization", b"").partition(b" ")
            # compare_digest: the time taken does not reveal how much of the token matched.
            if scheme.lower() != b"bearer" or not hmac.compare_digest(given.strip(), self.token):
                await _reply(
                    send,
                    401,
                    ErrorBody(detail="missing or wrong bearer token", hint=AUTH_HINT),
                    [(b"www-authenticate", b"Bearer")],
                )
                return
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            await self._too_large(send)
            return
        body = bytearray()
        pending: Message | None = None
        while True:
            message = await receive()
            if message["type"] != "http.request":
                pending = message  # the client left: let the application see it
                break
            body += message.get("body", b"")
            if len(body) > self.max_body:
                await self._too_large(send)
                return
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed, pending
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            if pending is not None:
                message, pending = pending, None
                return message
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, send: Send) -> None:
        await _reply(
            send,
            413,
            ErrorBody(
                detail=f"the request body is larger than this server accepts ({self.max_body} bytes)",
                hint="send a shorter prompt (see --max-prompt-chars)",
            ),
            [(b"connection", b"close")],
        )


async def _reply(
    send: Send, status: int, body: ErrorBody, headers: list[tuple[bytes, bytes]]
) -> None:
    data = json.dumps(body.model_dump(by_alias=True, exclude_none=True)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})


def create_app(
    config: ServerConfig,
    *,
    executor: Executor | None = None,
    store_factory: Callable[[ServerConfig], JobStore] | None = None,
    db_lock: DatabaseLock | None = None,
) -> FastAPI:
    """The application. The store opens and the workers start with the app's lifespan, so
    a new app on the same database is a restart (queued jobs run, running ones fail).

    The lifespan holds ``db_lock`` (taken then if not already held): a second server on the
    same database fails to start with a ConfigError instead of failing this one's jobs."""
    holder: dict[str, _Service] = {}

    def service() -> _Service:
        return holder["service"]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from tinygen.repo.clone import default_cache_dir
        from tinygen.server.execute import PipelineExecutor
        from tinygen.server.prune import prune

        lock = db_lock or DatabaseLock(config.db_path)
        lock.acquire(owner_text(f"{config.host}:{config.port}"))
        try:
            store = (store_factory or (lambda c: SQLiteJobStore(c.db_path)))(config)
            cache = config.cache_dir or default_cache_dir()

            def maintenance() -> None:
                if config.keep_days > 0:
                    prune(store, cache, config.keep_days)

            pool = WorkerPool(
                store,
                executor or PipelineExecutor(config),
                workers=config.workers,
                poll_interval=config.poll_interval,
                maintenance=maintenance,
                maintenance_interval=config.maintenance_interval,
            )
            svc = _Service(config, store, pool, models=await run_in_threadpool(config.models))
            await run_in_threadpool(maintenance)
            svc.recovered = await run_in_threadpool(pool.start)
            holder["service"] = svc
            try:
                yield
            finally:
                svc.closing.set()
                await run_in_threadpool(pool.stop, config.drain_timeout)
                store.close()
        finally:
            lock.release()

    app = FastAPI(
        title="tinygen",
        version=__version__,
        summary="Change requests in, validated git diffs out — as queued jobs.",
        lifespan=lifespan,
        responses={
            401: {"model": ErrorBody, "description": "missing or wrong bearer token"},
            413: {"model": ErrorBody, "description": "the request body is too large"},
            422: {"model": ErrorBody, "description": "a bad field (named in the message)"},
        },
    )

    app.add_middleware(RequestGate, token=config.token, max_body=config.max_body_bytes)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        body = ErrorBody(
            detail=redact(exc.detail),
            hint=redact(exc.hint) if exc.hint else None,
            job_id=exc.job_id,
            errors=exc.errors,
        )
        return JSONResponse(
            body.model_dump(by_alias=True, exclude_none=True),
            status_code=exc.status,
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _bad_body(request: Request, exc: RequestValidationError) -> JSONResponse:
        # Our own shape, and never the offending input: it may hold a token.
        errors = []
        for err in exc.errors():
            parts = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
            name = "body" if err.get("type") == "json_invalid" else ".".join(parts) or "body"
            errors.append({"field": name, "message": redact(str(err.get("msg", "invalid")))})
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        body = ErrorBody(detail=detail, hint="fix the named field(s) and try again", errors=errors)
        return JSONResponse(body.model_dump(by_alias=True, exclude_none=True), status_code=422)

    @app.exception_handler(TinygenError)
    async def _tinygen_error(request: Request, exc: TinygenError) -> JSONResponse:
        body = ErrorBody(detail=redact(exc.message), hint=redact(exc.hint) if exc.hint else None)
        return JSONResponse(body.model_dump(by_alias=True, exclude_none=True), status_code=500)

    dependencies = []
    if config.token is not None:
        token = config.token.encode("utf-8")
        bearer = HTTPBearer(auto_error=False, description="TINYGEN_SERVER_TOKEN")

        def authenticate(
            credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
        ) -> None:
            # RequestGate already refused wrong tokens; this documents the scheme in
            # /openapi.json and stays as a second check.
            given = (credentials.credentials if credentials else "").encode("utf-8")
            if not hmac.compare_digest(given, token):
                raise ApiError(
                    401,
                    "missing or wrong bearer token",
                    hint=AUTH_HINT,
                    headers={"WWW-Authenticate": "Bearer"},
                )

        dependencies.append(Depends(authenticate))

    def submit(spec: JobSpec) -> Job:
        svc = service()
        try:
            job = svc.store.add(spec, max_queued=config.queue_size)
        except QueueFull as exc:
            retry = svc.store.retry_after(config.workers)
            raise ApiError(
                429,
                str(exc),
                hint=f"try again in {retry} s",
                headers={"Retry-After": str(retry)},
            ) from None
        svc.pool.wake()
        return job

    def get_job(job_id: str) -> Job:
        job = service().store.get(job_id)
        if job is None:
            raise ApiError(404, f"no job {job_id!r}", hint="GET /jobs lists the recent jobs")
        return job

    JobId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9\-]+$")]
    ok: dict[int | str, dict[str, Any]] = {
        429: {"model": ErrorBody, "description": "the queue is full; see Retry-After"}
    }

    @app.post(
        "/analyze",
        response_model=AnalyzeResponse,
        dependencies=dependencies,
        responses={
            **ok,
            502: {"model": ErrorBody, "description": "the model API failed"},
            504: {"model": ErrorBody, "description": "still running; poll GET /jobs/{jobId}"},
        },
    )
    async def analyze(body: AnalyzeRequest, request: Request) -> Any:
        """Run a change request and wait for its diff (the original tinygen contract)."""
        svc = service()
        spec = await run_in_threadpool(job_spec, body, config, svc.models)
        job = await run_in_threadpool(submit, spec)
        deadline = time.monotonic() + config.analyze_timeout
        delay = 0.05
        while not job.state.finished:
            if time.monotonic() > deadline:
                raise ApiError(
                    504,
                    f"the job is still {job.state} after {config.analyze_timeout:g} s",
                    hint=f"poll GET /jobs/{job.id}",
                    job_id=job.id,
                )
            if await request.is_disconnected():
                # Nobody will read this answer: stop spending model calls on it.
                await run_in_threadpool(svc.store.cancel, job.id)
                return Response(status_code=499)
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 0.5)
            fresh = await run_in_threadpool(svc.store.get, job.id)
            assert fresh is not None
            job = fresh
        if job.state == JobState.SUCCEEDED and job.result is not None:
            result = JobResult.from_store(job.result)
            return AnalyzeResponse(**result.model_dump(), job_id=job.id)
        error = job.error or {}
        raise ApiError(
            failure_status(error, job.state),
            str(error.get("message") or f"the job {job.state}"),
            hint=error.get("hint"),
            job_id=job.id,
        )

    @app.post(
        "/jobs",
        status_code=202,
        response_model=JobCreated,
        dependencies=dependencies,
        responses=ok,
    )
    def create_job(body: JobRequest, response: Response) -> JobCreated:
        """Queue a change request; follow it with GET /jobs/{id} or its event stream."""
        job = submit(job_spec(body, config, service().models))
        response.headers["Location"] = f"/jobs/{job.id}"
        return JobCreated(
            id=job.id,
            state=str(job.state),  # type: ignore[arg-type]
            url=f"/jobs/{job.id}",
            events_url=f"/jobs/{job.id}/events",
        )

    @app.get("/jobs", response_model=JobList, dependencies=dependencies)
    def list_jobs(
        limit: Annotated[int, Query(ge=1, le=200)] = 20,
        state: JobStateName | None = None,
    ) -> JobList:
        """The most recent jobs first."""
        jobs = service().store.recent(limit=limit, state=JobState(state) if state else None)
        return JobList(jobs=[summary_of(j) for j in jobs])

    @app.get(
        "/jobs/{job_id}",
        response_model=JobView,
        dependencies=dependencies,
        responses={404: {"model": ErrorBody}},
    )
    def read_job(job_id: JobId) -> JobView:
        return JobView.of(get_job(job_id))

    @app.delete(
        "/jobs/{job_id}",
        status_code=202,
        response_model=JobView,
        dependencies=dependencies,
        responses={404: {"model": ErrorBody}, 409: {"model": ErrorBody}},
    )
    def cancel_job(job_id: JobId) -> JobView:
        """Cancel a job: a queued one at once, a running one at its next step."""
        job = get_job(job_id)
        if job.state.finished:
            raise ApiError(409, f"job {job_id} already {job.state}", job_id=job_id)
        cancelled = service().store.cancel(job_id)
        assert cancelled is not None
        return JobView.of(cancelled)

    @app.get(
        "/jobs/{job_id}/events",
        dependencies=dependencies,
        response_class=StreamingResponse,
        responses={
            200: {
                "content": {"text/event-stream": {}},
                "description": "events `state` and `progress`, then `end` with the job",
            },
            404: {"model": ErrorBody},
        },
    )
    async def job_events(
        job_id: JobId,
        after: Annotated[int, Query(ge=0, description="resume after this event id")] = 0,
        last_event_id: Annotated[str | None, Header()] = None,
    ) -> StreamingResponse:
        """Server-sent events: `state` (queued, running, ...), `progress` (stage, message),
        and a final `end` whose data is the job as GET /jobs/{id} returns it."""
        await run_in_threadpool(get_job, job_id)
        if last_event_id and last_event_id.isdigit():
            after = max(after, int(last_event_id))
        svc = service()

        async def stream() -> AsyncIterator[str]:
            last, quiet = after, 0.0
            while True:
                events = await run_in_threadpool(svc.store.events, job_id, last)
                for ev in events:
                    last = ev.seq
                    yield _sse(ev.kind, _event_data(ev), ev.seq)
                job = await run_in_threadpool(svc.store.get, job_id)
                if job is None or job.state.finished:
                    # Any final state event was just sent (it is written with the state).
                    rest = await run_in_threadpool(svc.store.events, job_id, last)
                    for ev in rest:
                        last = ev.seq
                        yield _sse(ev.kind, _event_data(ev), ev.seq)
                    if job is not None:
                        yield _sse("end", _view(job))
                    return
                if svc.closing.is_set():
                    return
                quiet = 0.0 if events else quiet + EVENT_POLL_SECONDS
                if quiet >= KEEPALIVE_SECONDS:
                    quiet = 0.0
                    yield ": keep-alive\n\n"
                await asyncio.sleep(EVENT_POLL_SECONDS)

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @app.get(
        "/healthz",
        response_model=Health,
        responses={503: {"model": Health, "description": "degraded: workers are missing"}},
    )
    def health(response: Response) -> Health:
        svc = service()
        live = svc.pool.live_workers()
        now = time.time()
        running = svc.store.recent(state=JobState.RUNNING, limit=1000)
        ages = [now - j.started_at for j in running if j.started_at is not None]
        degraded = live < config.workers
        if degraded:
            response.status_code = 503
        return Health(
            status="degraded" if degraded else "ok",
            workers=config.workers,
            live_workers=live,
            worker_restarts=svc.pool.restarts,
            queue_size=config.queue_size,
            jobs=svc.store.counts(),
            oldest_running_seconds=round(max(ages), 3) if ages else None,
        )

    return app


# --- running it -----------------------------------------------------------------------------


@dataclass
class RunningServer:
    """A uvicorn server on a background thread (tests, benchmarks)."""

    url: str
    server: Any  # uvicorn.Server
    thread: threading.Thread

    def stop(self, timeout: float = 60.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)


def uvicorn_config(app: FastAPI, config: ServerConfig, *, log_level: str = "info") -> Any:
    import uvicorn

    return uvicorn.Config(
        app,
        host=config.host,
        port=config.port,
        log_level=log_level,
        lifespan="on",
        timeout_graceful_shutdown=5,  # open event streams must not hold a shutdown forever
        server_header=False,
        ssl_certfile=str(config.ssl_certfile) if config.ssl_certfile else None,
        ssl_keyfile=str(config.ssl_keyfile) if config.ssl_keyfile else None,
    )


def serve_in_thread(
    config: ServerConfig,
    *,
    executor: Executor | None = None,
    log_level: str = "warning",
    start_timeout: float = 30.0,
) -> RunningServer:
    """Start the service on ``config.host:config.port`` (port 0: a free one) in a thread."""
    import uvicorn

    server = uvicorn.Server(
        uvicorn_config(create_app(config, executor=executor), config, log_level=log_level)
    )
    thread = threading.Thread(target=server.run, name="tinygen-serve", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError("the server did not start (see its log)")
        time.sleep(0.02)
    host, port = server.servers[0].sockets[0].getsockname()[:2]
    scheme = "https" if config.ssl_certfile else "http"
    return RunningServer(f"{scheme}://{host}:{port}", server, thread)


__all__ = [
    "AUTH_HINT",
    "ApiError",
    "RequestGate",
    "RunningServer",
    "check_ref",
    "check_repo_url",
    "create_app",
    "failure_status",
    "job_spec",
    "serve_in_thread",
    "uvicorn_config",
]
