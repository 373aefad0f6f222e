"""Our retry loop, shared by the providers (the SDKs' own retries are off).

Exponential backoff with ±25 % jitter; a server's ``retry-after`` (or ``retry-after-ms``)
is honoured but capped at ``max_wait``. A call gives up after ``max_retries`` retries or
when the next wait would take all waits of the call past ``max_total``, whichever comes
first, and the error names the setting that ended it (``max_retries`` or
``max_retry_total``). Each provider translates its SDK's exceptions into a :class:`Failure`;
this module decides whether and how long to wait, and words the error when it gives up.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from tinygen.errors import (
    LLMConnectionError,
    LLMError,
    LLMOverloadedError,
    LLMTimeoutError,
    TinygenError,
)

T = TypeVar("T")

BACKOFF_BASE = 0.5  # first wait in seconds; doubles per attempt, capped by max_wait
# Retries after the first attempt (the setting ``max_retries``): with the backoff above the
# waits add up to 0.5 + 1 + ... + 60 + 60 + 60 = 243.5 s, so a call rides out a few
# minutes of overload before ``max_retry_total`` (300 s) would end it.
DEFAULT_RETRIES = 10

# Why a failed attempt may succeed when repeated.
Transient = Literal["busy", "server", "timeout", "connection", "truncated"]


@dataclass(frozen=True)
class Failure:
    """One failed attempt: transient (``kind`` set) or final (``error`` set)."""

    description: str
    kind: Transient | None = None
    retry_after: float | None = None
    error: TinygenError | None = None

    @classmethod
    def final(cls, error: TinygenError) -> Failure:
        return cls(error.message, error=error)


@dataclass
class RetryPolicy:
    max_retries: int = DEFAULT_RETRIES  # retries after the first attempt
    max_wait: float = 60.0
    max_total: float = 300.0
    backoff_base: float = BACKOFF_BASE
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def wait(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return max(0.0, min(retry_after, self.max_wait))
        backoff = self.backoff_base * 2 ** (attempt - 1)
        return min(backoff * (0.75 + 0.5 * random.random()), self.max_wait)


@dataclass(frozen=True)
class Service:
    """How errors name an API and what to check when it cannot be reached (hints name
    settings and environment variables; front ends add their flags)."""

    name: str  # "the Anthropic API", "OpenRouter", "Ollama at http://localhost:11434"
    where_hint: str  # what to check when it cannot be reached


def call_with_retries(
    send: Callable[[], T],
    classify: Callable[[Exception], Failure],
    policy: RetryPolicy,
    service: Service,
) -> tuple[T, int]:
    """``send()`` until it returns, a failure is final, or the caps are reached.

    Returns the result and the number of attempts. ``classify`` re-raises exceptions it
    does not know (bugs stay tracebacks)."""
    started = time.monotonic()
    waited = 0.0
    attempt = 0
    while True:
        attempt += 1
        try:
            return send(), attempt
        except Exception as exc:
            failure = classify(exc)
            if failure.error is not None:
                raise failure.error from exc
            wait = policy.wait(attempt, failure.retry_after)
            cap = (
                "max_retries"
                if attempt > policy.max_retries
                else "max_retry_total"
                if waited + wait > policy.max_total
                else None
            )
            if cap is not None:
                seconds = time.monotonic() - started
                raise gave_up(service, failure, attempt, seconds, cap) from exc
            policy.sleep(wait)
            waited += wait


# What raising each cap does, for the hint of a call that gave up.
_CAP_HINTS = {
    "max_retries": "raise `max_retries` (retries per call) to keep trying longer",
    "max_retry_total": "raise `max_retry_total` (seconds of waiting per call) to wait longer",
}


def gave_up(
    service: Service,
    failure: Failure,
    attempts: int,
    seconds: float,
    cap: str = "max_retries",
) -> LLMError:
    """The error after the last attempt, worded for what kept failing; ``cap`` is the
    setting that ended the retries (``max_retries`` or ``max_retry_total``)."""
    tries = f"after {'1 attempt' if attempts == 1 else f'{attempts} attempts'} over {seconds:.1f} s"
    what = f"({failure.description}) {tries}"
    longer = _CAP_HINTS.get(cap, _CAP_HINTS["max_retries"])
    if failure.kind == "timeout":
        return LLMTimeoutError(
            f"{service.name} did not answer in time {what}",
            hint="try again later, or allow more time with `request_timeout` (seconds)",
            settings=("request_timeout",),
        )
    if failure.kind == "connection":
        return LLMConnectionError(
            f"could not reach {service.name} {what}",
            hint=f"{service.where_hint}; or {longer}",
            settings=(cap,),
        )
    if failure.kind == "busy":
        return LLMOverloadedError(
            f"{service.name} is overloaded or rate limiting {what}",
            hint=f"try again later; {longer}, or lower `jobs` (calls at once)",
            settings=(cap, "jobs"),
        )
    if failure.kind == "truncated":
        return LLMOverloadedError(
            f"{service.name} kept ending its answers early {what}",
            hint="try again later; the server or a proxy between may be overloaded",
        )
    return LLMOverloadedError(
        f"{service.name} kept failing {what}",
        hint=f"try again later, or {longer}",
        settings=(cap,),
    )


def retry_after(headers: Any) -> float | None:
    """Seconds from ``retry-after-ms`` or ``retry-after`` (seconds only; dates are ignored)."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) * scale)
        except ValueError:
            continue
    return None


def _causes(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not s for s in seen):
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def cut_short(exc: BaseException) -> bool:
    """Whether a transport failure means the answer's body ended early (a truncated
    stream or JSON body) rather than the connection failing to open."""
    return any(
        type(e).__name__ == "RemoteProtocolError" or "incomplete" in str(e).lower()
        for e in _causes(exc)
    )


def refused(exc: BaseException) -> bool:
    """Whether a connection failure was a refusal (nothing listens at that address): worth
    saying at once, since retrying will not start the server."""
    return any(
        isinstance(e, ConnectionRefusedError) or "connection refused" in str(e).lower()
        for e in _causes(exc)
    )


def is_html_page(headers: Any, body: object) -> bool:
    """An error answered with a web page (a proxy, a web server without the API): its
    status says little about the API, and its text is not worth quoting."""
    content_type = str(headers.get("content-type", "") if headers else "").lower()
    return "html" in content_type or (
        isinstance(body, str) and body.lstrip()[:15].lower().startswith(("<!doctype", "<html"))
    )


def http_reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "error"


__all__ = [
    "BACKOFF_BASE",
    "DEFAULT_RETRIES",
    "Failure",
    "RetryPolicy",
    "Service",
    "call_with_retries",
    "cut_short",
    "gave_up",
    "http_reason",
    "is_html_page",
    "refused",
    "retry_after",
]
