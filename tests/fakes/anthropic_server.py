"""A local HTTP server that speaks the Anthropic Messages API, for tests and benchmarks.

The real ``anthropic`` SDK talks to it (``base_url=fake.base_url``). Replies are scripted
per test by the tool a request forces (``None``: no forced tool)::

    with FakeAnthropic() as fake:
        fake.script("submit_plan", ErrorReply.overloaded(), ToolReply({"summary": "..."}))
        fake.on("write_diff", lambda req: TextReply(diff_for(req.text)))
        provider = AnthropicProvider(api_key=fake.api_key, base_url=fake.base_url)
        ...
        assert fake.requests[0].body["system"][0]["cache_control"] == {"type": "ephemeral"}

Queued replies are used first, then the handler registered with :meth:`FakeAnthropic.on`.
A request with nothing scripted gets a 500 that says so (with ``x-should-retry: false``,
so clients fail at once instead of retrying) and is listed in ``fake.unscripted``.

Concurrency is counted, not timed: ``fake.peak[tool]`` is the most requests forcing
``tool`` that were in flight at once, ``fake.responded[tool]`` how many responses (of
any kind) the server finished writing, and :meth:`FakeAnthropic.wait_peak` blocks until that many have been in flight at once.

Usage is estimated at 4 characters per token. Prompt caching is simulated: a prefix
ending at a ``cache_control`` breakpoint that the server has seen before counts as cache
read, the first time as cache write, the rest as plain input.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DEFAULT_KEY = "sk-ant-fake-test-key-0123456789"
DEFAULT_MODEL = "claude-sonnet-4-6"


# --- replies -------------------------------------------------------------------------


@dataclass(frozen=True)
class ToolReply:
    """A tool_use answer with this input (the forced tool's name unless ``name`` is given)."""

    input: dict[str, Any]
    name: str | None = None
    text: str = ""  # optional text block before the tool call
    stop_reason: str = "tool_use"


@dataclass(frozen=True)
class TextReply:
    text: str
    stop_reason: str = "end_turn"


@dataclass(frozen=True)
class ErrorReply:
    """An API error: status, error type and message as the real API sends them."""

    status: int
    type: str
    message: str
    retry_after: float | None = None
    should_retry: bool | None = None  # sets x-should-retry when not None
    in_stream: bool = False  # streaming requests get 200, message_start, then an error event

    @classmethod
    def rate_limited(cls, retry_after: float | None = 1.0) -> ErrorReply:
        return cls(
            429,
            "rate_limit_error",
            "Number of request tokens has exceeded your per-minute rate limit",
            retry_after,
        )

    @classmethod
    def overloaded(cls) -> ErrorReply:
        return cls(529, "overloaded_error", "Overloaded")

    @classmethod
    def server_error(cls) -> ErrorReply:
        return cls(500, "api_error", "Internal server error")

    @classmethod
    def prompt_too_long(cls, tokens: int = 250_000) -> ErrorReply:
        return cls(
            400, "invalid_request_error", f"prompt is too long: {tokens} tokens > 200000 maximum"
        )

    @classmethod
    def model_not_found(cls, model: str) -> ErrorReply:
        return cls(404, "not_found_error", f"model: {model}")


@dataclass(frozen=True)
class SlowReply:
    """Wait ``seconds`` before sending ``then``."""

    seconds: float
    then: Reply


@dataclass(frozen=True)
class TruncatedStream:
    """Start sending ``reply`` and close the connection half-way (no message_stop)."""

    reply: ToolReply | TextReply


@dataclass(frozen=True)
class MalformedReply:
    """A 200 response whose body is these bytes."""

    raw: bytes
    content_type: str = "application/json"


Reply = ToolReply | TextReply | ErrorReply | SlowReply | TruncatedStream | MalformedReply
Handler = Callable[["RecordedRequest"], Reply]


# --- recorded requests ---------------------------------------------------------------


def _block_text(block: Any) -> str:
    if isinstance(block, str):
        return block
    if not isinstance(block, dict):
        return ""
    if block.get("type") == "text":
        return str(block.get("text", ""))
    if block.get("type") == "tool_result":
        content = block.get("content", "")
        return content if isinstance(content, str) else "".join(_block_text(b) for b in content)
    if block.get("type") == "tool_use":
        return json.dumps(block.get("input"), sort_keys=True)
    return ""


def _blocks(content: Any) -> list[Any]:
    return [content] if isinstance(content, str) else list(content or [])


@dataclass
class RecordedRequest:
    """One request as the server received it (the key is never recorded)."""

    path: str
    headers: dict[str, str]  # lower-case names; x-api-key / authorization removed
    auth: str  # "x-api-key", "bearer" or "none"
    body: dict[str, Any]
    tool: str | None  # the tool forced through tool_choice
    stream: bool
    usage: dict[str, int] = field(default_factory=dict)  # what the server answered with

    @property
    def model(self) -> str:
        return str(self.body.get("model", ""))

    @property
    def system_text(self) -> str:
        return "\n".join(_block_text(b) for b in _blocks(self.body.get("system")))

    @property
    def text(self) -> str:
        """All text of the messages (not the system prompt), joined by newlines."""
        return "\n".join(
            _block_text(b) for m in self.body.get("messages", []) for b in _blocks(m.get("content"))
        )

    @property
    def tool_names(self) -> list[str]:
        """The tools offered, in order (as FakeOpenAI's requests say it too)."""
        return [t["name"] for t in self.body.get("tools") or []]

    @property
    def cache_read_tokens(self) -> int:
        """Prompt tokens the answer counted as read from the cache."""
        return int(self.usage.get("cache_read_input_tokens", 0))

    @property
    def cache_breakpoints(self) -> int:
        return sum(1 for block in _all_blocks(self.body) if _has_cache_control(block))


def _has_cache_control(block: Any) -> bool:
    return isinstance(block, dict) and block.get("cache_control") is not None


def _all_blocks(body: dict[str, Any]) -> Iterator[Any]:
    yield from body.get("tools", []) or []
    yield from _blocks(body.get("system"))
    for message in body.get("messages", []):
        for block in _blocks(message.get("content")):
            yield {"role": message.get("role"), **block} if isinstance(block, dict) else block


def _tokens(text: str) -> int:
    return (len(text) + 3) // 4


# --- the server ----------------------------------------------------------------------


class FakeAnthropic:
    """The fake Messages API; use as a context manager (starts and stops the server)."""

    def __init__(
        self,
        api_key: str = DEFAULT_KEY,
        *,
        delay: float = 0.0,
        known_models: set[str] | None = None,
        streams: bool = True,
    ) -> None:
        self.api_key = api_key
        self.delay = delay  # added before every reply (benchmarks)
        self.known_models = known_models  # when set, other models get a 404
        self.streams = streams  # False: answer streaming requests with plain JSON
        self.requests: list[RecordedRequest] = []
        self.unscripted: list[str] = []  # descriptions of requests nothing answered
        self._queues: dict[str | None, deque[Reply]] = defaultdict(deque)
        self._handlers: dict[str | None, Handler] = {}
        self._cached_prefixes: set[str] = set()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # in-flight counts moved
        self._in_flight: Counter[str | None] = Counter()
        self.peak: Counter[str | None] = Counter()  # most requests in flight at once, per tool
        self.responded: Counter[str | None] = Counter()  # responses written out, per tool
        self._ids = itertools.count(1)
        self._closing = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # scripting

    def script(self, tool: str | None, *replies: Reply) -> None:
        """Queue replies for requests that force ``tool`` (``None``: no forced tool)."""
        with self._lock:
            self._queues[tool].extend(replies)

    def on(self, tool: str | None, handler: Handler) -> None:
        """Answer requests forcing ``tool`` with ``handler(request)`` once the queue is empty."""
        with self._lock:
            self._handlers[tool] = handler

    def pending(self) -> dict[str | None, int]:
        """Queued replies not yet used, per tool."""
        with self._lock:
            return {tool: len(q) for tool, q in self._queues.items() if q}

    def in_flight(self, tool: str | None) -> int:
        """Requests forcing ``tool`` that arrived and have not been answered yet."""
        with self._lock:
            return self._in_flight[tool]

    def wait_peak(self, tool: str | None, count: int, timeout: float) -> bool:
        """Wait until ``count`` requests forcing ``tool`` have been in flight at once (the
        peak, which never goes down: a moment when they were cannot be missed); False when
        ``timeout`` seconds (a safety limit) pass first."""
        with self._changed:
            return self._changed.wait_for(lambda: self.peak[tool] >= count, timeout)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no request is in flight (every response written out or abandoned)."""
        with self._changed:
            return self._changed.wait_for(lambda: not any(self._in_flight.values()), timeout)

    def requests_for(self, tool: str | None) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.tool == tool]

    # lifecycle

    @property
    def base_url(self) -> str:
        assert self._server is not None, "use FakeAnthropic as a context manager"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FakeAnthropic:
        fake = self

        class _Handler(_RequestHandler):
            owner = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        # shutdown() waits for the serve loop's next poll: once per test, so keep it short
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closing.set()  # wakes slow replies
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # internals used by the handler

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
        return f"{prefix}_fake_{next(self._ids):06d}"

    def _prompt_usage(self, body: dict[str, Any]) -> tuple[dict[str, int], list[str]]:
        """Input, cache-read and cache-write tokens as the prompt cache would count them when
        the request arrives, and the cache keys its answer will make readable.

        As in the real API: the prefix order is tools → system → messages; a different
        ``tool_choice`` invalidates cached message blocks (not tools or system); and a prefix
        is readable only once a response to it has started — requests that arrive together
        all write it (see :meth:`_register`)."""
        digest = hashlib.sha256(str(body.get("model")).encode())
        total = read = written = 0
        new_keys: list[str] = []
        tools = list(body.get("tools", []) or [])
        system = _blocks(body.get("system"))
        with self._lock:
            for i, block in enumerate(_all_blocks(body)):
                if i == len(tools) + len(system):  # the first message block
                    digest.update(json.dumps(body.get("tool_choice"), sort_keys=True).encode())
                plain = (
                    {k: v for k, v in block.items() if k != "cache_control"}
                    if isinstance(block, dict)
                    else block
                )
                canonical = json.dumps(plain, sort_keys=True)
                digest.update(canonical.encode())
                # Text blocks count their text; tool definitions count their JSON.
                total += _tokens(_block_text(plain) or canonical)
                if _has_cache_control(block):
                    key = digest.hexdigest()
                    if key in self._cached_prefixes:
                        read, written = total, 0
                    else:
                        written = total - read
                        new_keys.append(key)
        usage = {
            "input_tokens": total - read - written,
            "cache_read_input_tokens": read,
            "cache_creation_input_tokens": written,
        }
        return usage, new_keys

    def _register(self, keys: list[str]) -> None:
        """The response has started: its prefixes are now readable from the cache."""
        with self._lock:
            self._cached_prefixes.update(keys)


def _message_json(
    fake: FakeAnthropic,
    reply: ToolReply | TextReply,
    tool: str | None,
    model: str,
    usage: dict[str, int],
) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if isinstance(reply, ToolReply):
        if reply.text:
            content.append({"type": "text", "text": reply.text})
        content.append(
            {
                "type": "tool_use",
                "id": fake._new_id("toolu"),
                "name": reply.name or tool or "tool",
                "input": reply.input,
            }
        )
    else:
        content.append({"type": "text", "text": reply.text})
    output = sum(_tokens(_block_text(b)) for b in content)
    return {
        "id": fake._new_id("msg"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": reply.stop_reason,
        "stop_sequence": None,
        "usage": {**usage, "output_tokens": output},
    }


def _sse_events(message: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The event sequence the API streams for ``message``."""
    start = {
        **message,
        "content": [],
        "stop_reason": None,
        "usage": {**message["usage"], "output_tokens": 1},
    }
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"type": "message_start", "message": start})
    ]
    events.append(("ping", {"type": "ping"}))
    for index, block in enumerate(message["content"]):
        if block["type"] == "text":
            events.append(
                (
                    "content_block_start",
                    {
                        "type": "content_block_start",
                        "index": index,
                        "content_block": {"type": "text", "text": ""},
                    },
                )
            )
            text = block["text"]
            for i in range(0, max(len(text), 1), 40):
                delta = {"type": "text_delta", "text": text[i : i + 40]}
                events.append(
                    (
                        "content_block_delta",
                        {"type": "content_block_delta", "index": index, "delta": delta},
                    )
                )
        else:
            opened = {**block, "input": {}}
            events.append(
                (
                    "content_block_start",
                    {"type": "content_block_start", "index": index, "content_block": opened},
                )
            )
            raw = json.dumps(block["input"])
            for i in range(0, len(raw), 40):
                delta = {"type": "input_json_delta", "partial_json": raw[i : i + 40]}
                events.append(
                    (
                        "content_block_delta",
                        {"type": "content_block_delta", "index": index, "delta": delta},
                    )
                )
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    events.append(
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                "usage": {"output_tokens": message["usage"]["output_tokens"]},
            },
        )
    )
    events.append(("message_stop", {"type": "message_stop"}))
    return events


class _RequestHandler(BaseHTTPRequestHandler):
    owner: FakeAnthropic
    protocol_version = "HTTP/1.1"  # keep-alive, like the real API

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass

    # responses

    def _send_json(
        self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("request-id", self.owner._new_id("req"))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_error(self, reply: ErrorReply) -> None:
        headers: dict[str, str] = {}
        if reply.retry_after is not None:
            headers["retry-after"] = f"{reply.retry_after:g}"
        if reply.should_retry is not None:
            headers["x-should-retry"] = "true" if reply.should_retry else "false"
        body = {"type": "error", "error": {"type": reply.type, "message": reply.message}}
        self._send_json(reply.status, body, headers)

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.send_header("request-id", self.owner._new_id("req"))
        self.end_headers()

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _send_stream(self, message: dict[str, Any], truncate: bool) -> None:
        events = _sse_events(message)
        if truncate:
            events = events[: max(2, len(events) // 2)]
        self._start_stream()
        for name, payload in events:
            self._chunk(f"event: {name}\ndata: {json.dumps(payload)}\n\n".encode())
        if truncate:
            self.close_connection = True  # no terminating chunk: the body is incomplete
            return
        self.wfile.write(b"0\r\n\r\n")

    def _send_stream_error(self, reply: ErrorReply, model: str) -> None:
        """What the API does when it fails after the stream started (e.g. overloaded)."""
        message = _message_json(self.owner, TextReply(""), None, model, {"input_tokens": 1})
        start = _sse_events({**message, "content": []})[0]
        error = {"type": "error", "error": {"type": reply.type, "message": reply.message}}
        self._start_stream()
        self._chunk(f"event: {start[0]}\ndata: {json.dumps(start[1])}\n\n".encode())
        self._chunk(f"event: error\ndata: {json.dumps(error)}\n\n".encode())
        self.wfile.write(b"0\r\n\r\n")

    # request handling

    def do_POST(self) -> None:
        fake = self.owner
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length)
        headers = {
            k.lower(): v
            for k, v in self.headers.items()
            if k.lower() not in ("x-api-key", "authorization")
        }
        if self.headers.get("x-api-key") is not None:
            auth, key = "x-api-key", self.headers.get("x-api-key")
        elif (self.headers.get("authorization") or "").lower().startswith("bearer "):
            auth, key = "bearer", (self.headers.get("authorization") or "")[7:].strip()
        else:
            auth, key = "none", None
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            body = {}
        choice = body.get("tool_choice") or {}
        request = RecordedRequest(
            path=self.path,
            headers=headers,
            auth=auth,
            body=body,
            tool=choice.get("name") if choice.get("type") == "tool" else None,
            stream=bool(body.get("stream")),
        )
        with fake._changed:
            fake.requests.append(request)
            fake._in_flight[request.tool] += 1
            fake.peak[request.tool] = max(fake.peak[request.tool], fake._in_flight[request.tool])
            fake._changed.notify_all()
        responded = False
        try:
            self._answer(request, key)
            self.wfile.flush()
            responded = True
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (timeouts)
        finally:
            with fake._changed:
                fake._in_flight[request.tool] -= 1
                fake.responded[request.tool] += responded
                fake._changed.notify_all()

    def _answer(self, request: RecordedRequest, key: str | None) -> None:
        fake = self.owner
        if self.path.split("?")[0] != "/v1/messages":
            self._send_error(ErrorReply(404, "not_found_error", f"fake: no route {self.path}"))
            return
        if key != fake.api_key:
            self._send_error(ErrorReply(401, "authentication_error", "invalid x-api-key"))
            return
        problem = _invalid(request.body)
        if problem:
            self._send_error(ErrorReply(400, "invalid_request_error", problem))
            return
        if fake.known_models is not None and request.model not in fake.known_models:
            self._send_error(ErrorReply.model_not_found(request.model))
            return
        usage, cache_keys = fake._prompt_usage(request.body)  # the cache as it is on arrival
        reply = fake._next_reply(request)
        fake._sleep(fake.delay)
        while isinstance(reply, SlowReply):
            fake._sleep(reply.seconds)
            reply = reply.then
        if reply is None:
            what = f"fake: nothing scripted for tool {request.tool!r}"
            with fake._lock:
                fake.unscripted.append(what)
            self._send_error(ErrorReply(500, "api_error", what, should_retry=False))
            return
        if isinstance(reply, ErrorReply):
            if reply.in_stream and request.stream and fake.streams:
                self._send_stream_error(reply, request.model)
            else:
                self._send_error(reply)
            return
        if isinstance(reply, MalformedReply):
            self.send_response(200)
            self.send_header("content-type", reply.content_type)
            self.send_header("content-length", str(len(reply.raw)))
            self.end_headers()
            self.wfile.write(reply.raw)
            return
        inner = reply.reply if isinstance(reply, TruncatedStream) else reply
        fake._register(cache_keys)
        request.usage = usage
        message = _message_json(fake, inner, request.tool, request.model, usage)
        if request.stream and fake.streams:
            self._send_stream(message, truncate=isinstance(reply, TruncatedStream))
        elif isinstance(reply, TruncatedStream):
            data = json.dumps(message).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.close_connection = True
        else:
            self._send_json(200, message)


def _invalid(body: dict[str, Any]) -> str | None:
    """The first reason the real API would refuse this body, for the checks we mirror."""
    if not body.get("model"):
        return "model: Field required"
    if not isinstance(body.get("max_tokens"), int):
        return "max_tokens: Field required"
    if not body.get("messages"):
        return "messages: at least one message is required"
    if body["messages"][0].get("role") != "user":
        return "messages: first message must use the user role"
    breakpoints = sum(1 for b in _all_blocks(body) if _has_cache_control(b))
    if breakpoints > 4:
        return f"A maximum of 4 blocks with cache_control may be provided. Found {breakpoints}."
    choice = body.get("tool_choice")
    if choice and choice.get("type") == "tool":
        names = {t.get("name") for t in body.get("tools") or []}
        if choice.get("name") not in names:
            return f"tool_choice: tool {choice.get('name')!r} is not in tools"
    return None


__all__ = [
    "DEFAULT_KEY",
    "DEFAULT_MODEL",
    "ErrorReply",
    "FakeAnthropic",
    "MalformedReply",
    "RecordedRequest",
    "Reply",
    "SlowReply",
    "TextReply",
    "ToolReply",
    "TruncatedStream",
]
