"""What both providers do with servers that are not quite the API they expect: a server
that answers a streaming request with plain JSON, nothing listening, a web server that
answers POST with an HTML 501. Real SDKs, real sockets."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.anthropic_server import FakeAnthropic, TextReply, ToolReply
from tinygen.errors import LLMConnectionError, LLMError
from tinygen.llm import AnthropicProvider, CompletionRequest, Message, TextBlock, Tool
from tinygen.llm.endpoints import openai_endpoint
from tinygen.llm.openai_compat import OpenAICompatProvider

TOOL = Tool("answer", "Give the answer.", {"type": "object"})


def request(tool: Tool | None = None) -> CompletionRequest:
    return CompletionRequest(
        system=(TextBlock("sys"),), messages=(Message("user", (TextBlock("q"),)),), tool=tool
    )


@pytest.fixture
def static_site(tmp_path: Path) -> Iterator[str]:
    """``python -m http.server``: answers POST with 501 and an HTML page."""

    class Quiet(SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(tmp_path), **kwargs)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port nothing listens on, held (bound, not listening) for the whole test."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def test_anthropic_server_that_does_not_stream_is_read_as_json() -> None:
    with FakeAnthropic(streams=False) as fake:
        fake.script("answer", ToolReply({"x": 1}, text="thinking"))
        answer = AnthropicProvider(
            api_key=fake.api_key, base_url=fake.base_url, stream=True, max_retry_wait=0.01
        ).complete(request(TOOL))
    assert fake.requests[0].stream  # it asked for a stream
    assert answer.tool_input == {"x": 1} and answer.text == "thinking"
    assert answer.streamed is False and answer.attempts == 1
    assert answer.structured_mode == "tool"


def test_anthropic_stream_records_that_it_streamed(fake: FakeAnthropic) -> None:
    fake.script(None, TextReply("streamed"))
    answer = AnthropicProvider(api_key=fake.api_key, base_url=fake.base_url, stream=True).complete(
        request()
    )
    assert answer.text == "streamed" and answer.streamed is True
    assert answer.structured_mode is None


def test_anthropic_refused_connection_fails_at_once(closed_port: int) -> None:
    waits: list[float] = []
    llm = AnthropicProvider(
        api_key="sk-ant-test-0000", base_url=f"http://127.0.0.1:{closed_port}", sleep=waits.append
    )
    with pytest.raises(LLMConnectionError) as info:
        llm.complete(request())
    assert "connection refused" in info.value.message
    assert info.value.hint and "ANTHROPIC_BASE_URL" in info.value.hint
    assert "overloaded" not in str(info.value).lower() and "jobs" not in str(info.value)
    assert waits == []


def test_openai_refused_connection_fails_at_once(closed_port: int) -> None:
    waits: list[float] = []
    env = {"OPENAI_BASE_URL": f"http://127.0.0.1:{closed_port}/v1"}
    llm = OpenAICompatProvider(openai_endpoint("openai", env), "openai:m", sleep=waits.append)
    with pytest.raises(LLMConnectionError) as info:
        llm.complete(request())
    assert "connection refused" in info.value.message
    assert info.value.hint and "OPENAI_BASE_URL" in info.value.hint
    assert waits == []


def test_anthropic_html_501_says_there_is_no_messages_api(static_site: str) -> None:
    waits: list[float] = []
    llm = AnthropicProvider(api_key="sk-ant-test-0000", base_url=static_site, sleep=waits.append)
    with pytest.raises(LLMError) as info:
        llm.complete(request())
    assert "no Messages API" in info.value.message and "501" in info.value.message
    assert "overloaded" not in str(info.value).lower() and "<html" not in str(info.value).lower()
    assert info.value.hint and "ANTHROPIC_BASE_URL" in info.value.hint
    assert waits == []  # not retried


def test_openai_html_501_says_there_is_no_chat_completions_api(static_site: str) -> None:
    waits: list[float] = []
    env = {"OPENAI_BASE_URL": static_site + "/v1"}
    llm = OpenAICompatProvider(openai_endpoint("openai", env), "openai:m", sleep=waits.append)
    with pytest.raises(LLMError) as info:
        llm.complete(request(TOOL))
    assert "no chat completions API" in info.value.message
    assert "overloaded" not in str(info.value).lower()
    assert waits == []
