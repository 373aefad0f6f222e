"""Structured output through a forced tool: schema from a dataclass, one correction round."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

import pytest

from tests.fakes.anthropic_server import FakeAnthropic, TextReply, ToolReply
from tinygen.errors import ExitCode, LLMOutputError
from tinygen.llm import (
    AnthropicProvider,
    CompletionRequest,
    Message,
    TextBlock,
    Tool,
    complete_structured,
    schema_for,
    tool_for,
)


@dataclass(frozen=True)
class FileChange:
    path: str
    action: Literal["create", "modify", "delete"]
    intent: str
    needs: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Plan:
    """Submit the plan for the change."""

    summary: str
    title: str
    files: list[FileChange]


GOOD = {
    "summary": "rename foo",
    "title": "Rename foo to bar",
    "files": [{"path": "a.py", "action": "modify", "intent": "rename", "needs": ["b.py"]}],
}
BAD = {"summary": "rename foo", "files": [{"path": "a.py", "action": "rewrite", "intent": "x"}]}


def provider(fake: FakeAnthropic, **kw: Any) -> AnthropicProvider:
    return AnthropicProvider(
        api_key=fake.api_key, base_url=fake.base_url, max_retry_wait=0.01, **kw
    )


def request(**kw: Any) -> CompletionRequest:
    return CompletionRequest(
        system=(TextBlock("You plan changes.", cache=True),),
        messages=(Message("user", (TextBlock("Rename foo to bar."),)),),
        label="brainstorm",
        **kw,
    )


def test_schema_is_derived_from_nested_dataclasses() -> None:
    schema = schema_for(Plan)
    assert schema["type"] == "object"
    assert set(schema["required"]) == {"summary", "title", "files"}
    item = schema["properties"]["files"]["items"]
    assert "$ref" not in json.dumps(schema) and "$defs" not in schema  # inlined for the API
    assert item["properties"]["action"]["enum"] == ["create", "modify", "delete"]
    assert set(item["required"]) == {"path", "action", "intent"}
    tool = tool_for(Plan)
    assert tool.name == "plan"
    assert tool.description == "Submit the plan for the change."
    assert tool_for(FileChange).description == "Submit the answer as a FileChange."


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_valid_answer_first_time(fake: FakeAnthropic, stream: bool) -> None:
    fake.script("plan", ToolReply(GOOD))
    plan, completions = complete_structured(provider(fake, stream=stream), request(), Plan)
    assert plan == Plan(
        "rename foo", "Rename foo to bar", [FileChange("a.py", "modify", "rename", ["b.py"])]
    )
    assert isinstance(plan.files[0], FileChange)
    assert len(completions) == 1
    body = fake.requests[0].body
    assert body["tool_choice"] == {"type": "tool", "name": "plan"}
    assert body["tools"][0]["input_schema"] == schema_for(Plan)


def test_tool_name_and_description_from_the_request_are_kept(fake: FakeAnthropic) -> None:
    fake.script("submit_plan", ToolReply(GOOD))
    custom = Tool("submit_plan", "Plan it.", {})
    plan, _ = complete_structured(provider(fake), request(tool=custom), Plan)
    assert plan.title == "Rename foo to bar"
    sent = fake.requests[0].body["tools"][0]
    assert (sent["name"], sent["description"]) == ("submit_plan", "Plan it.")
    assert sent["input_schema"]["required"]  # the schema still comes from the dataclass


def test_invalid_input_is_sent_back_once_then_accepted(fake: FakeAnthropic) -> None:
    fake.script("plan", ToolReply(BAD, text="Here is my plan."), ToolReply(GOOD))
    plan, completions = complete_structured(provider(fake), request(), Plan)
    assert plan.files[0].action == "modify"
    assert len(completions) == 2

    retry = fake.requests[1].body["messages"]
    assert [m["role"] for m in retry] == ["user", "assistant", "user"]
    assistant = retry[1]["content"]
    assert assistant[0] == {"type": "text", "text": "Here is my plan."}
    tool_use = assistant[1]
    assert tool_use["type"] == "tool_use" and tool_use["name"] == "plan"
    assert tool_use["input"] == BAD
    result = retry[2]["content"][0]
    assert result["type"] == "tool_result" and result["is_error"] is True
    assert result["tool_use_id"] == tool_use["id"] == completions[0].tool_use_id
    assert "title" in result["content"]  # the missing field
    assert "files.0.action" in result["content"]  # the bad enum value, by location
    # the stable prefix keeps its cache marker on the retry
    assert fake.requests[1].body["system"][0]["cache_control"] == {"type": "ephemeral"}


def test_offered_tools_stay_identical_across_the_correction(fake: FakeAnthropic) -> None:
    offered = (tool_for(FileChange, "edit_file"), tool_for(Plan, "submit_plan", "Plan it."))
    fake.script("submit_plan", ToolReply(BAD), ToolReply(GOOD))
    plan, _ = complete_structured(
        provider(fake), request(tool=Tool("submit_plan", "Plan it.", {}), tools=offered), Plan
    )
    assert plan.title == "Rename foo to bar"
    first, second = (r.body["tools"] for r in fake.requests)
    assert first == second  # the cached prefix (tools first) does not change
    assert [t["name"] for t in first] == ["edit_file", "submit_plan"]
    assert first[1]["input_schema"] == schema_for(Plan)


def test_invalid_twice_fails_clearly(fake: FakeAnthropic) -> None:
    fake.script("plan", ToolReply(BAD), ToolReply(BAD))
    with pytest.raises(LLMOutputError) as info:
        complete_structured(provider(fake), request(), Plan)
    assert info.value.exit_code == ExitCode.LLM
    assert info.value.message.startswith("brainstorm: the answer did not match the 'plan' schema")
    assert "files.0.action" in info.value.message
    assert len(fake.requests) == 2


def test_text_instead_of_a_tool_call_gets_a_reminder(fake: FakeAnthropic) -> None:
    fake.script("plan", TextReply("I would rename foo."), ToolReply(GOOD))
    plan, completions = complete_structured(provider(fake), request(), Plan)
    assert plan.summary == "rename foo"
    retry = fake.requests[1].body["messages"]
    assert retry[1] == {
        "role": "assistant",
        "content": [{"type": "text", "text": "I would rename foo."}],
    }
    assert "calling the tool 'plan'" in retry[2]["content"][0]["text"]
    assert completions[0].tool_input is None


def test_answer_cut_at_max_tokens_is_not_retried(fake: FakeAnthropic) -> None:
    fake.script("plan", ToolReply({"summary": "cut"}, stop_reason="max_tokens"))
    with pytest.raises(LLMOutputError) as info:
        complete_structured(provider(fake), request(max_tokens=50), Plan)
    assert "max_tokens (50)" in info.value.message
    assert info.value.hint and "`max_tokens`" in info.value.hint
    assert info.value.settings == ("max_tokens",)
    assert len(fake.requests) == 1


def test_output_type_must_be_a_dataclass() -> None:
    with pytest.raises(TypeError, match="not a dataclass"):
        schema_for(dict)
