"""What a client sees of a failure: the ApiError answer shape, a job's error record, and
the HTTP status of a failed job by its error class.

Every error answer is an :class:`~tinygen.server.schemas.ErrorBody` (``detail``, ``hint``,
``jobId``, ``errors``), redacted on the way out. A failed job records the *class* of the
error that ended it (``kind``), and ``/analyze`` answers by that class, never by what its
message says. Library hints name settings and run inputs (``TinygenError.settings``);
here the ones a request can set are named as its fields (``repoUrl``, ``ref``, ...).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tinygen.errors import (
    Cancelled,
    ConfigError,
    LLMError,
    PatchError,
    PathPolicyError,
    RepoError,
    RepoNetworkError,
    TinygenError,
    ValidationError,
)
from tinygen.redact import redact
from tinygen.server.jobs import JobState, StoreUnavailable

if TYPE_CHECKING:
    from fastapi import FastAPI

SHUTDOWN_REASON = "interrupted by server shutdown"
LOST_REASON = "interrupted (worker lost)"  # its lease ran out: the server running it is gone
STORE_RETRY_SECONDS = 5  # Retry-After while the job database cannot be reached


class JobInterrupted(TinygenError):
    """Raised from a job's progress callback to stop it at the next step."""


class JobCancelled(JobInterrupted):
    def __init__(self) -> None:
        super().__init__("cancelled")


class ServerStopping(JobInterrupted):
    def __init__(self) -> None:
        super().__init__(SHUTDOWN_REASON, hint="submit the job again")


class WorkerLost(JobInterrupted):
    """This server's lease on the job ran out (it could not renew it in time): another
    server may already have marked the job failed, so stop spending on it."""

    def __init__(self) -> None:
        super().__init__(LOST_REASON, hint="submit the job again")


# The status /analyze answers for a job that failed with this class or a subclass; the
# first match wins, so a subclass comes before its base.
STATUS_BY_CLASS: tuple[tuple[type[TinygenError], int], ...] = (
    (RepoNetworkError, 502),  # the git host or the network failed, not the request
    (RepoError, 422),  # the request named a repository or ref we cannot use
    (ConfigError, 422),  # the repository's own config file is bad
    (LLMError, 502),  # the model API failed
    (PatchError, 502),  # the model's edits could not be placed or validated
    (ValidationError, 502),
    (PathPolicyError, 502),
    (Cancelled, 409),
    (JobInterrupted, 503),  # the server stopped while the job ran: submit it again
)
# Kinds the job store writes that are no exception class.
STATUS_BY_KIND = {"Interrupted": 503}  # running when the server stopped (see JobStore.recover)


# Settings and run inputs a request sets, by the name of its field.
REQUEST_FIELDS = {"repo": "repoUrl", "ref": "ref", "model": "model", "checks": "checks"}


def client_hint(exc: TinygenError) -> str | None:
    """``exc.hint`` for a client, redacted, with the request fields it refers to."""
    if not exc.hint:
        return None
    fields = [REQUEST_FIELDS[s] for s in exc.settings if s in REQUEST_FIELDS]
    named = f" (request field{'s' if len(fields) > 1 else ''}: {', '.join(fields)})"
    return redact(exc.hint + (named if fields else ""))


def error_info(exc: BaseException) -> dict[str, Any]:
    """A failed job's error as stored and shown: message, hint, kind (the error's class,
    which decides the HTTP status), exit code — all redacted. The payloads that name the
    server's files (``saved_diff``, the run record) are left out: a client cannot open
    them."""
    if isinstance(exc, TinygenError):
        return {
            "message": redact(exc.message),
            "hint": client_hint(exc),
            "kind": type(exc).__name__,
            "exitCode": int(exc.exit_code),
        }
    return {
        "message": redact(f"internal error: {type(exc).__name__}: {exc}"),
        "hint": "this is a bug in tinygen; the server log has the traceback",
        "kind": "InternalError",
        "exitCode": 1,
    }


def _error_classes() -> dict[str, type[TinygenError]]:
    """Every TinygenError class by name (the names stored as a job error's ``kind``)."""
    found: dict[str, type[TinygenError]] = {}
    todo: list[type[TinygenError]] = [TinygenError]
    while todo:
        cls = todo.pop()
        found.setdefault(cls.__name__, cls)
        todo.extend(cls.__subclasses__())
    return found


def status_of_kind(kind: str) -> int:
    """The HTTP status for a job error of class ``kind`` (500: not a known failure)."""
    if kind in STATUS_BY_KIND:
        return STATUS_BY_KIND[kind]
    cls = _error_classes().get(kind)
    if cls is not None:
        for base, status in STATUS_BY_CLASS:
            if issubclass(cls, base):
                return status
    return 500


def failure_status(error: dict[str, Any], state: JobState) -> int:
    """The HTTP status /analyze answers a job that did not succeed with."""
    if state == JobState.CANCELLED:
        return 409
    if state != JobState.FAILED:
        return 500
    return status_of_kind(str(error.get("kind") or ""))


class ApiError(Exception):
    """An error answer: ``{"detail", "hint", "jobId", "errors"}`` with this status."""

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


def field_error(name: str, message: str, *, hint: str | None = None) -> ApiError:
    """A 422 naming the request field ``name`` (as the client spells it); ``hint`` says
    what to send instead (default: fix the field)."""
    return ApiError(
        422,
        f"{name}: {message}",
        hint=hint or f"fix {name} and send the request again",
        errors=[{"field": name, "message": message}],
    )


def error_body(detail: str, hint: str | None = None, **more: Any) -> dict[str, Any]:
    """The JSON of an error answer, redacted (a message may quote foreign text)."""
    # pydantic (heavy): the worker imports this module, `tinygen serve --help` the worker.
    from tinygen.server.schemas import ErrorBody

    body = ErrorBody(detail=redact(detail), hint=redact(hint) if hint else None, **more)
    return body.model_dump(by_alias=True, exclude_none=True)


def install_error_handlers(app: FastAPI) -> None:
    """Answer ApiError, a bad request body, an unreachable job database (503) and any
    TinygenError a handler raised, in the ErrorBody shape."""
    from fastapi import Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        body = error_body(exc.detail, exc.hint, job_id=exc.job_id, errors=exc.errors)
        return JSONResponse(body, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _bad_body(request: Request, exc: RequestValidationError) -> JSONResponse:
        # Our own shape, and never the offending input: it may hold a token.
        from tinygen.server.schemas import request_fields  # pydantic (heavy), as above

        errors = []
        unknown = False
        for err in exc.errors():
            parts = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
            name = "body" if err.get("type") == "json_invalid" else ".".join(parts) or "body"
            message = str(err.get("msg", "invalid"))
            if err.get("type") == "extra_forbidden":  # a field the request does not have
                unknown, message = True, "is not a field of this request"
            errors.append({"field": redact(name[:100]), "message": redact(message)})
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        hint = "fix the named field(s) and try again"
        if unknown:
            hint = f"the request's fields are {', '.join(request_fields())}; {hint}"
        body = error_body(detail, hint, errors=errors)
        return JSONResponse(body, status_code=422)

    @app.exception_handler(StoreUnavailable)
    async def _store_unavailable(request: Request, exc: StoreUnavailable) -> JSONResponse:
        # The store reconnects by itself and queued jobs wait in the database.
        body = error_body(str(exc), "try again shortly; the server is reconnecting")
        headers = {"Retry-After": str(STORE_RETRY_SECONDS)}
        return JSONResponse(body, status_code=503, headers=headers)

    @app.exception_handler(TinygenError)
    async def _tinygen_error(request: Request, exc: TinygenError) -> JSONResponse:
        return JSONResponse(error_body(exc.message, client_hint(exc)), status_code=500)


__all__ = [
    "LOST_REASON",
    "REQUEST_FIELDS",
    "SHUTDOWN_REASON",
    "STATUS_BY_CLASS",
    "STATUS_BY_KIND",
    "STORE_RETRY_SECONDS",
    "ApiError",
    "JobCancelled",
    "JobInterrupted",
    "ServerStopping",
    "WorkerLost",
    "client_hint",
    "error_body",
    "error_info",
    "failure_status",
    "field_error",
    "install_error_handlers",
    "status_of_kind",
]
