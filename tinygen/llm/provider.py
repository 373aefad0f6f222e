"""The provider interface: one request in, one completion out, as typed dataclasses.

A pass builds a :class:`CompletionRequest` (system blocks, messages, at most one forced
tool) and gets a :class:`Completion` (text and/or the forced tool's input, usage, timing).
Implementations need no inheritance: anything with a matching ``complete`` method is a
:class:`Provider`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

from tinygen.llm.usage import Usage

# The Messages API accepts at most this many cache_control breakpoints per request.
MAX_CACHE_BREAKPOINTS = 4

# Ways to get a structured answer, best first; a provider steps down when a server lacks one.
StructuredMode = Literal["tool", "json_schema", "json"]
STRUCTURED_MODES: tuple[StructuredMode, ...] = ("tool", "json_schema", "json")


@dataclass(frozen=True)
class TextBlock:
    """Text in a prompt. ``cache=True`` puts a prompt-cache breakpoint after this block:
    everything up to and including it is cached and read back by later requests that
    share the same prefix."""

    text: str
    cache: bool = False


@dataclass(frozen=True)
class ToolUseBlock:
    """A tool call the assistant made (sent back when replying to it with a tool result)."""

    id: str
    name: str
    input: dict[str, Any]


@dataclass(frozen=True)
class ToolResultBlock:
    """The answer to a :class:`ToolUseBlock`; ``is_error`` tells the model it must retry."""

    tool_use_id: str
    content: str
    is_error: bool = False


ContentBlock = TextBlock | ToolUseBlock | ToolResultBlock


@dataclass(frozen=True)
class Message:
    role: Literal["user", "assistant"]
    content: tuple[ContentBlock, ...]


@dataclass(frozen=True)
class Tool:
    """A tool the model must call; its input is the structured answer."""

    name: str
    description: str
    input_schema: dict[str, Any]


@dataclass(frozen=True)
class CompletionRequest:
    system: tuple[TextBlock, ...]
    messages: tuple[Message, ...]
    tool: Tool | None = None  # forced through tool_choice when given
    max_tokens: int = 16000
    model: str | None = None  # None: the provider's model
    temperature: float | None = None
    label: str = ""  # the pass name, for run records and progress lines
    # Tools offered besides the forced one, in this order. Offering the same tools in every
    # call keeps the cache prefix (tools -> system -> messages) identical across passes.
    tools: tuple[Tool, ...] = ()
    correction: bool = False  # a repeat that tells the model what its last answer got wrong

    def __post_init__(self) -> None:
        names = [t.name for t in self.tools]
        if len(set(names)) != len(names):
            raise ValueError(f"tool names must be unique, got {names}")
        if not self.messages:
            raise ValueError("a completion request needs at least one message")
        if self.max_tokens < 1:
            raise ValueError("max_tokens must be at least 1")
        breakpoints = sum(
            1
            for block in (*self.system, *(b for m in self.messages for b in m.content))
            if isinstance(block, TextBlock) and block.cache
        )
        if breakpoints > MAX_CACHE_BREAKPOINTS:
            # The API refuses the request; failing here points at the pass that built it.
            raise ValueError(
                f"{breakpoints} TextBlocks have cache=True; the Messages API allows at most "
                f"{MAX_CACHE_BREAKPOINTS} cache breakpoints per request"
            )


@dataclass(frozen=True)
class Completion:
    text: str  # all text blocks of the answer, joined
    tool_input: dict[str, Any] | None  # the input of the (forced) tool call, if any
    usage: Usage
    model: str
    stop_reason: str | None
    seconds: float  # wall time of the call, retries included
    request_id: str | None
    tool_use_id: str | None = None  # needed to answer the tool call with a tool_result
    attempts: int = 1  # HTTP attempts made (1 = no retry)
    # How the structured answer was asked for (None: no tool): "tool" (forced function
    # call, the answer is tool_input), "json_schema" or "json" (the answer is ``text``,
    # one JSON object: see tinygen.llm.structured).
    structured_mode: StructuredMode | None = None
    streamed: bool | None = None  # the answer came as a stream (None: not known)


class Provider(Protocol):
    def complete(self, request: CompletionRequest) -> Completion: ...


__all__ = [
    "MAX_CACHE_BREAKPOINTS",
    "STRUCTURED_MODES",
    "Completion",
    "CompletionRequest",
    "ContentBlock",
    "Message",
    "Provider",
    "StructuredMode",
    "TextBlock",
    "Tool",
    "ToolResultBlock",
    "ToolUseBlock",
]
