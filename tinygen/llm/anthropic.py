"""The Anthropic provider: the ``anthropic`` SDK behind :class:`tinygen.llm.Provider`.

Choices worth knowing:

- Retries are ours (the SDK's are off, see :mod:`tinygen.llm.retry`): 408, 409, 429, 5xx
  (not 501), 529, timeouts, dropped connections and truncated streams; a ``retry-after``
  is honoured but capped. A refused connection is said at once: retrying starts no server.
- Answers longer than :data:`STREAM_ABOVE_TOKENS` are streamed (SSE): a long answer
  then never sits on a silent connection, and the SDK refuses non-streaming requests it
  expects to take over 10 minutes. A stream that ends without ``message_stop`` is retried;
  a compatible server that answers a streaming request with plain JSON is read as JSON.
- SDK errors become ours in :meth:`AnthropicProvider._failure`, in one place, with
  messages that say what to do and never contain the key.
"""

from __future__ import annotations

import functools
import os
import re
import threading
import time
from collections.abc import Callable
from typing import Any, get_args

from tinygen.config import Settings
from tinygen.errors import (
    ConfigError,
    LLMAuthError,
    LLMConnectionError,
    LLMContextError,
    LLMError,
    LLMNotFoundError,
)
from tinygen.llm.limits import AnswerMeter, AnswerTooLarge, checked_input, read_body
from tinygen.llm.names import split_model
from tinygen.llm.provider import (
    Completion,
    CompletionRequest,
    ContentBlock,
    Message,
    TextBlock,
    ToolUseBlock,
)
from tinygen.llm.retry import (
    BACKOFF_BASE,
    DEFAULT_RETRIES,
    Failure,
    RetryPolicy,
    Service,
    call_with_retries,
    cut_short,
    http_reason,
    is_html_page,
    refused,
    retry_after,
)
from tinygen.llm.usage import Usage
from tinygen.redact import redact
from tinygen.safejson import clean_text

# Used when the installed SDK's model list cannot be read.
FALLBACK_MODEL = "claude-sonnet-4-6"
# Stream answers that may be longer than this many tokens (see the module docstring).
STREAM_ABOVE_TOKENS = 8192

# The fields of a stream's deltas that carry the answer (all count toward max_tokens).
_DELTA_TEXTS = ("text", "partial_json", "thinking", "signature")

# Error types the API reports inside a stream that are worth retrying.
_TRANSIENT_TYPES = ("overloaded_error", "rate_limit_error", "api_error", "timeout_error")

_SONNET = re.compile(r"claude-sonnet-(\d+)(?:-(\d{1,2}))?(?:-(\d{8}))?")


# How the API words "the prompt does not fit the context window" (400 invalid_request_error).
_CONTEXT_MESSAGES = ("prompt is too long", "exceed context limit", "context window")


@functools.cache
def default_model() -> str:
    """The newest Sonnet in the installed SDK's model list (an undated alias if there is one)."""
    try:
        from anthropic.types.model_param import ModelParam

        names = [
            name for arg in get_args(ModelParam) for name in get_args(arg) if isinstance(name, str)
        ]
    except Exception:  # an SDK that moved or renamed its model list
        return FALLBACK_MODEL
    ranked = []
    for name in names:
        match = _SONNET.fullmatch(name)
        if match:
            major, minor, date = match.groups()
            ranked.append(((int(major), int(minor or 0), date is None, date or ""), name))
    return max(ranked)[1] if ranked else FALLBACK_MODEL


def _block_param(block: ContentBlock) -> dict[str, Any]:
    if isinstance(block, TextBlock):
        param: dict[str, Any] = {"type": "text", "text": block.text}
        if block.cache:
            param["cache_control"] = {"type": "ephemeral"}
        return param
    if isinstance(block, ToolUseBlock):
        return {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}
    return {
        "type": "tool_result",
        "tool_use_id": block.tool_use_id,
        "content": block.content,
        "is_error": block.is_error,
    }


def _message_param(message: Message) -> dict[str, Any]:
    return {"role": message.role, "content": [_block_param(b) for b in message.content]}


class _TruncatedStream(Exception):
    """The SSE stream ended before message_stop."""


def _bare(model: str) -> str:
    """The model name the Messages API knows (``anthropic:`` removed)."""
    name = split_model(model)
    if name.provider != "anthropic":
        raise ConfigError(
            f"model {model!r} is not an Anthropic model",
            hint="the Anthropic provider takes bare names or anthropic:NAME",
        )
    return name.model


class AnthropicProvider:
    """Messages API calls through the ``anthropic`` SDK; safe to call from several threads."""

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        model: str | None = None,
        max_retry_wait: float = 60,
        max_retry_total: float = 300,
        timeout: float = 600,
        max_retries: int = DEFAULT_RETRIES,
        *,
        auth_token: str | None = None,
        stream: bool | None = None,
        backoff_base: float = BACKOFF_BASE,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """``api_key`` defaults to ``ANTHROPIC_API_KEY``; without one, ``auth_token`` (or
        ``ANTHROPIC_AUTH_TOKEN``) is sent as ``Authorization: Bearer``. ``base_url``
        defaults to ``ANTHROPIC_BASE_URL``. ``stream`` None streams long answers only.
        ``max_retries`` counts retries after the first attempt."""
        api_key = api_key or os.environ.get("ANTHROPIC_API_KEY") or None
        if api_key is None:
            auth_token = auth_token or os.environ.get("ANTHROPIC_AUTH_TOKEN") or None
        if api_key is None and auth_token is None:
            raise ConfigError(
                "no Anthropic API key: ANTHROPIC_API_KEY is not set",
                hint="export ANTHROPIC_API_KEY=sk-ant-... (create one at https://console.anthropic.com/settings/keys)",
            )
        self._api_key = api_key
        self._auth_token = auth_token
        self.base_url = base_url or os.environ.get("ANTHROPIC_BASE_URL") or None
        # The default is resolved on first use: it needs the SDK import.
        self._model = _bare(model) if model else None
        self.timeout = timeout
        self.stream = stream
        # sleep is injectable so tests can see the waits without taking them
        self.retry = RetryPolicy(max_retries, max_retry_wait, max_retry_total, backoff_base, sleep)
        self._client: Any = None
        self._client_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> AnthropicProvider:
        """A provider configured by tinygen settings (model, retry caps, request timeout)."""
        return cls(
            model=settings.model,
            max_retry_wait=settings.max_retry_wait,
            max_retry_total=settings.max_retry_total,
            timeout=settings.request_timeout,
            **{"max_retries": settings.max_retries, **kwargs},
        )

    @property
    def model(self) -> str:
        if self._model is None:
            self._model = default_model()
        return self._model

    def __repr__(self) -> str:  # never the key
        return f"AnthropicProvider(model={self.model!r}, base_url={self.base_url!r})"

    # the call

    def complete(self, request: CompletionRequest) -> Completion:
        model = _bare(request.model) if request.model else self.model
        params = self._params(request, model)
        stream = (
            self.stream if self.stream is not None else request.max_tokens > STREAM_ABOVE_TOKENS
        )
        client = self._get_client()
        started = time.monotonic()
        service = Service(
            "the Anthropic API" + (f" at {self.base_url}" if self.base_url else ""),
            "check ANTHROPIC_BASE_URL and the network"
            if self.base_url
            else "check the network (and any proxy)",
        )
        (message, request_id, streamed), attempts = call_with_retries(
            lambda: self._send(client, params, stream),
            lambda exc: self._failure(exc, model),
            self.retry,
            service,
        )
        try:
            return self._completion(
                message,
                request,
                model,
                request_id,
                attempts,
                time.monotonic() - started,
                streamed,
            )
        except (AttributeError, TypeError) as exc:  # a 200 whose JSON is not a message
            raise LLMError(
                "the Anthropic API sent an answer that is not a Messages API message",
                hint="check ANTHROPIC_BASE_URL points at the Messages API (or a faithful proxy)",
            ) from exc

    def _get_client(self) -> Any:
        with self._client_lock:
            if self._client is None:
                import anthropic
                import httpx2

                self._client = anthropic.Anthropic(
                    api_key=self._api_key,
                    auth_token=None if self._api_key else self._auth_token,
                    base_url=self.base_url,
                    timeout=httpx2.Timeout(self.timeout, connect=min(self.timeout, 10.0)),
                    max_retries=0,  # our loop decides, with caps
                )
            return self._client

    def _params(self, request: CompletionRequest, model: str) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": model,
            "max_tokens": request.max_tokens,
            "messages": [_message_param(m) for m in request.messages],
        }
        if request.system:
            params["system"] = [_block_param(b) for b in request.system]
        if request.temperature is not None:
            # Not a named parameter of recent SDKs (newer models fix sampling); sent as-is.
            params["extra_body"] = {"temperature": request.temperature}
        tools = list(request.tools)
        if request.tool is not None:
            # The forced tool's definition wins over a same-named offered one, in place.
            forced = request.tool
            tools = [forced if t.name == forced.name else t for t in tools]
            if forced not in tools:
                tools.append(forced)
            params["tool_choice"] = {"type": "tool", "name": forced.name}
        if tools:
            params["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": t.input_schema}
                for t in tools
            ]
        return params

    @staticmethod
    def _send(client: Any, params: dict[str, Any], stream: bool) -> tuple[Any, str | None, bool]:
        """(message, request id, whether it came as a stream). The answer is read no further
        than its ``max_tokens`` allows (:mod:`tinygen.llm.limits`)."""
        max_tokens = params["max_tokens"]
        if not stream:
            with client.messages.with_streaming_response.create(**params) as response:
                data = read_body(response.iter_bytes(), max_tokens)
                return _message(data), response.request_id, False
        with client.messages.stream(**params) as events:
            if _is_json(events.response.headers):
                # A compatible server that does not stream answered with the whole message.
                data = read_body(events.response.iter_bytes(), max_tokens)
                return _message(data), events.request_id, False
            meter = AnswerMeter(max_tokens)
            stopped = False
            for event in events:
                stopped = stopped or event.type == "message_stop"
                if event.type == "content_block_delta":  # text, tool input, thinking
                    delta = event.delta
                    meter.add(sum(len(getattr(delta, k, None) or "") for k in _DELTA_TEXTS))
            if not stopped:
                raise _TruncatedStream()
            return events.get_final_message(), events.request_id, True

    @staticmethod
    def _completion(
        message: Any,
        request: CompletionRequest,
        model: str,
        request_id: str | None,
        attempts: int,
        seconds: float,
        streamed: bool,
    ) -> Completion:
        texts: list[str] = []
        tool_input: dict[str, Any] | None = None
        tool_use_id: str | None = None
        for block in message.content:
            if block.type == "text":
                texts.append(clean_text(block.text))
            elif (
                block.type == "tool_use"
                and tool_use_id is None
                and (request.tool is None or block.name == request.tool.name)
            ):
                tool_input = checked_input(block.input) if isinstance(block.input, dict) else None
                tool_use_id = block.id
        usage = message.usage
        return Completion(
            text="".join(texts),
            tool_input=tool_input,
            usage=Usage(
                input_tokens=usage.input_tokens or 0,
                output_tokens=usage.output_tokens or 0,
                cache_read_tokens=getattr(usage, "cache_read_input_tokens", None) or 0,
                cache_write_tokens=getattr(usage, "cache_creation_input_tokens", None) or 0,
            ),
            model=getattr(message, "model", None) or model,
            stop_reason=message.stop_reason,
            seconds=seconds,
            request_id=request_id,
            tool_use_id=tool_use_id,
            attempts=attempts,
            structured_mode="tool" if request.tool is not None else None,
            streamed=streamed,
        )

    # failures

    def _redact(self, text: str) -> str:
        return redact(text, extra=[s for s in (self._api_key, self._auth_token) if s])

    def _failure(self, exc: Exception, model: str) -> Failure:
        """Translate one SDK/transport exception (the only place that knows SDK errors)."""
        import anthropic
        import httpx2

        if isinstance(exc, _TruncatedStream):
            return Failure("the answer stream ended early", "truncated")
        if isinstance(exc, AnswerTooLarge):
            return Failure.final(exc.error("the Anthropic API"))
        if isinstance(exc, anthropic.APITimeoutError | httpx2.TimeoutException):
            return Failure(f"no answer within {self.timeout:g} s", "timeout")
        if isinstance(exc, anthropic.APIConnectionError | httpx2.TransportError):
            if refused(exc):
                where = self.base_url or "api.anthropic.com"
                return Failure.final(
                    LLMConnectionError(
                        f"cannot connect to the Anthropic API at {where}: connection refused",
                        hint="check ANTHROPIC_BASE_URL (is the server running?)"
                        if self.base_url
                        else "check the network (and any proxy)",
                    )
                )
            # httpx2 errors surface directly when a stream breaks mid-way.
            if cut_short(exc):
                return Failure("the answer ended early", "truncated")
            return Failure(f"connection failed: {self._redact(str(exc))}", "connection")
        if isinstance(exc, anthropic.APIStatusError):
            return self._status_failure(exc, model)
        # ValueError: a body that is not JSON, or tool input JSON the stream cannot parse.
        if isinstance(exc, anthropic.AnthropicError | ValueError):
            return Failure.final(
                LLMError(
                    f"the Anthropic API sent an answer that is not a valid Messages API response: "
                    f"{self._redact(str(exc))[:300]}",
                    hint="check ANTHROPIC_BASE_URL points at the Messages API (or a faithful proxy)",
                )
            )
        raise exc

    def _status_failure(self, exc: Any, model: str) -> Failure:
        status: int = exc.status_code
        kind = getattr(exc, "type", None) or "error"
        headers = exc.response.headers
        page = is_html_page(headers, exc.body)
        if page:
            detail = f"{http_reason(status)}, an HTML page rather than an API error"
        else:
            detail = self._redact(getattr(exc, "api_message", None) or exc.message)
        described = f"{status} {kind}: {detail}" if not page else f"{status} {detail}"
        should_retry = headers.get("x-should-retry")
        # An error event inside a 200 stream has no status of its own: go by its type.
        retryable = (
            status in (408, 409, 429) or (status >= 500 and status not in (501, 505))
        ) or kind in _TRANSIENT_TYPES
        if should_retry in ("true", "false"):
            retryable = should_retry == "true"
        if retryable:
            busy = status in (429, 503, 529) or kind in ("overloaded_error", "rate_limit_error")
            timeout = status == 408 or kind == "timeout_error"
            return Failure(
                described,
                "busy" if busy else "timeout" if timeout else "server",
                retry_after(headers),
            )
        error: LLMError
        where = f" at {self.base_url}" if self.base_url else ""
        if status == 401:
            error = LLMAuthError(
                f"the Anthropic API refused the API key ({described})",
                hint="check ANTHROPIC_API_KEY: it must be a current key from https://console.anthropic.com/settings/keys",
            )
        elif status == 403:
            error = LLMAuthError(
                f"the API key may not use this resource ({described})",
                hint=f"check that ANTHROPIC_API_KEY's workspace can use model {model!r}",
            )
        elif status in (404, 405, 501) and page:
            error = LLMError(
                f"no Messages API{where} ({described})",
                hint="check ANTHROPIC_BASE_URL: it must point at the Messages API (or a faithful proxy)",
            )
        elif status == 404:
            error = LLMNotFoundError(
                f"model {model!r} was not found{where} ({described})",
                hint=f"choose an available `model` (default: {default_model()})",
                settings=("model",),
            )
        elif status == 413 or any(m in detail.lower() for m in _CONTEXT_MESSAGES):
            error = LLMContextError(
                f"the prompt is too long for model {model!r} ({described})",
                hint="lower `budget` (the reference sheet's token budget) or ask for a smaller change",
                settings=("budget",),
            )
        else:
            error = LLMError(
                f"the Anthropic API{where} refused the request ({described})",
                hint="if this persists, please report it with the run id",
            )
        return Failure.final(error)


def _message(data: Any) -> Any:
    """A Messages API message built from its JSON (nested blocks included)."""
    import anthropic

    if not isinstance(data, dict):
        raise ValueError("the answer is JSON but not an object")
    return anthropic.types.Message.construct(**data)


def _is_json(headers: Any) -> bool:
    return str(headers.get("content-type", "")).split(";")[0].strip().endswith("json")


__all__ = [
    "BACKOFF_BASE",
    "FALLBACK_MODEL",
    "STREAM_ABOVE_TOKENS",
    "AnthropicProvider",
    "default_model",
]
