"""What OpenAI-compatible servers' failures mean, as tinygen errors (see
:mod:`tinygen.llm.openai_compat`): the one place that knows the ``openai`` SDK's exceptions
and the ways servers word their errors."""

from __future__ import annotations

import json
from typing import Any

from tinygen.errors import (
    LLMAuthError,
    LLMConnectionError,
    LLMContextError,
    LLMCreditsError,
    LLMError,
    LLMNotFoundError,
    TinygenError,
)
from tinygen.llm.endpoints import Endpoint
from tinygen.llm.limits import AnswerTooLarge
from tinygen.llm.openai_wire import ErrorInAnswer, TruncatedAnswer
from tinygen.llm.provider import StructuredMode
from tinygen.llm.retry import (
    Failure,
    Transient,
    cut_short,
    http_reason,
    is_html_page,
    refused,
    retry_after,
)
from tinygen.redact import redact

# How servers word "the prompt does not fit" (OpenAI, vLLM, llama.cpp, OpenRouter, LM Studio).
_CONTEXT_MESSAGES = (
    "context length",
    "context_length",
    "context window",
    "maximum context",
    "prompt is too long",
    "too many tokens",
    "exceeds the available context",
    "exceed context",
    "input is too long",
)
# Words with which a server refuses a structured mode's parameter.
_MODE_WORDS: dict[StructuredMode, tuple[str, ...]] = {
    "tool": ("tool", "function"),
    "json_schema": (
        "response_format",
        "response format",
        "json_schema",
        "structured output",
        "requested parameters",  # OpenRouter: no endpoint for them
    ),
    "json": (),
}
_BUSY_CODES = ("rate_limit", "overloaded", "too_many_requests", "capacity")


class ModeRefused(LLMError):
    """The server refused the current structured mode's parameter: the provider steps down."""

    def __init__(self, mode: StructuredMode, detail: str) -> None:
        super().__init__(f"the server refused {mode} mode: {detail}")
        self.mode = mode
        self.detail = detail


class OpenAIErrors:
    """Translates one failed attempt at ``endpoint`` into a :class:`Failure`."""

    def __init__(self, endpoint: Endpoint, timeout: float) -> None:
        self.endpoint = endpoint
        self.timeout = timeout

    def _redact(self, text: str) -> str:
        return redact(text, extra=[self.endpoint.api_key] if self.endpoint.key_set else None)

    def failure(self, exc: Exception, model: str, mode: StructuredMode | None) -> Failure:
        """Translate one SDK/transport exception (the only place that knows SDK errors)."""
        import httpx2
        import openai

        label = self.endpoint.label
        if isinstance(exc, TruncatedAnswer):
            return Failure("the answer stream ended early", "truncated")
        if isinstance(exc, AnswerTooLarge):
            return Failure.final(exc.error(label))
        if isinstance(exc, openai.APITimeoutError | httpx2.TimeoutException):
            return Failure(f"no answer within {self.timeout:g} s", "timeout")
        if isinstance(exc, openai.APIConnectionError | httpx2.TransportError):
            if refused(exc):
                return Failure.final(
                    LLMConnectionError(
                        f"cannot connect to {label}: connection refused ({self.endpoint.base_url})",
                        hint=self.endpoint.where_hint(),
                    )
                )
            if cut_short(exc):
                return Failure("the answer ended early", "truncated")
            return Failure(f"connection failed: {self._redact(str(exc))}", "connection")
        if isinstance(exc, openai.APIStatusError):
            return self._status_failure(
                exc.status_code, exc.body, exc.response.headers, model, mode
            )
        if isinstance(exc, ErrorInAnswer):
            return self._error_object_failure(exc.error, model, mode)
        if isinstance(exc, openai.APIError) and not isinstance(
            exc, openai.APIResponseValidationError
        ):  # the SDK found an error object in the stream
            return self._error_object_failure(exc.body or exc.message, model, mode)
        if isinstance(exc, openai.OpenAIError | ValueError | KeyError | TypeError):
            return Failure.final(
                LLMError(
                    f"{label} sent an answer that is not a chat completion: "
                    f"{self._redact(str(exc))[:300]}",
                    hint=f"check {self.endpoint.url_env}: it must point at an OpenAI-compatible "
                    "API (usually ending in /v1)",
                )
            )
        raise exc

    def _error_object_failure(self, error: Any, model: str, mode: StructuredMode | None) -> Failure:
        """An error object inside a 200 answer (OpenRouter does this mid-stream)."""
        code = error.get("code") if isinstance(error, dict) else None
        status = _status_code(code)
        if status is not None:
            return self._status_failure(status, error, {}, model, mode, inside=True)
        message = self._redact(_error_message(error))
        words = f"{code or ''} {error.get('type', '') if isinstance(error, dict) else ''}".lower()
        described = f"an error inside the answer: {message}"
        if any(m in message.lower() for m in _CONTEXT_MESSAGES) or "context_length" in words:
            return Failure.final(self._context_error(model, described))
        if "insufficient_quota" in words:
            return Failure.final(self._credits_error(described))
        if any(w in words for w in _BUSY_CODES):
            return Failure(described, "busy")
        if "server_error" in words or "timeout" in words or not words.strip():
            return Failure(described, "server")
        return Failure.final(
            LLMError(
                f"{self.endpoint.label} reported {described}",
                hint="if this persists, try another model or report it with the run id",
            )
        )

    def _status_failure(
        self,
        status: int,
        body: Any,
        headers: Any,
        model: str,
        mode: StructuredMode | None,
        *,
        inside: bool = False,
    ) -> Failure:
        label = self.endpoint.label
        page = is_html_page(headers, body)
        message = (
            f"{http_reason(status)}, an HTML page rather than an API error"
            if page
            else self._redact(_error_message(body))
        )
        described = f"{status} {message}" + (" (inside a 200 answer)" if inside else "")
        code = f"{_field(body, 'code') or ''} {_field(body, 'type') or ''}".lower()
        lowered = message.lower()
        if not page and (
            status == 413
            or "context_length" in code
            or any(m in lowered for m in _CONTEXT_MESSAGES)
        ):
            return Failure.final(self._context_error(model, described))
        if status == 402 or "insufficient_quota" in code:
            return Failure.final(self._credits_error(described))  # never retried
        if (
            mode is not None
            and status in (400, 404, 422, 500)
            and not page
            and any(w in lowered for w in _MODE_WORDS[mode])
        ):
            return Failure.final(ModeRefused(mode, described))
        retryable = status in (408, 409, 429) or (status >= 500 and status not in (501, 505))
        should_retry = headers.get("x-should-retry") if headers else None
        if should_retry in ("true", "false"):
            retryable = should_retry == "true"
        if retryable:
            kind: Transient = (
                "busy" if status in (429, 503, 529) else "timeout" if status == 408 else "server"
            )
            return Failure(described, kind, retry_after(headers) if headers else None)
        error: TinygenError
        key_env = self.endpoint.key_env
        if status == 401:
            error = LLMAuthError(
                f"{label} refused the API key ({described})",
                hint=f"check {key_env}: it must be a current key"
                if key_env and self.endpoint.key_set
                else f"this server wants a key: set {key_env or 'OPENAI_API_KEY'}",
            )
        elif status == 403:
            error = LLMAuthError(
                f"{label} does not allow this request ({described})",
                hint=f"check that the key in {key_env} may use model {model!r}"
                if key_env
                else f"check that {label} may serve model {model!r}",
            )
        elif status in (404, 405, 501) and (page or "model" not in lowered):
            error = LLMError(
                f"no chat completions API at {self.endpoint.base_url} ({described})",
                hint=f"check {self.endpoint.url_env}: OpenAI-compatible URLs usually end in /v1",
            )
        elif status == 404:
            error = LLMNotFoundError(
                f"model {model!r} was not found at {label} ({described})",
                hint=self._model_hint(model),
                settings=("model",),
            )
        else:
            error = LLMError(
                f"{label} refused the request ({described})",
                hint="if this persists, try another model or report it with the run id",
            )
        return Failure.final(error)

    def _model_hint(self, model: str) -> str:
        provider = self.endpoint.provider
        if provider == "ollama":
            return f"pull it first (`ollama pull {model}`), or see `ollama list`"
        if provider == "openrouter":
            return (
                "OpenRouter names look like openrouter:vendor/model (https://openrouter.ai/models)"
            )
        return "choose a `model` the server lists (its /models)"

    def _context_error(self, model: str, described: str) -> LLMError:
        return LLMContextError(
            f"the prompt is too long for model {model!r} at {self.endpoint.label} ({described})",
            hint="lower `budget` (the reference sheet's token budget) or `max_tokens`, or ask "
            "for a smaller change; a local server may allow a longer context",
            settings=("budget", "max_tokens"),
        )

    def _credits_error(self, described: str) -> LLMError:
        return LLMCreditsError(
            f"{self.endpoint.label} says the account is out of credits ({described})",
            hint="add credits to the account of the key in "
            f"{self.endpoint.key_env or 'the key variable'}, or choose another model",
        )


def _field(body: Any, name: str) -> Any:
    if not isinstance(body, dict):
        return None
    inner = body.get("error")
    if isinstance(inner, dict) and name in inner:
        return inner[name]
    return body.get(name)


def _error_message(body: Any) -> str:
    """The server's own words: ``{"error": {"message"}}``, ``{"error": "..."}``, ``{"message"}``
    or the text itself (first 300 characters)."""
    if isinstance(body, dict):
        inner = body.get("error")
        if isinstance(inner, dict):
            return _error_message(inner)
        for key in ("message", "error", "detail"):
            if isinstance(body.get(key), str) and body[key]:
                return str(body[key])[:300]
        return json.dumps(body)[:300]
    return str(body or "no details").strip()[:300]


def _status_code(code: Any) -> int | None:
    try:
        value = int(code)
    except (TypeError, ValueError):
        return None
    return value if 400 <= value <= 599 else None


__all__ = ["ModeRefused", "OpenAIErrors"]
