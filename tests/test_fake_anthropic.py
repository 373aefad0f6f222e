"""The fake Messages API itself, seen from plain HTTP and from the real SDK."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.fakes.anthropic_server import (
    ErrorReply,
    FakeAnthropic,
    RecordedRequest,
    TextReply,
    ToolReply,
    TruncatedStream,
)

TOOLS = [{"name": "answer", "description": "d", "input_schema": {"type": "object"}}]


def body(**extra: Any) -> dict[str, Any]:
    return {
        "model": "claude-sonnet-4-6",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hello"}]}],
        **extra,
    }


def post(
    fake: FakeAnthropic, payload: dict[str, Any], headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    if headers is None:
        headers = {"x-api-key": fake.api_key}
    req = urllib.request.Request(
        fake.base_url + "/v1/messages",
        data=json.dumps(payload).encode(),
        headers={"content-type": "application/json", **headers},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def sse_events(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for chunk in raw.decode().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in chunk.splitlines() if ": " in line)
        if "event" in lines:
            events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_both_auth_header_styles_and_no_key_recorded(fake: FakeAnthropic) -> None:
    fake.script(None, TextReply("one"), TextReply("two"))
    status1, _, raw1 = post(fake, body(), {"x-api-key": fake.api_key})
    status2, _, raw2 = post(fake, body(), {"authorization": f"Bearer {fake.api_key}"})
    assert (status1, status2) == (200, 200)
    assert json.loads(raw1)["content"] == [{"type": "text", "text": "one"}]
    assert json.loads(raw2)["content"] == [{"type": "text", "text": "two"}]
    assert [r.auth for r in fake.requests] == ["x-api-key", "bearer"]
    assert all(fake.api_key not in json.dumps(r.headers) for r in fake.requests)


@pytest.mark.parametrize(
    "headers", [{}, {"x-api-key": "sk-ant-wrong"}, {"authorization": "Bearer nope"}]
)
def test_wrong_or_missing_key_gets_401(fake: FakeAnthropic, headers: dict[str, str]) -> None:
    status, _, raw = post(fake, body(), headers)
    assert status == 401
    assert json.loads(raw) == {
        "type": "error",
        "error": {"type": "authentication_error", "message": "invalid x-api-key"},
    }


def test_json_message_shape_and_usage(fake: FakeAnthropic) -> None:
    fake.script("answer", ToolReply({"x": [1, 2]}))
    status, headers, raw = post(
        fake, body(tools=TOOLS, tool_choice={"type": "tool", "name": "answer"})
    )
    message = json.loads(raw)
    assert status == 200 and headers["request-id"].startswith("req_")
    assert message["type"] == "message" and message["role"] == "assistant"
    assert message["stop_reason"] == "tool_use"
    assert message["content"][0]["name"] == "answer" and message["content"][0]["input"] == {
        "x": [1, 2]
    }
    assert set(message["usage"]) == {
        "input_tokens",
        "output_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
    }
    assert fake.requests[0].tool == "answer"


def test_sse_event_sequence(fake: FakeAnthropic) -> None:
    fake.script("answer", ToolReply({"long": "y" * 100}, text="x" * 90))
    status, headers, raw = post(
        fake, body(stream=True, tools=TOOLS, tool_choice={"type": "tool", "name": "answer"})
    )
    assert status == 200 and headers["content-type"] == "text/event-stream"
    events = sse_events(raw)
    names = [name for name, _ in events]
    assert names[:2] == ["message_start", "ping"]
    assert names[-2:] == ["message_delta", "message_stop"]
    assert all(payload["type"] == name for name, payload in events)
    deltas = [p["delta"] for n, p in events if n == "content_block_delta"]
    assert "".join(d["text"] for d in deltas if d["type"] == "text_delta") == "x" * 90
    partial = "".join(d["partial_json"] for d in deltas if d["type"] == "input_json_delta")
    assert json.loads(partial) == {"long": "y" * 100}
    assert names.count("content_block_start") == names.count("content_block_stop") == 2
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"


def test_truncated_stream_has_no_message_stop(fake: FakeAnthropic) -> None:
    fake.script(None, TruncatedStream(TextReply("z" * 400)))
    req = urllib.request.Request(
        fake.base_url + "/v1/messages",
        data=json.dumps(body(stream=True)).encode(),
        headers={"x-api-key": fake.api_key, "content-type": "application/json"},
    )
    received = b""
    with urllib.request.urlopen(req, timeout=10) as response:
        try:
            while chunk := response.read1(65536):
                received += chunk
        except Exception:  # http.client.IncompleteRead: the point of the reply
            pass
    names = [name for name, _ in sse_events(received)]
    assert names[0] == "message_start"
    assert "message_stop" not in names


def test_error_reply_headers_and_body(fake: FakeAnthropic) -> None:
    fake.script(None, ErrorReply.rate_limited(retry_after=7), ErrorReply.overloaded())
    status, headers, raw = post(fake, body())
    assert status == 429 and headers["retry-after"] == "7"
    assert json.loads(raw)["error"]["type"] == "rate_limit_error"
    status, _, raw = post(fake, body())
    assert status == 529 and json.loads(raw)["error"] == {
        "type": "overloaded_error",
        "message": "Overloaded",
    }


def test_requests_the_real_api_would_refuse(fake: FakeAnthropic) -> None:
    cached = [
        {"type": "text", "text": str(i), "cache_control": {"type": "ephemeral"}} for i in range(5)
    ]
    status, _, raw = post(fake, body(system=cached))
    assert status == 400 and "maximum of 4 blocks with cache_control" in raw.decode()
    status, _, raw = post(fake, body(tools=TOOLS, tool_choice={"type": "tool", "name": "other"}))
    assert status == 400 and "'other' is not in tools" in raw.decode()
    status, _, _ = post(fake, {"model": "m", "messages": []})
    assert status == 400


def test_cache_simulation_counts_prefixes_at_breakpoints(fake: FakeAnthropic) -> None:
    fake.on(None, lambda req: TextReply("ok"))
    system = [
        {"type": "text", "text": "a" * 400, "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": "b" * 800, "cache_control": {"type": "ephemeral"}},
    ]

    def usage(**extra: Any) -> dict[str, int]:
        return dict(json.loads(post(fake, body(**extra))[2])["usage"])

    first = usage(system=system)
    assert (first["cache_creation_input_tokens"], first["cache_read_input_tokens"]) == (300, 0)
    second = usage(system=system)
    assert (second["cache_creation_input_tokens"], second["cache_read_input_tokens"]) == (0, 300)
    assert second["input_tokens"] == first["input_tokens"] == 2  # "hello" after the last breakpoint
    changed = usage(system=[system[0], {**system[1], "text": "c" * 800}])
    assert (changed["cache_read_input_tokens"], changed["cache_creation_input_tokens"]) == (
        100,
        200,
    )
    other_model = usage(system=system, model="claude-haiku-4-5")
    assert other_model["cache_read_input_tokens"] == 0


def test_tool_choice_change_invalidates_cached_message_blocks(fake: FakeAnthropic) -> None:
    fake.on("a", lambda req: ToolReply({}))
    fake.on("b", lambda req: ToolReply({}))
    tools = [{"name": n, "description": n, "input_schema": {"type": "object"}} for n in "ab"]
    system = [{"type": "text", "text": "s" * 400, "cache_control": {"type": "ephemeral"}}]
    cached_message = {
        "role": "user",
        "content": [{"type": "text", "text": "m" * 800, "cache_control": {"type": "ephemeral"}}],
    }

    def usage(tool: str) -> dict[str, int]:
        payload = body(
            tools=tools,
            system=system,
            messages=[cached_message],
            tool_choice={"type": "tool", "name": tool},
        )
        return dict(json.loads(post(fake, payload)[2])["usage"])

    usage("a")
    same = usage("a")
    assert same["cache_creation_input_tokens"] == 0  # everything read
    other = usage("b")
    # tools + system still read; the message block is written again under the new choice
    assert other["cache_read_input_tokens"] > 0
    assert other["cache_creation_input_tokens"] == 200


def test_concurrent_requests_all_write_the_cache(fake: FakeAnthropic) -> None:
    """A prefix is readable only once a response to it has started."""

    def together(req: RecordedRequest) -> TextReply:
        fake.wait_peak(None, 3, timeout=30)  # all three arrive before any is answered
        return TextReply("ok")

    fake.on(None, together)
    system = [{"type": "text", "text": "x" * 400, "cache_control": {"type": "ephemeral"}}]
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda _: json.loads(post(fake, body(system=system))[2]), range(3)))
    assert fake.peak[None] == 3
    assert [r["usage"]["cache_creation_input_tokens"] for r in results] == [100, 100, 100]
    later = json.loads(post(fake, body(system=system))[2])["usage"]
    assert later["cache_read_input_tokens"] == 100


def test_queue_before_handler_and_bookkeeping(fake: FakeAnthropic) -> None:
    seen: list[RecordedRequest] = []

    def handler(req: RecordedRequest) -> TextReply:
        seen.append(req)
        return TextReply(f"dynamic: {req.text}")

    fake.script(None, TextReply("queued"), TextReply("unused later"))
    fake.on(None, handler)
    assert json.loads(post(fake, body())[2])["content"][0]["text"] == "queued"
    assert fake.pending() == {None: 1}
    post(fake, body())
    assert json.loads(post(fake, body())[2])["content"][0]["text"] == "dynamic: hello"
    assert len(seen) == 1 and seen[0].model == "claude-sonnet-4-6"
    assert fake.pending() == {}
    assert len(fake.requests_for(None)) == 3 and fake.requests_for("answer") == []


def test_nothing_scripted_is_a_500_that_says_so(fake: FakeAnthropic) -> None:
    status, headers, raw = post(
        fake, body(tools=TOOLS, tool_choice={"type": "tool", "name": "answer"})
    )
    assert status == 500 and headers["x-should-retry"] == "false"
    assert "fake: nothing scripted for tool 'answer'" in raw.decode()
    assert fake.unscripted == ["fake: nothing scripted for tool 'answer'"]


def test_unknown_route(fake: FakeAnthropic) -> None:
    req = urllib.request.Request(
        fake.base_url + "/v1/complete", data=b"{}", headers={"x-api-key": fake.api_key}
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req, timeout=10)
    assert info.value.code == 404


def test_requests_in_flight_are_counted(fake: FakeAnthropic) -> None:
    release = threading.Event()

    def held(req: RecordedRequest) -> ToolReply:
        release.wait(30)  # a safety limit
        return ToolReply({"ok": True})

    fake.on("answer", held)
    fake.script(None, TextReply("plain"))
    forced = body(tools=TOOLS, tool_choice={"type": "tool", "name": "answer"})
    with ThreadPoolExecutor(max_workers=2) as pool:
        pending = [pool.submit(post, fake, forced) for _ in range(2)]
        assert fake.wait_peak("answer", 2, timeout=30)
        assert (fake.in_flight("answer"), fake.responded["answer"]) == (2, 0)
        assert post(fake, body())[0] == 200  # other tools are counted apart
        release.set()
        assert [f.result()[0] for f in pending] == [200, 200]
    assert fake.wait_idle(timeout=30)
    assert fake.in_flight("answer") == 0
    assert fake.peak == {"answer": 2, None: 1}
    assert fake.responded == {"answer": 2, None: 1}
    assert not fake.wait_peak("answer", 3, timeout=0.01)  # never three at once
