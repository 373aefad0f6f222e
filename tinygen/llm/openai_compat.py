"""OpenAI-compatible providers (OpenAI, OpenRouter, Ollama, vLLM, llama.cpp, LM Studio…)
through the official ``openai`` SDK, behind :class:`tinygen.llm.Provider`.

Choices worth knowing:

- **Structured output degrades, never guesses.** A request with a forced tool is sent in
  the model's best known mode: ``tool`` (forced function call), then ``json_schema``
  (response format), then ``json`` (the schema in the prompt, the answer parsed strictly
  by :mod:`tinygen.llm.structured`). The provider steps down when the server refuses the
  mode's parameter (a 4xx/5xx naming tools or response_format) or, in ``tool`` mode,
  answers without calling the forced tool; it remembers the step per model, and says on
  each :class:`Completion` which mode it used.
- **Both transports.** Long answers are streamed (as for Anthropic); a server that answers
  a streaming request with plain JSON is read as JSON. A stream that ends before a
  ``finish_reason`` is retried, like a transient error.
- **Errors named per provider and per cause** (:mod:`tinygen.llm.openai_errors`): a
  refused connection at once, 401/403 auth, 402 out of credits (never retried), 404 model
  or wrong URL, 429 with a capped Retry-After, 5xx, context too long, an error object
  inside a 200 body or stream. Retries as :mod:`tinygen.llm.retry` says.
- **Cost**: OpenRouter's ``usage.cost`` when present, 0 for Ollama, else the price table
  (see :mod:`tinygen.llm.usage`), else unknown.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from tinygen.errors import (
    ConfigError,
    LLMError,
)
from tinygen.llm.endpoints import Endpoint, openai_endpoint
from tinygen.llm.limits import AnswerMeter, read_body
from tinygen.llm.names import split_model
from tinygen.llm.openai_errors import ModeRefused, OpenAIErrors
from tinygen.llm.openai_wire import (
    STOP_REASONS,
    Answer,
    StreamAssembler,
    build_params,
    read_answer,
    tool_input_of,
)
from tinygen.llm.provider import (
    STRUCTURED_MODES,
    Completion,
    CompletionRequest,
    StructuredMode,
)
from tinygen.llm.retry import (
    BACKOFF_BASE,
    DEFAULT_RETRIES,
    RetryPolicy,
    Service,
    call_with_retries,
)
from tinygen.llm.usage import Usage
from tinygen.safejson import clean_text

if TYPE_CHECKING:
    from tinygen.config import Settings

STREAM_ABOVE_TOKENS = 8192  # as for Anthropic: long answers never sit on a silent connection


class OpenAICompatProvider:
    """Chat Completions through the ``openai`` SDK; safe to call from several threads."""

    def __init__(
        self,
        endpoint: Endpoint,
        model: str,
        max_retry_wait: float = 60,
        max_retry_total: float = 300,
        timeout: float = 600,
        max_retries: int = DEFAULT_RETRIES,
        *,
        stream: bool | None = None,
        modes: tuple[StructuredMode, ...] = STRUCTURED_MODES,
        backoff_base: float = BACKOFF_BASE,
        sleep: Any = time.sleep,
    ) -> None:
        """``model`` is ``PROVIDER:NAME`` or the bare name; ``stream`` None streams long
        answers only; ``modes`` limits the structured modes tried (in their order)."""
        if not modes or any(m not in STRUCTURED_MODES for m in modes):
            raise ValueError(f"modes must be some of {STRUCTURED_MODES}, got {modes}")
        self.endpoint = endpoint
        self.model = self._api_model(model)
        self.timeout = timeout
        self.stream = stream
        self.modes = tuple(m for m in STRUCTURED_MODES if m in modes)
        self.retry = RetryPolicy(max_retries, max_retry_wait, max_retry_total, backoff_base, sleep)
        self.service = Service(endpoint.label, endpoint.where_hint())
        self.errors = OpenAIErrors(endpoint, timeout)
        self._mode: dict[str, int] = {}  # model -> index into self.modes it has stepped down to
        self._lock = threading.Lock()
        self._client: Any = None

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> OpenAICompatProvider:
        """The provider ``settings.model`` names (``openai:``, ``openrouter:``, ``ollama:``)."""
        if not settings.model:
            raise ConfigError("no model given for an OpenAI-compatible provider")
        endpoint = kwargs.pop("endpoint", None) or openai_endpoint(
            split_model(settings.model).provider
        )
        return cls(
            endpoint,
            settings.model,
            max_retry_wait=settings.max_retry_wait,
            max_retry_total=settings.max_retry_total,
            timeout=settings.request_timeout,
            **{"max_retries": settings.max_retries, **kwargs},
        )

    def __repr__(self) -> str:  # never the key
        return f"OpenAICompatProvider(model={self.model!r}, base_url={self.endpoint.base_url!r})"

    def _api_model(self, name: str) -> str:
        if ":" not in name or name.split(":", 1)[0] not in ("openai", "openrouter", "ollama"):
            return name  # already the server's own name (Ollama's name:tag included)
        parsed = split_model(name)
        if parsed.provider != self.endpoint.provider:
            raise ConfigError(
                f"model {name!r} is not a {self.endpoint.provider}: model",
                hint="each provider takes its own PROVIDER:MODEL names",
            )
        return parsed.model

    def mode_for(self, model: str | None = None) -> StructuredMode:
        """The structured mode the next request for ``model`` starts in."""
        with self._lock:
            return self.modes[self._mode.get(model or self.model, 0)]

    def _step_down(self, model: str, mode: StructuredMode) -> StructuredMode | None:
        """The mode after ``mode`` (remembered for ``model``), or None when none is left."""
        index = self.modes.index(mode) + 1
        if index >= len(self.modes):
            return None
        with self._lock:
            self._mode[model] = max(self._mode.get(model, 0), index)
            return self.modes[self._mode[model]]

    # the call

    def complete(self, request: CompletionRequest) -> Completion:
        model = self._api_model(request.model) if request.model else self.model
        if request.tool is None:
            return self._complete(request, model, "tool")
        mode = self.mode_for(model)
        spent: list[Completion] = []  # calls whose answer ignored the mode (paid for)
        while True:
            try:
                completion = self._complete(request, model, mode)
            except ModeRefused as exc:
                following = self._step_down(model, mode)
                if following is None:
                    raise LLMError(
                        f"{self.endpoint.label} gives no structured answer for model {model!r} "
                        f"in any mode tried ({', '.join(self.modes)}): {exc.detail}",
                        hint="choose a `model` that supports tool calling or JSON output",
                        settings=("model",),
                    ) from exc
                mode = following
                continue
            ignored = (
                mode == "tool"
                and completion.tool_use_id is None
                and completion.stop_reason != "max_tokens"
            )
            following = self._step_down(model, mode) if ignored else None
            if following is None:
                return _with_spent(completion, spent)
            # The server took the tools but not the forced choice: ask again in JSON.
            spent.append(completion)
            mode = following

    def _complete(self, request: CompletionRequest, model: str, mode: StructuredMode) -> Completion:
        stream = (
            self.stream if self.stream is not None else request.max_tokens > STREAM_ABOVE_TOKENS
        )
        params = build_params(
            request,
            model,
            mode,
            stream=stream,
            max_completion_tokens=self.endpoint.official_openai,
            report_cost=self.endpoint.provider == "openrouter",
        )
        client = self._get_client()
        started = time.monotonic()
        (answer, request_id, streamed), attempts = call_with_retries(
            lambda: self._send(client, params, stream),
            lambda exc: self.errors.failure(exc, model, mode if request.tool is not None else None),
            self.retry,
            self.service,
        )
        return self._completion(
            answer,
            request,
            model,
            mode if request.tool is not None else None,
            request_id,
            attempts,
            time.monotonic() - started,
            streamed,
        )

    def _get_client(self) -> Any:
        with self._lock:
            if self._client is None:
                import httpx2  # heavy: only when a call is made
                import openai

                headers = {"X-Title": "tinygen"} if self.endpoint.provider == "openrouter" else None
                self._client = openai.OpenAI(
                    api_key=self.endpoint.api_key,
                    base_url=self.endpoint.base_url,
                    timeout=httpx2.Timeout(self.timeout, connect=min(self.timeout, 10.0)),
                    max_retries=0,  # our loop decides, with caps
                    default_headers=headers,
                )
            return self._client

    @staticmethod
    def _send(client: Any, params: dict[str, Any], stream: bool) -> tuple[Answer, str | None, bool]:
        """(answer, request id, whether it came as a stream). The answer is read no further
        than its token limit allows (:mod:`tinygen.llm.limits`)."""
        max_tokens = params.get("max_completion_tokens") or params.get("max_tokens") or 0
        if not stream:
            with client.chat.completions.with_streaming_response.create(**params) as response:
                data = read_body(response.iter_bytes(), max_tokens)
                return read_answer(data), response.headers.get("x-request-id"), False
        with client.chat.completions.create(**params) as events:
            headers = events.response.headers
            request_id = headers.get("x-request-id")
            if str(headers.get("content-type", "")).split(";")[0].strip().endswith("json"):
                # A server that does not stream answered with the whole completion.
                return (
                    read_answer(read_body(events.response.iter_bytes(), max_tokens)),
                    request_id,
                    False,
                )
            meter = AnswerMeter(max_tokens)
            assembler = StreamAssembler()
            for chunk in events:
                before = assembler.size
                assembler.add(chunk.to_dict())
                meter.add(assembler.size - before)
            return assembler.answer(), request_id, True

    def _completion(
        self,
        answer: Answer,
        request: CompletionRequest,
        model: str,
        mode: StructuredMode | None,
        request_id: str | None,
        attempts: int,
        seconds: float,
        streamed: bool,
    ) -> Completion:
        text = clean_text(answer.text)
        tool_input: dict[str, Any] | None = None
        tool_use_id: str | None = None
        wanted = request.tool.name if request.tool is not None else None
        for call in answer.tool_calls:
            if wanted is None or call.name == wanted:
                tool_use_id = call.id or f"call_{request_id or 'tinygen'}"
                tool_input = tool_input_of(call)
                if tool_input is None:  # arguments that are not one JSON object
                    raw = call.arguments
                    text = raw if isinstance(raw, str) else json.dumps(raw)
                break
        return Completion(
            text=text,
            tool_input=tool_input,
            usage=self._usage(answer.usage),
            model=answer.model or model,
            stop_reason=STOP_REASONS.get(answer.finish_reason or "", answer.finish_reason),
            seconds=seconds,
            request_id=request_id,
            tool_use_id=tool_use_id,
            attempts=attempts,
            structured_mode=mode,
            streamed=streamed,
        )

    def _usage(self, usage: dict[str, Any] | None) -> Usage:
        usage = usage or {}
        prompt = _int(usage.get("prompt_tokens"))
        details = usage.get("prompt_tokens_details")
        cached = _int(details.get("cached_tokens")) if isinstance(details, dict) else 0
        cost = usage.get("cost")
        stated: float | None = None
        if self.endpoint.local:
            stated = 0.0
        elif isinstance(cost, int | float) and not isinstance(cost, bool):
            stated = float(cost)
        return Usage(
            input_tokens=max(prompt - cached, 0),
            output_tokens=_int(usage.get("completion_tokens")),
            cache_read_tokens=min(cached, prompt) if prompt else cached,
            cost_usd=stated,
        )

    # failures


def _with_spent(completion: Completion, spent: list[Completion]) -> Completion:
    """``completion`` charged with the calls made before it (answers that ignored a mode)."""
    if not spent:
        return completion
    usage = completion.usage
    for earlier in spent:
        usage = earlier.usage + usage
    return replace(
        completion,
        usage=usage,
        seconds=completion.seconds + sum(c.seconds for c in spent),
        attempts=completion.attempts + sum(c.attempts for c in spent),
    )


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


__all__ = ["STREAM_ABOVE_TOKENS", "OpenAICompatProvider"]
