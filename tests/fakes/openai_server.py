"""A local HTTP server that speaks OpenAI's Chat Completions API, for tests and benchmarks.

The real ``openai`` SDK talks to it (``base_url=fake.base_url``, which ends in ``/v1``).
Scripting is the same as :class:`tests.fakes.anthropic_server.FakeAnthropic`, with the same
reply classes, so one test can run against either server::

    with FakeOpenAI() as fake:
        fake.script("submit_plan", ErrorReply.rate_limited(0.01), ToolReply({"summary": "..."}))
        fake.on("write_diff", lambda req: ToolReply({"diff": diff_for(req.text)}))

A request's ``tool`` is the tool it asks for, whatever the structured mode: named in
``tool_choice`` (forced function call), in ``response_format`` (JSON schema), or in the
JSON instructions of the system prompt (plain JSON). A :class:`ToolReply` becomes a tool
call in the first mode and the JSON text of its input in the others.

Servers differ; the constructor says how this one behaves:

- ``tools``: ``True``; ``False`` refuses requests with tools (400, as Ollama does for a
  model without tool support); ``"ignore"`` takes them but answers in prose (without
  using a scripted reply).
- ``json_schema``: ``False`` refuses ``response_format`` (400).
- ``streams``: ``False`` ignores ``stream: true`` and answers with plain JSON.
- ``report_cost``: usage carries OpenRouter's ``cost`` (``COST_PER_TOKEN`` a token).
- ``api_key``: None accepts any key or none (a local server).
- ``context_tokens``: like Ollama, keep only the last this many tokens of the prompt —
  silently (``truncate=True``) or refuse longer prompts with a 400.

Errors come from :class:`ErrorReply` in OpenAI's shape (``{"error": {"message", "type",
"code"}}``). ``in_stream=True`` sends the error object inside a 200 answer instead: in the
stream after a first chunk, or as the whole JSON body (as OpenRouter does). A
:class:`PageReply` answers with an HTML page.

Usage counts 4 characters a token. Prompt caching is automatic, as at OpenAI: the longest
run of leading messages seen before counts as ``cached_tokens``.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from tests.fakes.anthropic_server import (
    ErrorReply,
    MalformedReply,
    SlowReply,
    TextReply,
    ToolReply,
    TruncatedStream,
)

DEFAULT_KEY = "sk-fake-openai-test-key-0123456789"
DEFAULT_MODEL = "gpt-4.1-mini"
COST_PER_TOKEN = 0.000001  # what report_cost charges per prompt or completion token

_INSTRUCTED = re.compile(r"The object is the input of `([^`]+)`")


@dataclass(frozen=True)
class PageReply:
    """An HTML page with this status (a web server or proxy that is not the API)."""

    status: int = 501
    html: str = "<!DOCTYPE html><html><body><h1>Error response</h1><p>Unsupported method ('POST')</p></body></html>"


Reply = (
    ToolReply | TextReply | ErrorReply | SlowReply | TruncatedStream | MalformedReply | PageReply
)
Handler = Callable[["RecordedRequest"], Reply]
Mode = Literal["tool", "json_schema", "json"]


def _tokens(text: str) -> int:
    return (len(text) + 3) // 4


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


@dataclass
class RecordedRequest:
    """One request as the server received it (the key is never recorded)."""

    path: str
    headers: dict[str, str]  # lower-case names; authorization removed
    auth: str  # "bearer" or "none"
    body: dict[str, Any]
    tool: str | None  # the tool asked for, in any mode
    mode: Mode | None  # how it was asked for (None: no tool)
    stream: bool
    time: float
    usage: dict[str, Any] = field(default_factory=dict)  # what the server answered with
    seen_body: dict[str, Any] | None = None  # what the "model" saw when context cut it

    @property
    def model(self) -> str:
        return str(self.body.get("model", ""))

    @property
    def seen_text(self) -> str:
        """All message text the model saw (the system prompt included): with a short
        ``context_tokens``, only the end of the prompt."""
        body = self.seen_body if self.seen_body is not None else self.body
        return "\n".join(_content_text(m.get("content")) for m in body.get("messages", []))

    @property
    def system_text(self) -> str:
        return "\n".join(
            _content_text(m.get("content"))
            for m in self.body.get("messages", [])
            if m.get("role") in ("system", "developer")
        )

    @property
    def text(self) -> str:
        """All text of the messages (not the system prompt): contents, tool call arguments
        and tool results, joined by newlines."""
        parts: list[str] = []
        for m in self.body.get("messages", []):
            if m.get("role") in ("system", "developer"):
                continue
            parts.append(_content_text(m.get("content")))
            for call in m.get("tool_calls") or []:
                parts.append(str((call.get("function") or {}).get("arguments", "")))
        return "\n".join(p for p in parts if p)

    @property
    def tool_names(self) -> list[str]:
        return [t["function"]["name"] for t in self.body.get("tools") or []]

    @property
    def cache_read_tokens(self) -> int:
        details = self.usage.get("prompt_tokens_details") or {}
        return int(details.get("cached_tokens", 0))


def _asked(body: dict[str, Any]) -> tuple[str | None, Mode | None]:
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") == "function":
        return (choice.get("function") or {}).get("name"), "tool"
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        return (fmt.get("json_schema") or {}).get("name"), "json_schema"
    system = "\n".join(
        _content_text(m.get("content"))
        for m in body.get("messages", [])
        if m.get("role") in ("system", "developer")
    )
    match = _INSTRUCTED.search(system)
    return (match.group(1), "json") if match else (None, None)


class FakeOpenAI:
    """The fake Chat Completions API; use as a context manager (starts and stops it)."""

    def __init__(
        self,
        api_key: str | None = DEFAULT_KEY,
        *,
        delay: float = 0.0,
        known_models: set[str] | None = None,
        tools: bool | Literal["ignore"] = True,
        json_schema: bool = True,
        streams: bool = True,
        report_cost: bool = False,
        context_tokens: int | None = None,
        truncate: bool = True,
        prefix: str = "/v1",
    ) -> None:
        self.api_key = api_key
        self.delay = delay
        self.known_models = known_models  # when set, other models get a 404
        self.tools = tools
        self.json_schema = json_schema
        self.streams = streams
        self.report_cost = report_cost
        self.context_tokens = context_tokens
        self.truncate = truncate
        self.prefix = prefix
        self.requests: list[RecordedRequest] = []
        self.unscripted: list[str] = []
        self._queues: dict[str | None, deque[Reply]] = defaultdict(deque)
        self._handlers: dict[str | None, Handler] = {}
        self._seen_prefixes: set[str] = set()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._in_flight: Counter[str | None] = Counter()
        self.peak: Counter[str | None] = Counter()  # most requests in flight at once, per tool
        self.responded: Counter[str | None] = Counter()  # responses written out, per tool
        self._ids = itertools.count(1)
        self._closing = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # scripting (as FakeAnthropic)

    def script(self, tool: str | None, *replies: Reply) -> None:
        with self._lock:
            self._queues[tool].extend(replies)

    def on(self, tool: str | None, handler: Handler) -> None:
        with self._lock:
            self._handlers[tool] = handler

    def pending(self) -> dict[str | None, int]:
        with self._lock:
            return {tool: len(q) for tool, q in self._queues.items() if q}

    def requests_for(self, tool: str | None) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.tool == tool]

    def in_flight(self, tool: str | None) -> int:
        with self._lock:
            return self._in_flight[tool]

    def wait_peak(self, tool: str | None, count: int, timeout: float) -> bool:
        """Wait until ``count`` requests for ``tool`` have been in flight at once."""
        with self._changed:
            return self._changed.wait_for(lambda: self.peak[tool] >= count, timeout)

    def wait_idle(self, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: not +self._in_flight, timeout)

    # lifecycle

    @property
    def base_url(self) -> str:
        assert self._server is not None, "use FakeOpenAI as a context manager"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{self.prefix}"

    @property
    def host(self) -> str:
        """host:port, as OLLAMA_HOST takes it."""
        assert self._server is not None, "use FakeOpenAI as a context manager"
        host, port = self._server.server_address[:2]
        return f"{host!s}:{port}"

    def __enter__(self) -> FakeOpenAI:
        fake = self

        class _Bound(_RequestHandler):
            owner = fake

        self._server = _QuietServer(("127.0.0.1", 0), _Bound)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closing.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # internals

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._closing.wait(seconds)

    def _next_reply(self, request: RecordedRequest) -> Reply | None:
        with self._lock:
            queue = self._queues.get(request.tool)
            if queue:
                return queue.popleft()
            handler = self._handlers.get(request.tool)
        return handler(request) if handler is not None else None

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}-fake{next(self._ids):06d}"

    def _prompt_usage(self, body: dict[str, Any]) -> tuple[int, int]:
        """(prompt tokens, cached tokens): the longest run of leading messages (after the
        tools) that an earlier request sent counts as cached."""
        pieces = [json.dumps(body.get("tools") or [], sort_keys=True)]
        pieces += [json.dumps(m, sort_keys=True) for m in body.get("messages", [])]
        sizes = [_tokens(json.dumps(body.get("tools"))) if body.get("tools") else 0]
        sizes += [_tokens(_content_text(m.get("content"))) + 4 for m in body.get("messages", [])]
        total = sum(sizes)
        cached = 0
        keys: list[str] = []
        with self._lock:
            running = ""
            for i, piece in enumerate(pieces):
                running = str(hash((running, piece)))
                keys.append(running)
                if running in self._seen_prefixes and i < len(pieces) - 1:
                    cached = sum(sizes[: i + 1])
            self._seen_prefixes.update(keys)
        return total, cached


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that drops a kept-alive connection is normal (SDK clients closing)."""
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _RequestHandler(BaseHTTPRequestHandler):
    owner: FakeOpenAI
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # responses

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("x-request-id", self.owner._new_id("req"))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _error_body(self, reply: ErrorReply) -> dict[str, Any]:
        return {"message": reply.message, "type": reply.type, "code": reply.status, "param": None}

    def _send_error(self, reply: ErrorReply) -> None:
        headers: dict[str, str] = {}
        if reply.retry_after is not None:
            headers["retry-after"] = f"{reply.retry_after:g}"
        if reply.should_retry is not None:
            headers["x-should-retry"] = "true" if reply.should_retry else "false"
        self._send_json(reply.status, {"error": self._error_body(reply)}, headers)

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.send_header("x-request-id", self.owner._new_id("req"))
        self.end_headers()

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _event(self, payload: Any) -> None:
        self._chunk(f"data: {json.dumps(payload)}\n\n".encode())

    # request handling

    def do_GET(self) -> None:
        fake = self.owner
        if self.path.split("?")[0] != f"{fake.prefix}/models":
            self._send_error(ErrorReply(404, "not_found", f"fake: no route {self.path}"))
            return
        if not self._authorized():
            return
        models = sorted(fake.known_models or {DEFAULT_MODEL})
        data = [{"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in models]
        self._send_json(200, {"object": "list", "data": data})

    def _authorized(self) -> bool:
        fake = self.owner
        header = self.headers.get("authorization") or ""
        key = header[7:].strip() if header.lower().startswith("bearer ") else None
        if fake.api_key is not None and key != fake.api_key:
            self._send_error(
                ErrorReply(401, "invalid_request_error", "Incorrect API key provided.")
            )
            return False
        return True

    def do_POST(self) -> None:
        fake = self.owner
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        headers = {k.lower(): v for k, v in self.headers.items() if k.lower() != "authorization"}
        auth = "bearer" if self.headers.get("authorization") else "none"
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            body = {}
        tool, mode = _asked(body) if isinstance(body, dict) else (None, None)
        request = RecordedRequest(
            self.path, headers, auth, body, tool, mode, bool(body.get("stream")), time.monotonic()
        )
        with fake._changed:
            fake.requests.append(request)
            fake._in_flight[tool] += 1
            fake.peak[tool] = max(fake.peak[tool], fake._in_flight[tool])
            fake._changed.notify_all()
        responded = False
        try:
            self._answer(request)
            self.wfile.flush()
            responded = True
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            with fake._changed:
                fake._in_flight[tool] -= 1
                fake.responded[tool] += responded
                fake._changed.notify_all()

    def _answer(self, request: RecordedRequest) -> None:
        fake = self.owner
        if self.path.split("?")[0] != f"{fake.prefix}/chat/completions":
            self._send_error(ErrorReply(404, "not_found", f"fake: no route {self.path}"))
            return
        if not self._authorized():
            return
        body = request.body
        problem = _invalid(body)
        if problem:
            self._send_error(ErrorReply(400, "invalid_request_error", problem))
            return
        if fake.known_models is not None and request.model not in fake.known_models:
            message = f'model "{request.model}" not found, try pulling it first'
            self._send_error(ErrorReply(404, "not_found_error", message))
            return
        if body.get("tools") and fake.tools is False:
            message = f"registry.ollama.ai/library/{request.model} does not support tools"
            self._send_error(ErrorReply(400, "invalid_request_error", message))
            return
        if body.get("response_format") and not fake.json_schema:
            message = "response_format of type json_schema is not supported by this server"
            self._send_error(ErrorReply(400, "invalid_request_error", message))
            return
        prompt, cached = fake._prompt_usage(body)
        if fake.context_tokens is not None and prompt > fake.context_tokens:
            if not fake.truncate:
                message = (
                    f"This model's maximum context length is {fake.context_tokens} tokens. "
                    f"However, your messages resulted in {prompt} tokens."
                )
                self._send_error(ErrorReply(400, "invalid_request_error", message))
                return
            # Ollama keeps the end of the prompt and says nothing.
            request.seen_body = _keep_last_tokens(body, fake.context_tokens)
            prompt, cached = fake.context_tokens, 0
        if fake.tools == "ignore" and request.mode == "tool":
            # The model never saw the forced choice: it chats, and the script is kept for
            # the next request.
            reply: Reply | None = TextReply("Sure! I would start by looking at the code.")
        else:
            reply = fake._next_reply(request)
        fake._sleep(fake.delay)
        while isinstance(reply, SlowReply):
            fake._sleep(reply.seconds)
            reply = reply.then
        if reply is None:
            what = f"fake: nothing scripted for tool {request.tool!r}"
            with fake._lock:
                fake.unscripted.append(what)
            self._send_error(ErrorReply(500, "server_error", what, should_retry=False))
            return
        if isinstance(reply, ErrorReply):
            if reply.in_stream:
                self._send_error_inside(reply, request)
            else:
                self._send_error(reply)
            return
        if isinstance(reply, PageReply):
            data = reply.html.encode()
            self.send_response(reply.status)
            self.send_header("content-type", "text/html;charset=utf-8")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        if isinstance(reply, MalformedReply):
            self.send_response(200)
            self.send_header("content-type", reply.content_type)
            self.send_header("content-length", str(len(reply.raw)))
            self.end_headers()
            self.wfile.write(reply.raw)
            return
        inner = reply.reply if isinstance(reply, TruncatedStream) else reply
        completion = self._completion(inner, request, prompt, cached)
        request.usage = completion["usage"]
        if request.stream and fake.streams:
            self._send_stream(completion, truncate=isinstance(reply, TruncatedStream))
        elif isinstance(reply, TruncatedStream):
            data = json.dumps(completion).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.close_connection = True
        else:
            self._send_json(200, completion)

    def _completion(
        self, reply: ToolReply | TextReply, request: RecordedRequest, prompt: int, cached: int
    ) -> dict[str, Any]:
        fake = self.owner
        message: dict[str, Any] = {"role": "assistant", "content": None}
        if isinstance(reply, ToolReply) and request.mode == "tool" and fake.tools is True:
            arguments = json.dumps(reply.input)
            message["content"] = reply.text or None
            message["tool_calls"] = [
                {
                    "id": fake._new_id("call"),
                    "type": "function",
                    "function": {"name": reply.name or request.tool, "arguments": arguments},
                }
            ]
            finish, output = "tool_calls", _tokens(arguments + reply.text)
        elif isinstance(reply, ToolReply):  # a JSON mode: the input is the answer's text
            message["content"] = json.dumps(reply.input)
            finish, output = "stop", _tokens(message["content"])
        else:
            message["content"] = reply.text
            finish = "length" if reply.stop_reason == "max_tokens" else "stop"
            output = _tokens(reply.text)
        usage: dict[str, Any] = {
            "prompt_tokens": prompt,
            "completion_tokens": output,
            "total_tokens": prompt + output,
            "prompt_tokens_details": {"cached_tokens": cached},
        }
        if fake.report_cost:
            usage["cost"] = round((prompt + output) * COST_PER_TOKEN, 9)
        return {
            "id": fake._new_id("chatcmpl"),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": usage,
        }

    def _send_stream(self, completion: dict[str, Any], truncate: bool) -> None:
        chunks = _chunks(completion)
        if truncate:
            chunks = chunks[: max(2, len(chunks) // 2)]
        self._start_stream()
        for chunk in chunks:
            self._event(chunk)
        if truncate:
            self.close_connection = True  # no terminating chunk: the body is incomplete
            return
        self._chunk(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")

    def _send_error_inside(self, reply: ErrorReply, request: RecordedRequest) -> None:
        """An error object inside a 200 answer: after a first chunk of a stream, or as the
        whole JSON body."""
        error = {"error": self._error_body(reply)}
        if not (request.stream and self.owner.streams):
            self._send_json(200, error)
            return
        first = {
            "id": self.owner._new_id("chatcmpl"),
            "object": "chat.completion.chunk",
            "model": request.model,
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}],
        }
        self._start_stream()
        self._event(first)
        self._event(error)
        self._chunk(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")


def _chunks(completion: dict[str, Any]) -> list[dict[str, Any]]:
    """The chunks a server streams for ``completion`` (then the usage chunk)."""
    base = {k: completion[k] for k in ("id", "created", "model")}
    base["object"] = "chat.completion.chunk"
    message = completion["choices"][0]["message"]
    out = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}]
    text = message.get("content") or ""
    for i in range(0, len(text), 40):
        out.append({**base, "choices": [{"index": 0, "delta": {"content": text[i : i + 40]}}]})
    for index, call in enumerate(message.get("tool_calls") or []):
        arguments = call["function"]["arguments"]
        opened = {
            "index": index,
            "id": call["id"],
            "type": "function",
            "function": {"name": call["function"]["name"], "arguments": ""},
        }
        out.append({**base, "choices": [{"index": 0, "delta": {"tool_calls": [opened]}}]})
        for i in range(0, len(arguments), 40):
            piece = {"index": index, "function": {"arguments": arguments[i : i + 40]}}
            out.append({**base, "choices": [{"index": 0, "delta": {"tool_calls": [piece]}}]})
    finish = completion["choices"][0]["finish_reason"]
    out.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
    out.append({**base, "choices": [], "usage": completion["usage"]})
    return out


def _keep_last_tokens(body: dict[str, Any], tokens: int) -> dict[str, Any]:
    """The messages as a server with a ``tokens`` context sees them: the start cut off."""
    budget = tokens * 4
    kept: list[dict[str, Any]] = []
    for message in reversed(body.get("messages", [])):
        text = _content_text(message.get("content"))
        if budget <= 0:
            break
        kept.append({**message, "content": text[-budget:]})
        budget -= len(text)
    return {**body, "messages": list(reversed(kept))}


def _invalid(body: Any) -> str | None:
    """The first reason a real server would refuse this body, for the checks we mirror."""
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    if not body.get("model"):
        return "you must provide a model parameter"
    if not body.get("messages"):
        return "'messages' is a required property"
    if "max_tokens" in body and "max_completion_tokens" in body:
        return "max_tokens and max_completion_tokens cannot both be set"
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        names = {t.get("function", {}).get("name") for t in body.get("tools") or []}
        if (choice.get("function") or {}).get("name") not in names:
            return "tool_choice names a function that is not in tools"
    calls = {c["id"] for m in body["messages"] for c in m.get("tool_calls") or []}
    for m in body["messages"]:
        if m.get("role") == "tool" and m.get("tool_call_id") not in calls:
            return "messages with role 'tool' must be a response to a preceding tool_calls"
    return None


__all__ = [
    "COST_PER_TOKEN",
    "DEFAULT_KEY",
    "DEFAULT_MODEL",
    "ErrorReply",
    "FakeOpenAI",
    "MalformedReply",
    "PageReply",
    "RecordedRequest",
    "Reply",
    "SlowReply",
    "TextReply",
    "ToolReply",
    "TruncatedStream",
]
