"""AnthropicProvider through the real anthropic SDK against the local fake Messages API."""

from __future__ import annotations

import threading
from typing import Any, get_args

import pytest

from tests.fakes.anthropic_server import (
    ErrorReply,
    FakeAnthropic,
    MalformedReply,
    RecordedRequest,
    SlowReply,
    TextReply,
    ToolReply,
    TruncatedStream,
)
from tinygen.config import Settings, load_settings
from tinygen.errors import (
    ConfigError,
    ExitCode,
    LLMAuthError,
    LLMContextError,
    LLMError,
    LLMNotFoundError,
    LLMOutputError,
    LLMOverloadedError,
    LLMTimeoutError,
)
from tinygen.llm import (
    STREAM_ABOVE_TOKENS,
    AnthropicProvider,
    CompletionRequest,
    Message,
    TextBlock,
    Tool,
    default_model,
)

TOOL = Tool(
    "answer", "Give the answer.", {"type": "object", "properties": {"x": {"type": "integer"}}}
)


def request(text: str = "question", *, tool: Tool | None = None, **kw: Any) -> CompletionRequest:
    return CompletionRequest(
        system=(TextBlock("You are a test."),),
        messages=(Message("user", (TextBlock(text),)),),
        tool=tool,
        **kw,
    )


def provider(fake: FakeAnthropic, waits: list[float] | None = None, **kw: Any) -> AnthropicProvider:
    """A provider on the fake; with ``waits``, retry waits are recorded instead of slept."""
    if waits is not None:
        kw["sleep"] = waits.append
    kw.setdefault("max_retry_wait", 0.01)
    return AnthropicProvider(api_key=fake.api_key, base_url=fake.base_url, **kw)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_tool_and_text_answers(fake: FakeAnthropic, stream: bool) -> None:
    fake.script("answer", ToolReply({"x": 41}, text="thinking aloud"))
    fake.script(None, TextReply("plain " * 50))
    llm = provider(fake, stream=stream, model="claude-sonnet-4-6")

    tool_answer = llm.complete(request(tool=TOOL))
    text_answer = llm.complete(request())

    assert tool_answer.tool_input == {"x": 41}
    assert tool_answer.text == "thinking aloud"
    assert tool_answer.tool_use_id and tool_answer.tool_use_id.startswith("toolu_")
    assert tool_answer.stop_reason == "tool_use"
    assert tool_answer.model == "claude-sonnet-4-6"
    assert tool_answer.request_id and tool_answer.request_id.startswith("req_")
    assert tool_answer.attempts == 1
    assert text_answer.text == "plain " * 50  # reassembled from many SSE deltas when streaming
    assert text_answer.tool_input is None
    assert text_answer.usage.output_tokens == (300 + 3) // 4
    assert [r.stream for r in fake.requests] == [stream, stream]


def test_request_body_carries_forced_tool_cache_markers_and_options(fake: FakeAnthropic) -> None:
    fake.script("answer", ToolReply({"x": 1}))
    req = CompletionRequest(
        system=(TextBlock("rules", cache=True), TextBlock("sheet", cache=True)),
        messages=(Message("user", (TextBlock("plan", cache=True), TextBlock("file a.py"))),),
        tool=TOOL,
        max_tokens=1234,
        model="claude-haiku-4-5",
        temperature=0.2,
    )
    provider(fake).complete(req)

    body = fake.requests[0].body
    assert body["model"] == "claude-haiku-4-5"
    assert body["max_tokens"] == 1234
    assert body["temperature"] == 0.2
    assert body["tool_choice"] == {"type": "tool", "name": "answer"}
    assert body["tools"] == [
        {"name": "answer", "description": TOOL.description, "input_schema": TOOL.input_schema}
    ]
    assert [b.get("cache_control") for b in body["system"]] == [{"type": "ephemeral"}] * 2
    content = body["messages"][0]["content"]
    assert content[0]["cache_control"] == {"type": "ephemeral"}
    assert "cache_control" not in content[1]
    assert fake.requests[0].cache_breakpoints == 3
    assert fake.requests[0].tool == "answer"


def test_offered_tools_keep_their_order_and_the_forced_one_is_chosen(fake: FakeAnthropic) -> None:
    plan = Tool("plan", "p", {"type": "object"})
    edit = Tool("edit", "e", {"type": "object"})
    fake.script("edit", ToolReply({"x": 1}))
    fake.script("answer", ToolReply({"x": 2}))
    llm = provider(fake)
    assert llm.complete(
        request(tool=Tool("edit", "e2", {"type": "object", "title": "E"}), tools=(plan, edit))
    ).tool_input == {"x": 1}
    assert llm.complete(request(tool=TOOL, tools=(plan, edit))).tool_input == {"x": 2}

    first, second = (r.body for r in fake.requests)
    assert [t["name"] for t in first["tools"]] == ["plan", "edit"]
    assert first["tools"][1]["description"] == "e2"  # the forced definition, in place
    assert first["tool_choice"] == {"type": "tool", "name": "edit"}
    assert [t["name"] for t in second["tools"]] == ["plan", "edit", "answer"]  # appended


def test_duplicate_tool_names_are_refused() -> None:
    with pytest.raises(ValueError, match="unique"):
        request(tools=(TOOL, TOOL))


def test_more_than_four_cache_breakpoints_are_refused_before_sending() -> None:
    with pytest.raises(ValueError, match="at most 4 cache breakpoints"):
        CompletionRequest(
            system=tuple(TextBlock(f"s{i}", cache=True) for i in range(3)),
            messages=(Message("user", (TextBlock("a", cache=True), TextBlock("b", cache=True))),),
        )


def test_streams_only_long_answers_by_default(fake: FakeAnthropic) -> None:
    fake.script(None, TextReply("short"), TextReply("long"))
    llm = provider(fake)
    assert llm.complete(request(max_tokens=STREAM_ABOVE_TOKENS)).text == "short"
    assert llm.complete(request(max_tokens=STREAM_ABOVE_TOKENS + 1)).text == "long"
    assert [r.stream for r in fake.requests] == [False, True]


def test_prompt_cache_usage_write_then_read(fake: FakeAnthropic) -> None:
    fake.script(None, TextReply("one"), TextReply("two"))
    llm = provider(fake)
    prefix = (TextBlock("system rules " * 100, cache=True),)

    def ask(text: str) -> Any:
        return llm.complete(
            CompletionRequest(system=prefix, messages=(Message("user", (TextBlock(text),)),))
        )

    first, second = ask("first file"), ask("second file, different tail")

    assert first.usage.cache_write_tokens > 300 and first.usage.cache_read_tokens == 0
    assert second.usage.cache_read_tokens == first.usage.cache_write_tokens
    assert second.usage.cache_write_tokens == 0
    assert second.usage.input_tokens > 0  # the uncached tail
    assert second.usage.total_input == second.usage.input_tokens + second.usage.cache_read_tokens


def test_api_key_from_environment_and_base_url(
    fake: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", fake.api_key)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.base_url)
    fake.script(None, TextReply("from env"))
    assert AnthropicProvider().complete(request()).text == "from env"
    assert fake.requests[0].auth == "bearer"  # the SDK sends API keys as a bearer token


def test_bearer_token_auth(fake: FakeAnthropic, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", fake.api_key)
    fake.script(None, TextReply("bearer ok"), TextReply("bearer arg ok"))
    assert AnthropicProvider(base_url=fake.base_url).complete(request()).text == "bearer ok"
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN")
    assert (
        AnthropicProvider(base_url=fake.base_url, auth_token=fake.api_key).complete(request()).text
        == "bearer arg ok"
    )
    assert [r.auth for r in fake.requests] == ["bearer", "bearer"]
    for recorded in fake.requests:
        assert fake.api_key not in repr(recorded.headers)


def test_missing_key_is_a_config_error_with_a_hint() -> None:
    with pytest.raises(ConfigError) as info:
        AnthropicProvider(base_url="http://127.0.0.1:9")
    assert info.value.exit_code == ExitCode.CONFIG
    assert "ANTHROPIC_API_KEY" in info.value.message
    assert info.value.hint and "export ANTHROPIC_API_KEY=" in info.value.hint


def test_wrong_key_is_an_auth_error_without_the_key(fake: FakeAnthropic) -> None:
    wrong = "sk-ant-wrong-key-abcdefghijklmnop"
    with pytest.raises(LLMAuthError) as info:
        AnthropicProvider(api_key=wrong, base_url=fake.base_url).complete(request())
    assert info.value.exit_code == ExitCode.LLM
    assert "401" in str(info.value) and "ANTHROPIC_API_KEY" in str(info.value)
    assert wrong not in str(info.value)
    assert len(fake.requests) == 1  # not retried


def test_foreign_text_with_the_key_is_redacted(fake: FakeAnthropic) -> None:
    fake.script(None, ErrorReply(400, "invalid_request_error", f"weird echo of {fake.api_key}"))
    with pytest.raises(LLMError) as info:
        provider(fake).complete(request())
    assert "weird echo of" in str(info.value)
    assert fake.api_key not in str(info.value)


def test_unknown_model_names_the_model() -> None:
    with (
        FakeAnthropic(known_models={"claude-sonnet-4-6"}) as fake,
        pytest.raises(LLMNotFoundError) as info,
    ):
        provider(fake, model="claude-nonexistent-9").complete(request())
    assert "claude-nonexistent-9" in info.value.message
    assert info.value.hint and "`model`" in info.value.hint and "--" not in info.value.hint
    assert info.value.settings == ("model",)


def test_prompt_too_long_suggests_budget(fake: FakeAnthropic) -> None:
    fake.script(None, ErrorReply.prompt_too_long())
    with pytest.raises(LLMContextError) as info:
        provider(fake).complete(request())
    assert "too long" in info.value.message
    assert info.value.hint and "`budget`" in info.value.hint and info.value.settings == ("budget",)


def test_context_limit_with_max_tokens_is_a_context_error(fake: FakeAnthropic) -> None:
    message = "input length and `max_tokens` exceed context limit: 195000 + 16000 > 200000"
    fake.script(None, ErrorReply(400, "invalid_request_error", message))
    with pytest.raises(LLMContextError) as info:
        provider(fake).complete(request())
    assert info.value.hint and "`budget`" in info.value.hint and info.value.settings == ("budget",)


def test_rate_limit_retry_after_is_capped(fake: FakeAnthropic) -> None:
    fake.script(None, ErrorReply.rate_limited(retry_after=30), TextReply("after the wait"))
    waits: list[float] = []
    answer = provider(fake, waits, max_retry_wait=0.05).complete(request())
    assert answer.text == "after the wait"
    assert answer.attempts == 2
    assert waits == [0.05]  # 30 s asked, capped


def test_retry_after_below_the_cap_is_honoured(fake: FakeAnthropic) -> None:
    fake.script(None, ErrorReply.rate_limited(retry_after=0.02), TextReply("ok"))
    waits: list[float] = []
    provider(fake, waits, max_retry_wait=5).complete(request())
    assert waits == [0.02]


@pytest.mark.parametrize(
    "error", [ErrorReply.overloaded(), ErrorReply.server_error()], ids=["529", "500"]
)
def test_transient_errors_back_off_and_recover(fake: FakeAnthropic, error: ErrorReply) -> None:
    fake.script("answer", error, error, error, ToolReply({"x": 3}))
    waits: list[float] = []
    answer = provider(fake, waits, max_retry_wait=10, backoff_base=0.1).complete(request(tool=TOOL))
    assert answer.tool_input == {"x": 3}
    assert answer.attempts == 4
    # exponential backoff with ±25 % jitter: 0.1, 0.2, 0.4
    for wait, base in zip(waits, [0.1, 0.2, 0.4], strict=True):
        assert 0.75 * base <= wait <= 1.25 * base


def test_overloaded_after_retries_says_so(fake: FakeAnthropic) -> None:
    fake.script(None, *[ErrorReply.overloaded()] * 3)
    waits: list[float] = []
    with pytest.raises(LLMOverloadedError) as info:
        provider(fake, waits, max_retries=2).complete(request())
    assert "overloaded" in info.value.message and "after 3 attempts" in info.value.message
    assert "529" in info.value.message
    assert info.value.hint and "try again later" in info.value.hint
    assert len(fake.requests) == 3 and len(waits) == 2


def test_total_retry_wait_is_capped(fake: FakeAnthropic) -> None:
    fake.script(None, *[ErrorReply.rate_limited(retry_after=1)] * 10)
    waits: list[float] = []
    with pytest.raises(LLMOverloadedError) as info:
        provider(fake, waits, max_retries=10, max_retry_wait=1, max_retry_total=2.5).complete(
            request()
        )
    assert waits == [1, 1]  # a third wait would pass 2.5 s in total
    assert "after 3 attempts" in info.value.message
    assert fake.pending() == {None: 7}


def test_the_setting_that_ended_the_retries_is_named(fake: FakeAnthropic) -> None:
    """Issue 12 item 22: the count and the total wait are both caps; the error names the one
    that bound (raising the other would change nothing)."""
    fake.script(None, *[ErrorReply.overloaded()] * 3)
    with pytest.raises(LLMOverloadedError) as by_count:
        provider(fake, [], max_retries=2, max_retry_total=1000).complete(request())
    assert by_count.value.settings[0] == "max_retries"
    assert by_count.value.hint and "`max_retries`" in by_count.value.hint
    assert "max_retry_total" not in by_count.value.hint
    fake.script(None, *[ErrorReply.rate_limited(retry_after=1)] * 3)
    with pytest.raises(LLMOverloadedError) as by_total:
        provider(fake, [], max_retries=50, max_retry_wait=1, max_retry_total=1.5).complete(
            request()
        )
    assert by_total.value.settings[0] == "max_retry_total"
    assert by_total.value.hint and "`max_retry_total`" in by_total.value.hint
    assert "max_retries" not in by_total.value.hint


def test_default_settings_ride_out_a_minute_of_overload(fake: FakeAnthropic) -> None:
    """Issue 12 item 22: with the default settings a call keeps trying through a minute of
    529s (the waits advance a clock instead of being slept)."""
    clock = [0.0]

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    fake.on(None, lambda r: ErrorReply.overloaded() if clock[0] < 60 else TextReply("back"))
    llm = AnthropicProvider.from_settings(
        Settings(), api_key=fake.api_key, base_url=fake.base_url, sleep=sleep
    )
    answer = llm.complete(request())
    assert answer.text == "back"
    assert clock[0] >= 60 and answer.attempts == len(fake.requests)


def test_max_retries_is_a_setting_that_works(fake: FakeAnthropic) -> None:
    """TINYGEN_MAX_RETRIES=1 makes two attempts, whatever the total wait allows."""
    settings = load_settings(env={"TINYGEN_MAX_RETRIES": "1", "TINYGEN_MAX_RETRY_TOTAL": "900"})
    fake.script(None, *[ErrorReply.overloaded()] * 5)
    waits: list[float] = []
    llm = AnthropicProvider.from_settings(
        settings, api_key=fake.api_key, base_url=fake.base_url, sleep=waits.append
    )
    with pytest.raises(LLMOverloadedError) as info:
        llm.complete(request())
    assert "after 2 attempts" in info.value.message and len(waits) == 1
    assert fake.pending() == {None: 3}
    with pytest.raises(ConfigError, match="max-retries"):
        load_settings(env={"TINYGEN_MAX_RETRIES": "-1"})


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_an_answer_far_beyond_max_tokens_is_refused(fake: FakeAnthropic, stream: bool) -> None:
    """Issue 12 item 2: a 2 MB answer to a request allowing 100 tokens is refused while it
    arrives (not retried: a server that does this once does it again)."""
    fake.script(None, TextReply("x" * 2_000_000), TextReply("fine"))
    fake.script("answer", ToolReply({"x": 1, "pad": "y" * 2_000_000}))
    llm = provider(fake, [], stream=stream)
    for req in (request(max_tokens=100), request(tool=TOOL, max_tokens=100)):
        with pytest.raises(LLMOutputError) as info:
            llm.complete(req)
        assert "100 tokens" in info.value.message and "larger than" in info.value.message
    assert fake.pending() == {None: 1}
    assert llm.complete(request(max_tokens=100)).text == "fine"  # an answer in bounds


def test_tool_input_too_deep_or_with_lone_surrogates(fake: FakeAnthropic) -> None:
    """Issue 12 item 5: the SDK's tool input goes through the same checks as our own JSON."""
    deep: Any = 1
    for _ in range(150):
        deep = [deep]
    fake.script("answer", ToolReply({"x": 1, "note": "a\ud800b"}), ToolReply({"x": deep}))
    llm = provider(fake, [], stream=False)
    answer = llm.complete(request(tool=TOOL))
    assert answer.tool_input is not None and answer.tool_input["note"] == "a\ufffdb"
    with pytest.raises(LLMError, match="nests deeper"):  # the whole body is too deep
        llm.complete(request(tool=TOOL))
    fake.script("answer", ToolReply({"x": deep}))
    with pytest.raises(LLMOutputError, match="nests deeper"):  # the streamed tool input
        provider(fake, [], stream=True).complete(request(tool=TOOL))


def test_timeout_then_recovery(fake: FakeAnthropic) -> None:
    fake.script(None, SlowReply(5, TextReply("too late")), TextReply("in time"))
    answer = provider(fake, [], timeout=0.3).complete(request())
    assert answer.text == "in time"
    assert answer.attempts == 2


def test_timeout_after_retries_is_a_timeout_error(fake: FakeAnthropic) -> None:
    fake.script(None, SlowReply(5, TextReply("late")), SlowReply(5, TextReply("late")))
    with pytest.raises(LLMTimeoutError) as info:
        provider(fake, [], timeout=0.2, max_retries=1).complete(request())
    assert "after 2 attempts" in info.value.message
    assert info.value.exit_code == ExitCode.LLM


def test_error_event_inside_a_stream_is_retried(fake: FakeAnthropic) -> None:
    overloaded = ErrorReply(529, "overloaded_error", "Overloaded", in_stream=True)
    fake.script(None, overloaded, TextReply("recovered"))
    answer = provider(fake, [], stream=True).complete(request())
    assert answer.text == "recovered"
    assert answer.attempts == 2
    assert fake.requests[0].stream


def test_truncated_stream_is_retried(fake: FakeAnthropic) -> None:
    text = "a long answer " * 40
    fake.script(None, TruncatedStream(TextReply(text)), TextReply(text))
    answer = provider(fake, [], stream=True).complete(request())
    assert answer.text == text
    assert answer.attempts == 2


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_truncation_that_persists_fails_clearly(fake: FakeAnthropic, stream: bool) -> None:
    fake.script("answer", *[TruncatedStream(ToolReply({"x": 1, "pad": "p" * 400}))] * 2)
    with pytest.raises(LLMOverloadedError) as info:
        provider(fake, [], stream=stream, max_retries=1).complete(request(tool=TOOL))
    assert "after 2 attempts" in info.value.message


@pytest.mark.parametrize(
    "raw", [b"{not json", b"[1, 2]", b'{"type": "message"}'], ids=["syntax", "array", "no-content"]
)
def test_malformed_answer_is_an_llm_error_not_a_traceback(fake: FakeAnthropic, raw: bytes) -> None:
    fake.script(None, MalformedReply(raw))
    with pytest.raises(LLMError) as info:
        provider(fake, [], stream=False).complete(request())
    assert "not a" in info.value.message and "Messages API" in info.value.message
    assert info.value.hint and "ANTHROPIC_BASE_URL" in info.value.hint
    assert len(fake.requests) == 1


def test_malformed_stream_event_is_an_llm_error(fake: FakeAnthropic) -> None:
    raw = b"event: message_start\ndata: {not json\n\n"
    fake.script(None, MalformedReply(raw, content_type="text/event-stream"))
    with pytest.raises(LLMError) as info:
        provider(fake, [], stream=True).complete(request())
    assert "not a valid Messages API response" in info.value.message
    assert len(fake.requests) == 1


def test_nothing_scripted_fails_at_once_and_names_the_tool(fake: FakeAnthropic) -> None:
    with pytest.raises(LLMError) as info:
        provider(fake, []).complete(request(tool=TOOL))
    assert "nothing scripted for tool 'answer'" in info.value.message
    assert len(fake.requests) == 1
    assert fake.unscripted == ["fake: nothing scripted for tool 'answer'"]


def test_concurrent_calls_from_threads(fake: FakeAnthropic) -> None:
    def echo(req: RecordedRequest) -> ToolReply:
        return ToolReply({"x": int(req.text.split()[-1])})

    fake.on("answer", echo)
    fake.delay = 0.05
    llm = provider(fake, stream=True)
    results: dict[int, Any] = {}

    def call(i: int) -> None:
        results[i] = llm.complete(request(f"number {i}", tool=TOOL)).tool_input

    threads = [threading.Thread(target=call, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {i: {"x": i} for i in range(12)}
    assert len(fake.requests) == 12


def test_default_model_is_the_newest_sonnet_the_sdk_knows() -> None:
    from anthropic.types.model_param import ModelParam

    known = [n for arg in get_args(ModelParam) for n in get_args(arg) if isinstance(n, str)]
    model = default_model()
    assert model in known and model.startswith("claude-sonnet-")

    def version(name: str) -> tuple[int, ...]:
        parts = name.removeprefix("claude-sonnet-").split("-")
        return tuple(int(p) for p in parts if len(p) <= 2)

    sonnets = [n for n in known if n.startswith("claude-sonnet-")]
    assert all(version(model) >= version(n) for n in sonnets)
    assert not any(len(p) == 8 for p in model.split("-"))  # the alias, not a dated snapshot


def test_from_settings_uses_model_caps_and_timeout(fake: FakeAnthropic) -> None:
    from tinygen.config import load_settings

    env = {
        "TINYGEN_MODEL": "claude-haiku-4-5",
        "TINYGEN_MAX_RETRY_WAIT": "0.01",
        "TINYGEN_MAX_RETRY_TOTAL": "0.015",
    }
    settings = load_settings(env=env)
    fake.script(None, *[ErrorReply.overloaded()] * 3)
    waits: list[float] = []
    llm = AnthropicProvider.from_settings(
        settings, api_key=fake.api_key, base_url=fake.base_url, sleep=waits.append
    )
    assert llm.model == "claude-haiku-4-5" and llm.timeout == settings.request_timeout
    with pytest.raises(LLMOverloadedError):
        llm.complete(request())
    assert waits == [0.01]  # backoff capped at 0.01; a second wait would pass the 0.015 total
    assert len(fake.requests) == 2
    assert fake.requests[0].model == "claude-haiku-4-5"


def test_provider_repr_never_shows_the_key(fake: FakeAnthropic) -> None:
    assert fake.api_key not in repr(provider(fake))
