"""The routes of the HTTP API::

    POST   /analyze            {"repoUrl", "prompt"} -> waits -> {"diff", "status", "runId", ...}
    POST   /jobs               same body + ref, model, checks -> 202 {"id", ...}
    GET    /jobs               recent jobs (?state=&limit=)
    GET    /jobs/{id}          state, stage, result or error
    GET    /jobs/{id}/events   server-sent events: state changes and stage progress
    DELETE /jobs/{id}          cancel
    GET    /healthz            liveness, live workers, queue figures (no authentication)

Handlers that touch the store are plain ``def`` (FastAPI runs them in its thread pool);
the two that wait (``/analyze``, the event stream) are ``async``, read the store from a
thread (a slow disk or database never blocks the event loop) and sleep on the store's bell
between reads: a new event, written by any server, wakes them (no polling). Any handler
answers 503 while the job database cannot be reached.

FastAPI reads the handlers' annotations at runtime (some name local objects such as
``JobId``), so this module does not use ``from __future__ import annotations``.
"""

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from typing import Annotated, Any

from fastapi import FastAPI, Header, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from tinygen.server.auth import bearer_dependencies, client_key
from tinygen.server.config import ServerConfig
from tinygen.server.errors import ApiError, failure_status
from tinygen.server.inputs import job_spec
from tinygen.server.jobs import (
    Event,
    Job,
    JobSpec,
    JobState,
    JobStore,
    QueueFull,
    SpendCap,
    SpendCapReached,
    StoreUnavailable,
)
from tinygen.server.schemas import (
    AnalyzeRequest,
    AnalyzeResponse,
    DatabaseHealth,
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
from tinygen.server.worker import WorkerPool

KEEPALIVE_SECONDS = 15.0
STORE_RETRY_SECONDS = 1.0  # an event stream whose database is away looks again after this
ANALYZE_FALLBACK_SECONDS = 5.0


@dataclass
class Service:
    """What the routes work with, made when the application starts."""

    config: ServerConfig
    store: JobStore
    pool: WorkerPool
    models: tuple[str, ...]
    closing: threading.Event = field(default_factory=threading.Event)
    recovered: list[str] = field(default_factory=list)


def _sse(event: str, data: dict[str, Any], seq: int | None = None) -> str:
    head = f"id: {seq}\n" if seq is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, sort_keys=True)}\n\n"


def _event_data(ev: Event) -> dict[str, Any]:
    if ev.kind == "state":
        return {"state": ev.stage, "message": ev.message, "time": ev.time}
    return {"stage": ev.stage, "message": ev.message, "time": ev.time}


def _view(job: Job) -> dict[str, Any]:
    return JobView.of(job).model_dump(by_alias=True, mode="json")


def add_routes(app: FastAPI, config: ServerConfig, service: Callable[[], Service]) -> None:
    """The API's routes on ``app``; ``service()`` is the running service (after startup)."""
    dependencies = bearer_dependencies(config.token)
    cap = SpendCap(config.max_key_spend) if config.max_key_spend is not None else None

    def submit(spec: JobSpec, authorization: str | None) -> Job:
        svc = service()
        try:
            job = svc.store.add(
                spec,
                max_queued=config.queue_size,
                client_key=client_key(authorization, config.token),
                spend_cap=cap,
            )
        except QueueFull as exc:
            retry = svc.store.retry_after(config.workers)
            raise ApiError(
                429,
                str(exc),
                hint=f"try again in {retry} s",
                headers={"Retry-After": str(retry)},
            ) from None
        except SpendCapReached as exc:
            raise ApiError(
                429,
                str(exc),
                hint=f"try again in {exc.retry_after} s, or ask the server's operator to raise "
                "the spending cap (`max_key_spend`)",
                headers={"Retry-After": str(exc.retry_after)},
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
    async def analyze(
        body: AnalyzeRequest,
        request: Request,
        authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
    ) -> Any:
        """Run a change request and wait for its diff (the original tinygen contract)."""
        svc = service()
        spec = await run_in_threadpool(job_spec, body, config, svc.models)
        job = await run_in_threadpool(submit, spec, authorization)
        deadline = time.monotonic() + config.analyze_timeout
        with svc.store.bell.subscribe(job.id) as bell:
            stale = True  # subscribed after the submit: read once before waiting
            quiet = 0.0
            while True:
                if stale:
                    try:
                        fresh = await run_in_threadpool(svc.store.get, job.id)
                    except StoreUnavailable:
                        fresh = None  # the job goes on in the database; look again later
                    job = fresh or job
                    stale = fresh is None
                    quiet = 0.0
                if job.state.finished:
                    break
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
                # The job's next event rings; the short wait notices a client gone, and a
                # read every ANALYZE_FALLBACK_SECONDS covers a ring lost with the database.
                rung = await bell.wait(0.5)
                quiet += 0.5
                stale = stale or rung or quiet >= ANALYZE_FALLBACK_SECONDS
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
    def create_job(
        body: JobRequest,
        response: Response,
        authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
    ) -> JobCreated:
        """Queue a change request; follow it with GET /jobs/{id} or its event stream."""
        job = submit(job_spec(body, config, service().models), authorization)
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
            last = after
            # Subscribed before the first read: an event written in between still rings.
            with svc.store.bell.subscribe(job_id) as bell:
                while True:
                    try:
                        events = await run_in_threadpool(svc.store.events, job_id, last)
                        for ev in events:
                            last = ev.seq
                            yield _sse(ev.kind, _event_data(ev), ev.seq)
                        job = await run_in_threadpool(svc.store.get, job_id)
                    except StoreUnavailable:
                        # The database is away: keep the stream, look again shortly.
                        if svc.closing.is_set():
                            return
                        yield ": reconnecting\n\n"
                        await asyncio.sleep(STORE_RETRY_SECONDS)
                        continue
                    if job is None or job.state.finished:
                        # The final state event is written with the state: send what is left.
                        rest = await run_in_threadpool(svc.store.events, job_id, last)
                        for ev in rest:
                            last = ev.seq
                            yield _sse(ev.kind, _event_data(ev), ev.seq)
                        if job is not None:
                            yield _sse("end", _view(job))
                        return
                    if svc.closing.is_set():
                        return
                    if not await bell.wait(KEEPALIVE_SECONDS):
                        yield ": keep-alive\n\n"

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @app.get(
        "/healthz",
        response_model=Health,
        responses={
            503: {
                "model": Health,
                "description": "degraded: workers are missing, or the job database is away",
            }
        },
    )
    def health(response: Response) -> Health:
        svc = service()
        live = svc.pool.live_workers()
        database = svc.store.health()
        jobs: dict[str, int] = {}
        ages: list[float] = []
        if database.ok:
            try:
                now = time.time()
                running = svc.store.recent(state=JobState.RUNNING, limit=1000)
                ages = [now - j.started_at for j in running if j.started_at is not None]
                jobs = svc.store.counts()
            except StoreUnavailable:
                database = replace(database, ok=False)
        degraded = live < config.workers or not database.ok
        if degraded:
            response.status_code = 503
        return Health(
            status="degraded" if degraded else "ok",
            workers=config.workers,
            live_workers=live,
            worker_restarts=svc.pool.restarts,
            queue_size=config.queue_size,
            jobs=jobs,
            oldest_running_seconds=round(max(ages), 3) if ages else None,
            database=DatabaseHealth(
                kind=database.kind, ok=database.ok, notifications=database.notifications
            ),
            lost_jobs=svc.pool.expired,
        )


__all__ = ["KEEPALIVE_SECONDS", "STORE_RETRY_SECONDS", "Service", "add_routes"]
