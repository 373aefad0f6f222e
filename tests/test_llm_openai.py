"""OpenAICompatProvider through the real openai SDK against the local fake Chat Completions
server (tests/fakes/openai_server.py): both transports, structured modes, errors, cost."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.fakes.openai_server import (
    COST_PER_TOKEN,
    ErrorReply,
    FakeOpenAI,
    MalformedReply,
    PageReply,
    SlowReply,
    TextReply,
    ToolReply,
    TruncatedStream,
)
from tinygen.errors import (
    ConfigError,
    LLMAuthError,
    LLMConnectionError,
    LLMContextError,
    LLMCreditsError,
    LLMError,
    LLMNotFoundError,
    LLMOutputError,
    LLMOverloadedError,
    LLMTimeoutError,
)
from tinygen.llm import (
    CompletionRequest,
    Message,
    TextBlock,
    Tool,
    complete_structured,
    cost_usd,
    make_provider,
)
from tinygen.llm.endpoints import Endpoint, openai_endpoint
from tinygen.llm.openai_compat import OpenAICompatProvider

TOOL = Tool(
    "answer", "Give the answer.", {"type": "object", "properties": {"x": {"type": "integer"}}}
)


@dataclass
class Answer:
    """The answer."""

    x: int
    notes: list[str] = field(default_factory=list)


def request(text: str = "question", *, tool: Tool | None = None, **kw: Any) -> CompletionRequest:
    return CompletionRequest(
        system=(TextBlock("You are a test."), TextBlock("Be brief.", cache=True)),
        messages=(Message("user", (TextBlock(text),)),),
        tool=tool,
        **kw,
    )


def endpoint(fake: FakeOpenAI, provider: str = "openai") -> Endpoint:
    if provider == "ollama":
        return openai_endpoint("ollama", {"OLLAMA_HOST": fake.host})
    if provider == "openrouter":
        env = {"OPENROUTER_API_KEY": fake.api_key or "", "OPENROUTER_BASE_URL": fake.base_url}
        return openai_endpoint("openrouter", env)
    env = {"OPENAI_BASE_URL": fake.base_url, "OPENAI_API_KEY": fake.api_key or ""}
    return openai_endpoint("openai", env)


def provider(
    fake: FakeOpenAI,
    waits: list[float] | None = None,
    *,
    name: str = "openai:gpt-4.1-mini",
    **kw: Any,
) -> OpenAICompatProvider:
    """A provider on the fake; with ``waits``, retry waits are recorded instead of slept."""
    if waits is not None:
        kw["sleep"] = waits.append
    kw.setdefault("max_retry_wait", 0.01)
    return OpenAICompatProvider(endpoint(fake, name.split(":")[0]), name, **kw)


# --- answers and requests -------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_tool_and_text_answers(fake_openai: FakeOpenAI, stream: bool) -> None:
    fake_openai.script("answer", ToolReply({"x": 41}))
    fake_openai.script(None, TextReply("plain " * 50))
    llm = provider(fake_openai, stream=stream)

    tool_answer = llm.complete(request(tool=TOOL))
    text_answer = llm.complete(request())

    assert tool_answer.tool_input == {"x": 41}
    assert tool_answer.tool_use_id and tool_answer.tool_use_id.startswith("call-")
    assert tool_answer.stop_reason == "tool_use"  # finish_reason tool_calls, in our words
    assert tool_answer.structured_mode == "tool" and tool_answer.streamed is stream
    assert tool_answer.model == "gpt-4.1-mini"
    assert tool_answer.request_id and tool_answer.request_id.startswith("req-")
    assert text_answer.text == "plain " * 50  # reassembled from many deltas when streaming
    assert text_answer.tool_input is None and text_answer.structured_mode is None
    assert text_answer.stop_reason == "end_turn"
    assert text_answer.usage.output_tokens == (300 + 3) // 4
    assert text_answer.usage.input_tokens > 0
    assert [r.stream for r in fake_openai.requests] == [stream, stream]


def test_request_body_forces_the_tool_and_keeps_offered_tools_in_order(
    fake_openai: FakeOpenAI,
) -> None:
    plan = Tool("plan", "p", {"type": "object"})
    fake_openai.script("answer", ToolReply({"x": 1}))
    provider(fake_openai).complete(
        request(tool=TOOL, tools=(TOOL, plan), max_tokens=1234, temperature=0.2)
    )
    body = fake_openai.requests[0].body
    assert body["model"] == "gpt-4.1-mini"  # the prefix is ours, not the server's
    assert body["max_tokens"] == 1234 and "max_completion_tokens" not in body
    assert body["temperature"] == 0.2
    assert body["tool_choice"] == {"type": "function", "function": {"name": "answer"}}
    assert [t["function"]["name"] for t in body["tools"]] == ["answer", "plan"]
    assert body["tools"][0]["function"]["parameters"] == TOOL.input_schema
    assert body["messages"][0] == {"role": "system", "content": "You are a test.\n\nBe brief."}
    assert "response_format" not in body


def test_api_openai_com_gets_max_completion_tokens(fake_openai: FakeOpenAI) -> None:
    official = Endpoint(
        "openai", "OpenAI", fake_openai.base_url, fake_openai.api_key or "", "OPENAI_API_KEY",
        "OPENAI_BASE_URL", True, official_openai=True,
    )  # fmt: skip
    fake_openai.script(None, TextReply("ok"))
    OpenAICompatProvider(official, "openai:gpt-5").complete(request(max_tokens=99))
    body = fake_openai.requests[0].body
    assert body["max_completion_tokens"] == 99 and "max_tokens" not in body


def test_correction_round_in_tool_mode_answers_the_tool_call(fake_openai: FakeOpenAI) -> None:
    fake_openai.script("answer", ToolReply({"x": "not a number"}), ToolReply({"x": 7}))
    value, calls = complete_structured(provider(fake_openai), request(tool=TOOL), Answer)
    assert value == Answer(7)
    assert [c.structured_mode for c in calls] == ["tool", "tool"]
    messages = fake_openai.requests[1].body["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool"]
    assert messages[2]["tool_calls"][0]["id"] == messages[3]["tool_call_id"]
    assert messages[3]["content"].startswith("Error: ") and "x" in messages[3]["content"]


def test_server_that_ignores_stream_true_is_read_as_json() -> None:
    with FakeOpenAI(streams=False) as fake:
        fake.script("answer", ToolReply({"x": 5}))
        answer = provider(fake, stream=True).complete(request(tool=TOOL))
    assert answer.tool_input == {"x": 5}
    assert answer.streamed is False and fake.requests[0].stream  # asked to stream; it did not
    assert answer.usage.input_tokens > 0


def test_automatic_prompt_caching_is_reported_as_cache_reads(fake_openai: FakeOpenAI) -> None:
    fake_openai.on(None, lambda r: TextReply("ok"))
    llm = provider(fake_openai)
    first = llm.complete(request("one"))
    second = llm.complete(request("two"))
    assert first.usage.cache_read_tokens == 0
    # The system message was seen before: cached, and not counted again as plain input.
    assert second.usage.cache_read_tokens > 0
    assert second.usage.total_input == fake_openai.requests[1].usage["prompt_tokens"]


# --- structured output degrades, never guesses ----------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_server_without_tools_steps_down_to_json_schema_and_remembers(stream: bool) -> None:
    with FakeOpenAI(tools=False) as fake:
        fake.on("answer", lambda r: ToolReply({"x": 2}))
        llm = provider(fake, stream=stream)
        value, calls = complete_structured(llm, request(tool=TOOL), Answer)
        again, _ = complete_structured(llm, request("more", tool=TOOL), Answer)
    assert value == again == Answer(2)
    assert calls[0].structured_mode == "json_schema"
    assert [r.mode for r in fake.requests] == ["tool", "json_schema", "json_schema"]
    response_format = fake.requests[1].body["response_format"]
    assert response_format["json_schema"]["name"] == "answer"
    assert response_format["json_schema"]["schema"]["required"] == ["x"]
    assert "tools" not in fake.requests[1].body
    assert "The object is the input of `answer`" in fake.requests[1].system_text


def test_server_without_tools_or_json_schema_gets_strict_json() -> None:
    with FakeOpenAI(tools=False, json_schema=False) as fake:
        fake.on("answer", lambda r: ToolReply({"x": 9, "notes": ["n"]}))
        value, calls = complete_structured(provider(fake), request(tool=TOOL), Answer)
    assert value == Answer(9, ["n"]) and calls[0].structured_mode == "json"
    assert [r.mode for r in fake.requests] == ["tool", "json_schema", "json"]
    assert "response_format" not in fake.requests[2].body
    assert '"required":["x"]' in fake.requests[2].system_text  # the schema is in the prompt


def test_server_that_ignores_the_forced_tool_is_asked_again_in_json() -> None:
    with FakeOpenAI(tools="ignore") as fake:
        fake.on("answer", lambda r: ToolReply({"x": 4}))
        value, calls = complete_structured(provider(fake), request(tool=TOOL), Answer)
    assert value == Answer(4) and len(calls) == 1
    assert [r.mode for r in fake.requests] == ["tool", "json_schema"]
    # The ignored answer was paid for: its tokens are part of the completion's usage.
    assert calls[0].usage.output_tokens == sum(r.usage["completion_tokens"] for r in fake.requests)
    assert calls[0].attempts == 2


@pytest.mark.parametrize(
    "answer",
    [
        'Sure! {"x": 1}',  # prose around it
        '{"x": 1',  # cut short
        '{"x": 1} {"x": 2}',  # two objects
        "[1]",  # not an object
        "",
    ],
    ids=["prose", "unclosed", "two", "array", "empty"],
)
def test_broken_json_is_corrected_once_never_repaired(answer: str) -> None:
    with FakeOpenAI(tools=False, json_schema=False) as fake:
        fake.script("answer", TextReply(answer), TextReply('```json\n{"x": 8}\n```'))
        value, calls = complete_structured(provider(fake), request(tool=TOOL), Answer)
    assert value == Answer(8)  # one fence around the whole answer is taken off
    assert [c.structured_mode for c in calls] == ["json", "json"]
    correction = fake.requests_for("answer")[-1].body["messages"]
    assert correction[-2] == {"role": "assistant", "content": answer or "(no answer)"}
    assert "must be one JSON object" in correction[-1]["content"]


def test_json_that_stays_broken_fails_clearly() -> None:
    with FakeOpenAI(tools=False, json_schema=False) as fake:
        fake.on("answer", lambda r: TextReply('The answer is {"x": 1}.'))
        with pytest.raises(LLMOutputError) as info:
            complete_structured(provider(fake), request(tool=TOOL, label="plan"), Answer)
    assert "plan" in info.value.message and "after one correction" in info.value.message
    assert "not valid JSON" in info.value.message
    assert [r.mode for r in fake.requests] == ["tool", "json_schema", "json", "json"]


def test_thinking_block_before_the_json_is_taken_off() -> None:
    with FakeOpenAI(tools=False, json_schema=False) as fake:
        fake.script("answer", TextReply('<think>\nx is 6\n</think>\n{"x": 6}'))
        value, _ = complete_structured(provider(fake), request(tool=TOOL), Answer)
    assert value == Answer(6)


def test_tool_arguments_that_are_not_json_are_corrected(fake_openai: FakeOpenAI) -> None:
    # A ToolReply's input is sent as JSON; a broken arguments string needs a raw chunk.
    broken = {
        "id": "c1", "object": "chat.completion", "created": 0, "model": "m",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": None, "tool_calls": [{"id": "call_1", "type": "function",
            "function": {"name": "answer", "arguments": '{"x": 3'}}]}}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 2},
    }  # fmt: skip
    fake_openai.script("answer", MalformedReply(json.dumps(broken).encode()), ToolReply({"x": 3}))
    value, calls = complete_structured(provider(fake_openai), request(tool=TOOL), Answer)
    assert value == Answer(3)
    assert calls[0].tool_input is None and calls[0].text == '{"x": 3'
    assert "not valid JSON" in fake_openai.requests[1].text


def test_modes_can_be_limited_and_a_refusal_then_is_an_error() -> None:
    with FakeOpenAI(tools=False) as fake, pytest.raises(LLMError) as info:
        provider(fake, modes=("tool",)).complete(request(tool=TOOL))
    assert "does not support tools" in info.value.message
    assert len(fake.requests) == 1


# --- errors ---------------------------------------------------------------------------


def test_wrong_key_is_an_auth_error_without_the_key(fake_openai: FakeOpenAI) -> None:
    wrong = "sk-wrong-key-abcdefghijklmnopqrstuv"
    env = {"OPENAI_BASE_URL": fake_openai.base_url, "OPENAI_API_KEY": wrong}
    llm = OpenAICompatProvider(openai_endpoint("openai", env), "openai:gpt-4.1-mini")
    with pytest.raises(LLMAuthError) as info:
        llm.complete(request())
    assert "401" in str(info.value) and "OPENAI_API_KEY" in str(info.value)
    assert wrong not in str(info.value) and wrong not in repr(llm)
    assert len(fake_openai.requests) == 1  # not retried


def test_server_that_wants_a_key_when_none_is_set(fake_openai: FakeOpenAI) -> None:
    llm = OpenAICompatProvider(
        openai_endpoint("openai", {"OPENAI_BASE_URL": fake_openai.base_url}), "openai:m"
    )
    with pytest.raises(LLMAuthError) as info:
        llm.complete(request())
    assert info.value.hint and "set OPENAI_API_KEY" in info.value.hint


@pytest.mark.parametrize(
    "reply",
    [
        ErrorReply(402, "payment_required", "Insufficient credits", should_retry=True),
        ErrorReply(429, "insufficient_quota", "You exceeded your current quota"),
    ],
    ids=["402", "insufficient_quota"],
)
def test_out_of_credits_is_never_retried(fake_openai: FakeOpenAI, reply: ErrorReply) -> None:
    fake_openai.script(None, reply, TextReply("never reached"))
    waits: list[float] = []
    with pytest.raises(LLMCreditsError) as info:
        provider(fake_openai, waits, name="openrouter:qwen/qwen3-coder").complete(request())
    assert "out of credits" in info.value.message and "OpenRouter" in info.value.message
    assert info.value.hint and "OPENROUTER_API_KEY" in info.value.hint
    assert waits == [] and len(fake_openai.requests) == 1


def test_unknown_model_names_the_model_and_how_to_get_it() -> None:
    with (
        FakeOpenAI(api_key=None, known_models={"llama3.1:8b"}) as fake,
        pytest.raises(LLMNotFoundError) as info,
    ):
        provider(fake, name="ollama:qwen2.5-coder:7b").complete(request())
    assert "'qwen2.5-coder:7b'" in info.value.message and "Ollama at" in info.value.message
    assert info.value.hint and "ollama pull qwen2.5-coder:7b" in info.value.hint
    assert fake.requests[0].body["model"] == "qwen2.5-coder:7b"  # its tag kept


def test_wrong_base_url_is_not_called_a_missing_model() -> None:
    with FakeOpenAI(prefix="/api/v1") as fake:
        env = {"OPENAI_BASE_URL": fake.base_url.removesuffix("/api/v1"), "OPENAI_API_KEY": "k"}
        llm = OpenAICompatProvider(openai_endpoint("openai", env), "openai:m")
        with pytest.raises(LLMError) as info:
            llm.complete(request())
    assert not isinstance(info.value, LLMNotFoundError)
    assert "no chat completions API at" in info.value.message
    assert info.value.hint and "OPENAI_BASE_URL" in info.value.hint and "/v1" in info.value.hint


def test_html_501_is_neither_retried_nor_called_overloaded(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(None, PageReply(501), TextReply("never reached"))
    waits: list[float] = []
    with pytest.raises(LLMError) as info:
        provider(fake_openai, waits).complete(request())
    assert "overloaded" not in str(info.value).lower()
    assert "501 Not Implemented, an HTML page" in info.value.message
    assert "<html" not in str(info.value).lower()
    assert waits == [] and len(fake_openai.requests) == 1


def test_connection_refused_fails_at_once_with_the_fix() -> None:
    with FakeOpenAI(api_key=None) as fake:
        host = fake.host
    waits: list[float] = []  # the server is gone: nothing listens at host any more
    llm = OpenAICompatProvider(
        openai_endpoint("ollama", {"OLLAMA_HOST": host}), "ollama:m", sleep=waits.append
    )
    with pytest.raises(LLMConnectionError) as info:
        llm.complete(request())
    assert "connection refused" in info.value.message and host in info.value.message
    assert (
        info.value.hint and "ollama serve" in info.value.hint and "OLLAMA_HOST" in info.value.hint
    )
    assert "overloaded" not in str(info.value).lower()
    assert waits == []


def test_rate_limit_retry_after_is_capped(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(None, ErrorReply.rate_limited(retry_after=30), TextReply("after"))
    waits: list[float] = []
    answer = provider(fake_openai, waits, max_retry_wait=0.05).complete(request())
    assert answer.text == "after" and answer.attempts == 2
    assert waits == [0.05]  # 30 s asked, capped


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_back_off_and_recover(fake_openai: FakeOpenAI, status: int) -> None:
    error = ErrorReply(status, "server_error", "upstream failed")
    fake_openai.script("answer", error, error, ToolReply({"x": 3}))
    waits: list[float] = []
    answer = provider(fake_openai, waits, max_retry_wait=10, backoff_base=0.1).complete(
        request(tool=TOOL)
    )
    assert answer.tool_input == {"x": 3} and answer.attempts == 3
    for wait, base in zip(waits, [0.1, 0.2], strict=True):
        assert 0.75 * base <= wait <= 1.25 * base


def test_errors_that_persist_say_what_kept_failing(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(None, *[ErrorReply(500, "server_error", "boom")] * 3)
    fake_openai.script("answer", *[ErrorReply.rate_limited(0)] * 3)
    with pytest.raises(LLMOverloadedError) as failing:
        provider(fake_openai, [], max_retries=2).complete(request())
    with pytest.raises(LLMOverloadedError) as busy:
        provider(fake_openai, [], max_retries=2).complete(request(tool=TOOL))
    assert "kept failing (500 boom) after 3 attempts" in failing.value.message
    assert "overloaded" not in failing.value.message
    assert "overloaded or rate limiting" in busy.value.message
    assert busy.value.hint and "`jobs`" in busy.value.hint and "jobs" in busy.value.settings


@pytest.mark.parametrize(
    "message",
    [
        "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens (500 in the functions).",
        "the request exceeds the available context size, try increasing it",
    ],
    ids=["openai-vllm", "llama.cpp"],
)
def test_context_too_long_is_a_context_error(fake_openai: FakeOpenAI, message: str) -> None:
    fake_openai.script("answer", ErrorReply(400, "invalid_request_error", message))
    with pytest.raises(LLMContextError) as info:
        provider(fake_openai).complete(request(tool=TOOL))
    assert "too long" in info.value.message and "gpt-4.1-mini" in info.value.message
    assert info.value.hint and "budget" in info.value.hint
    assert len(fake_openai.requests) == 1  # not taken for a refusal of tools ("functions")


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_error_inside_a_200_answer_is_retried_when_transient(
    fake_openai: FakeOpenAI, stream: bool
) -> None:
    inside = ErrorReply(502, "server_error", "Provider returned error", in_stream=True)
    fake_openai.script("answer", inside, ToolReply({"x": 1}))
    answer = provider(fake_openai, [], stream=stream).complete(request(tool=TOOL))
    assert answer.tool_input == {"x": 1} and answer.attempts == 2


def test_error_inside_a_200_answer_that_is_final(fake_openai: FakeOpenAI) -> None:
    inside = ErrorReply(400, "invalid_request_error", "bad input for upstream", in_stream=True)
    fake_openai.script(None, inside, TextReply("never"))
    with pytest.raises(LLMError) as info:
        provider(fake_openai, [], stream=True).complete(request())
    assert "bad input for upstream" in info.value.message and "inside a 200" in info.value.message
    assert len(fake_openai.requests) == 1


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_truncated_answer_is_retried(fake_openai: FakeOpenAI, stream: bool) -> None:
    text = "a long answer " * 40
    fake_openai.script(None, TruncatedStream(TextReply(text)), TextReply(text))
    answer = provider(fake_openai, [], stream=stream).complete(request())
    assert answer.text == text and answer.attempts == 2


def test_timeout_after_retries_is_a_timeout_error(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(None, *[SlowReply(5, TextReply("late"))] * 2)
    with pytest.raises(LLMTimeoutError) as info:
        provider(fake_openai, [], timeout=0.2, max_retries=1).complete(request())
    assert "after 2 attempts" in info.value.message


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"[1, 2]", b'{"object": "chat.completion"}'],
    ids=["syntax", "array", "no-choices"],
)
def test_malformed_answer_is_an_llm_error_not_a_traceback(
    fake_openai: FakeOpenAI, raw: bytes
) -> None:
    fake_openai.script(None, MalformedReply(raw))
    with pytest.raises(LLMError) as info:
        provider(fake_openai, [], stream=False).complete(request())
    assert "not a chat completion" in info.value.message
    assert info.value.hint and "OPENAI_BASE_URL" in info.value.hint
    assert len(fake_openai.requests) == 1


def test_foreign_text_with_the_key_is_redacted(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(
        None, ErrorReply(400, "invalid_request_error", f"echo {fake_openai.api_key}")
    )
    with pytest.raises(LLMError) as info:
        provider(fake_openai).complete(request())
    assert "echo" in str(info.value) and str(fake_openai.api_key) not in str(info.value)


def test_concurrent_calls_from_threads(fake_openai: FakeOpenAI) -> None:
    fake_openai.on("answer", lambda r: ToolReply({"x": int(r.text.split()[-1])}))
    llm = provider(fake_openai, stream=True)
    results: dict[int, Any] = {}

    def call(i: int) -> None:
        results[i] = llm.complete(request(f"number {i}", tool=TOOL)).tool_input

    threads = [threading.Thread(target=call, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {i: {"x": i} for i in range(8)}


# --- cost ---------------------------------------------------------------------------------


def test_openrouter_states_the_cost_and_asks_for_it() -> None:
    with FakeOpenAI(report_cost=True) as fake:
        fake.script(None, TextReply("ok"))
        answer = provider(fake, name="openrouter:qwen/qwen3-coder", stream=True).complete(request())
    usage = fake.requests[0].usage
    stated = (usage["prompt_tokens"] + usage["completion_tokens"]) * COST_PER_TOKEN
    assert answer.usage.cost_usd == pytest.approx(stated)
    assert cost_usd("openrouter:qwen/qwen3-coder", answer.usage) == pytest.approx(stated)
    assert fake.requests[0].body["usage"] == {"include": True}
    assert fake.requests[0].headers["x-title"] == "tinygen"


def test_ollama_costs_nothing_and_unknown_models_cost_unknown() -> None:
    with FakeOpenAI(api_key=None) as fake:
        fake.on(None, lambda r: TextReply("ok"))
        local = provider(fake, name="ollama:llama3.1:8b").complete(request())
        elsewhere = provider(fake, name="openai:my-finetune").complete(request())
        priced = provider(fake, name="openai:gpt-4.1-mini").complete(request())
    assert local.usage.cost_usd == 0.0 and cost_usd("ollama:llama3.1:8b", local.usage) == 0.0
    assert cost_usd("openai:my-finetune", elsewhere.usage) is None  # never a made-up figure
    u = priced.usage
    assert cost_usd("openai:gpt-4.1-mini", u) == pytest.approx(
        (u.input_tokens * 0.4 + u.cache_read_tokens * 0.1 + u.output_tokens * 1.6) / 1e6
    )
    assert u.cache_read_tokens > 0  # the system prompt was seen by the two calls before


# --- settings and names -------------------------------------------------------------------


def test_make_provider_routes_by_prefix(
    fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tinygen.config import load_settings

    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", str(fake_openai.api_key))
    settings = load_settings(env={"TINYGEN_MODEL": "openai:gpt-4.1-mini"})
    llm = make_provider(settings)
    assert isinstance(llm, OpenAICompatProvider) and llm.model == "gpt-4.1-mini"
    fake_openai.script(None, TextReply("routed"))
    assert llm.complete(request(model="openai:gpt-4.1-mini")).text == "routed"


@pytest.mark.parametrize(
    ("model", "env", "needle"),
    [
        ("openrouter:x/y", {}, "OPENROUTER_API_KEY"),
        ("openai:gpt-4.1", {}, "OPENAI_API_KEY"),
        ("openai:gpt-4.1", {"OPENAI_BASE_URL": "ftp://x"}, "OPENAI_BASE_URL"),
        ("gemini:pro", {}, "unknown model provider 'gemini'"),
        ("openai:", {}, "names no model"),
    ],
)
def test_bad_model_settings_are_config_errors(
    model: str, env: dict[str, str], needle: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tinygen.config import load_settings

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        make_provider(load_settings(env={"TINYGEN_MODEL": model}))
    assert needle in str(info.value)


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("", "http://localhost:11434/v1"),
        ("0.0.0.0", "http://127.0.0.1:11434/v1"),
        ("gpu-box:8080", "http://gpu-box:8080/v1"),
        ("https://ollama.example", "https://ollama.example/v1"),
    ],
)
def test_ollama_host_is_read_as_ollama_reads_it(host: str, url: str) -> None:
    env = {"OLLAMA_HOST": host} if host else {}
    found = openai_endpoint("ollama", env)
    assert found.base_url == url and found.local and not found.key_set


# --- answers beyond the request (issue 12 items 2 and 5) -------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_an_answer_far_beyond_max_tokens_is_refused(fake_openai: FakeOpenAI, stream: bool) -> None:
    fake_openai.script(None, TextReply("x" * 2_000_000), TextReply("fine"))
    fake_openai.script("answer", ToolReply({"x": 1, "pad": "y" * 2_000_000}))
    llm = provider(fake_openai, [], stream=stream)
    for req in (request(max_tokens=100), request(tool=TOOL, max_tokens=100)):
        with pytest.raises(LLMOutputError) as info:
            llm.complete(req)
        assert "100 tokens" in info.value.message and "larger than" in info.value.message
    assert fake_openai.pending() == {None: 1}  # refused once, not retried
    assert llm.complete(request(max_tokens=100)).text == "fine"


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_tool_arguments_with_lone_surrogates_or_too_deep(
    fake_openai: FakeOpenAI, stream: bool
) -> None:
    deep: Any = 1
    for _ in range(150):
        deep = [deep]
    fake_openai.script("answer", ToolReply({"x": 1, "note": "a\ud800b"}), ToolReply({"x": deep}))
    llm = provider(fake_openai, [], stream=stream)
    answer = llm.complete(request(tool=TOOL))
    assert answer.tool_input == {"x": 1, "note": "a\ufffdb"}
    too_deep = llm.complete(request(tool=TOOL))
    assert too_deep.tool_input is None  # not taken as an answer: the model is asked again
