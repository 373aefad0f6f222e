"""ScriptedProvider: routing by label, responders, failures, history, threads."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import pytest

from tinygen.errors import LLMError, LLMOutputError, LLMOverloadedError
from tinygen.llm import (
    Completion,
    CompletionRequest,
    Message,
    Provider,
    TextBlock,
    Tool,
    ToolResultBlock,
    Usage,
    complete_structured,
)
from tinygen.testing import (
    DEFAULT_USAGE,
    Answer,
    ScriptedProvider,
    UnscriptedCall,
    prompt_text,
)

TOOL = Tool("answer", "Answer.", {"type": "object"})


def request(label: str = "", text: str = "hello", tool: Tool | None = TOOL) -> CompletionRequest:
    return CompletionRequest(
        system=(TextBlock("system"),),
        messages=(Message("user", (TextBlock(text),)),),
        tool=tool,
        label=label,
    )


def test_it_is_a_provider() -> None:
    provider: Provider = ScriptedProvider({"x": 1})
    assert provider.complete(request()).tool_input == {"x": 1}


def test_answers_are_served_in_order_and_recorded() -> None:
    usage = Usage(input_tokens=7, output_tokens=3, cache_read_tokens=5, cache_write_tokens=2)
    provider = ScriptedProvider()
    provider.enqueue({"n": 1}, "plain text", Answer.tool({"n": 3}, usage=usage))
    first, second, third = (provider.complete(request(text=f"q{i}")) for i in range(3))
    assert (first.tool_input, first.text, first.stop_reason) == ({"n": 1}, "", "tool_use")
    assert first.tool_use_id is not None and first.usage == DEFAULT_USAGE
    assert (second.tool_input, second.text, second.stop_reason) == (None, "plain text", "end_turn")
    assert second.tool_use_id is None
    assert third.usage == usage and third.model == provider.model
    assert [prompt_text(r) for r in provider.requests] == ["q0", "q1", "q2"]
    assert [call.outcome for call in provider.history] == [first, second, third]
    assert provider.pending() == {}


def test_the_request_model_wins_over_the_provider_model() -> None:
    provider = ScriptedProvider({"x": 1}, model="claude-haiku-4-5")
    sent = CompletionRequest(
        system=(), messages=(Message("user", (TextBlock("q"),)),), model="claude-opus-4-5"
    )
    assert provider.complete(sent).model == "claude-opus-4-5"


def test_usage_is_a_copy_per_answer() -> None:
    provider = ScriptedProvider({"a": 1}, {"b": 2})
    one, two = provider.complete(request()), provider.complete(request())
    assert one.usage is not two.usage and one.usage is not DEFAULT_USAGE


@pytest.mark.parametrize(
    ("label", "served_by"),
    [
        ("edit:app/main.py", "exact"),  # its own queue first
        ("edit:app/cli.py", "kind"),  # then its kind's
        ("verify", "any"),  # then the unlabelled queue
    ],
)
def test_the_most_specific_queue_answers(label: str, served_by: str) -> None:
    provider = ScriptedProvider()
    provider.enqueue({"by": "any"})
    provider.enqueue({"by": "kind"}, label="edit")
    provider.enqueue({"by": "exact"}, label="edit:app/main.py")
    assert provider.complete(request(label)).tool_input == {"by": served_by}


def test_responders_answer_once_queues_are_empty() -> None:
    provider = ScriptedProvider()
    provider.enqueue({"queued": True}, label="edit:a.py")
    provider.respond(lambda r: {"file": r.label.split(":", 1)[1]}, label="edit")
    provider.respond(lambda r: "fallback")
    assert provider.complete(request("edit:a.py")).tool_input == {"queued": True}
    assert provider.complete(request("edit:a.py")).tool_input == {"file": "a.py"}
    assert provider.complete(request("edit:b.py")).tool_input == {"file": "b.py"}
    assert provider.complete(request("verify")).text == "fallback"
    assert [r.label for r in provider.requests_for("edit")] == ["edit:a.py"] * 2 + ["edit:b.py"]
    assert [r.label for r in provider.requests_for("edit:b.py")] == ["edit:b.py"]


def test_an_enqueued_exception_is_raised_by_its_call() -> None:
    provider = ScriptedProvider(LLMOverloadedError("overloaded"), {"ok": True})
    with pytest.raises(LLMOverloadedError):
        provider.complete(request())
    assert provider.complete(request()).tool_input == {"ok": True}
    assert isinstance(provider.history[0].outcome, LLMOverloadedError)


def test_nothing_scripted_is_a_clear_error_naming_the_label_and_tool() -> None:
    provider = ScriptedProvider()
    provider.enqueue({"x": 1}, label="brainstorm")
    with pytest.raises(UnscriptedCall) as info:
        provider.complete(request("edit:app/main.py"))
    assert isinstance(info.value, LLMError)  # flows through the pipeline like an API failure
    assert "'edit:app/main.py'" in info.value.message and "'answer'" in info.value.message
    assert "label='edit:app/main.py'" in (info.value.hint or "")
    assert provider.pending() == {"brainstorm": 1}  # another label's answer was not taken
    assert isinstance(provider.history[-1].outcome, UnscriptedCall)


def test_scripting_something_else_is_refused() -> None:
    with pytest.raises(TypeError, match="cannot script"):
        ScriptedProvider(42)  # type: ignore[arg-type]


@dataclass
class Point:
    x: int
    y: int


def test_structured_answers_and_the_correction_round() -> None:
    provider = ScriptedProvider({"x": 1}, {"x": 1, "y": 2})
    value, completions = complete_structured(provider, request("brainstorm"), Point)
    assert value == Point(1, 2) and len(completions) == 2
    retry = provider.requests[1]
    assistant, user = retry.messages[-2:]
    # the correction answers the first call's tool use by its id
    result = user.content[0]
    assert isinstance(result, ToolResultBlock) and result.is_error
    assert result.tool_use_id == completions[0].tool_use_id
    assert assistant.role == "assistant"


def test_a_text_answer_where_a_tool_is_forced_is_refused_after_one_correction() -> None:
    provider = ScriptedProvider("I think...", "still no tool")
    with pytest.raises(LLMOutputError):
        complete_structured(provider, request("verify"), Point)
    assert len(provider.requests) == 2


def test_concurrent_calls_each_get_their_own_answer() -> None:
    provider = ScriptedProvider()
    labels = [f"edit:f{i}.py" for i in range(16)]
    for label in labels:
        provider.enqueue({"for": label}, label=label)
    start = threading.Barrier(len(labels))
    got: dict[str, Completion] = {}

    def call(label: str) -> None:
        start.wait(timeout=30)  # a safety limit: all threads call at once
        got[label] = provider.complete(request(label))

    threads = [threading.Thread(target=call, args=(label,)) for label in labels]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert {label: c.tool_input for label, c in got.items()} == {
        label: {"for": label} for label in labels
    }
    assert len(provider.history) == len(labels) and provider.pending() == {}
    ids = {c.tool_use_id for c in got.values()}
    assert len(ids) == len(labels)  # unique ids, even when calls race


def test_json_text_answers_for_servers_without_tools() -> None:
    provider = ScriptedProvider(Answer.json("not json {"), Answer.json({"x": 1, "y": 2}))
    value, completions = complete_structured(provider, request("verify"), Point)
    assert value == Point(1, 2)
    assert [c.structured_mode for c in completions] == ["json", "json"]
    assert "not valid JSON" in prompt_text(provider.requests[1])


def test_a_forced_tool_answer_says_it_came_as_a_tool_call() -> None:
    provider = ScriptedProvider({"x": 1}, "text")
    assert provider.complete(request()).structured_mode == "tool"
    assert provider.complete(request(tool=None)).structured_mode is None
