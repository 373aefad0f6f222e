"""A scripted :class:`~tinygen.llm.Provider`: answers queued by a test, requests recorded.

Like simonw/llm's ``MockModel.enqueue`` and mini-swe-agent's ``DeterministicModel``, but
routed by the request's ``label``, because the edit pass asks about several files at once
and in no fixed order::

    provider = ScriptedProvider()
    provider.enqueue({"summary": "...", "title": "...", "files": [...]}, label="brainstorm")
    provider.enqueue({"diff": "..."}, label="edit:app/main.py")
    provider.respond(lambda request: Answer.tool({"diff": ...}), label="edit")
    provider.enqueue(Answer.tool({"approved": True, "summary": "ok"}), label="verify")
    result = pipeline.run(request, target, settings, provider, model="claude-sonnet-4-6")
    assert provider.pending() == {}  # every scripted answer was used

A request takes the first answer found, the most specific first: the queue of its exact
label (``edit:app/main.py``), of its label's kind (``edit``), the unlabelled queue; then
the responder of the label, of the kind, the unlabelled responder. With none it raises
:class:`UnscriptedCall`. Safe to call from several threads.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from tinygen.errors import LLMError
from tinygen.llm.provider import (
    Completion,
    CompletionRequest,
    StructuredMode,
    TextBlock,
    ToolResultBlock,
    ToolUseBlock,
)
from tinygen.llm.usage import Usage

# What every answer costs unless it says otherwise: small, and not zero, so that sums of
# usage over a run are visible in tests.
DEFAULT_USAGE = Usage(input_tokens=100, output_tokens=10)
DEFAULT_MODEL = "claude-sonnet-4-6"


@dataclass(frozen=True)
class Answer:
    """One scripted answer: the forced tool's input and/or text, with its usage."""

    tool_input: dict[str, Any] | None = None
    text: str = ""
    usage: Usage = field(default_factory=lambda: DEFAULT_USAGE)
    stop_reason: str | None = None  # None: "tool_use" with a tool input, else "end_turn"
    # How the structured answer was asked for; None: "tool" when the request forces a tool
    # (as the Anthropic provider answers). "json" or "json_schema": the answer is ``text``.
    structured_mode: StructuredMode | None = None

    @classmethod
    def tool(cls, tool_input: dict[str, Any], *, usage: Usage | None = None) -> Answer:
        return cls(tool_input=tool_input, usage=usage or DEFAULT_USAGE)

    @classmethod
    def json(
        cls, value: Any, *, mode: StructuredMode = "json", usage: Usage | None = None
    ) -> Answer:
        """The structured answer as JSON text (a server without tool calls); ``value`` may
        be a str to script text that is not valid JSON."""
        text = value if isinstance(value, str) else json.dumps(value)
        return cls(text=text, structured_mode=mode, usage=usage or DEFAULT_USAGE)

    @classmethod
    def say(cls, text: str, *, usage: Usage | None = None) -> Answer:
        """A text answer without a tool call (a model ignoring the forced tool)."""
        return cls(text=text, usage=usage or DEFAULT_USAGE)


# What a test may enqueue: an Answer, a dict (a tool input), a str (text), or an exception
# instance, raised by the call that takes it (an API failure at that point).
Scripted = Answer | dict[str, Any] | str | BaseException
Responder = Callable[[CompletionRequest], Scripted]


class UnscriptedCall(LLMError):
    """A request arrived with no answer queued and no responder for it."""


@dataclass(frozen=True)
class Call:
    """One request as the provider received it, and what it answered (or raised)."""

    request: CompletionRequest
    outcome: Completion | BaseException


def _as_answer(item: Scripted) -> Answer | BaseException:
    if isinstance(item, Answer | BaseException):
        return item
    if isinstance(item, dict):
        return Answer.tool(item)
    if isinstance(item, str):
        return Answer.say(item)
    raise TypeError(f"cannot script {item!r}: give an Answer, a dict, a str or an exception")


def prompt_text(request: CompletionRequest) -> str:
    """All text of the request's messages (not the system blocks), joined by newlines."""
    parts: list[str] = []
    for message in request.messages:
        for block in message.content:
            if isinstance(block, TextBlock):
                parts.append(block.text)
            elif isinstance(block, ToolResultBlock):
                parts.append(block.content)
            elif isinstance(block, ToolUseBlock):
                parts.append(str(block.input))
    return "\n".join(parts)


def _kind(label: str) -> str:
    return label.split(":", 1)[0]


class ScriptedProvider:
    """A :class:`~tinygen.llm.Provider` that answers from a script; see the module doc."""

    def __init__(self, *answers: Scripted, model: str = DEFAULT_MODEL) -> None:
        self.model = model
        self.history: list[Call] = []
        self._queues: dict[str | None, deque[Answer | BaseException]] = defaultdict(deque)
        self._responders: dict[str | None, Responder] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.enqueue(*answers)

    # scripting

    def enqueue(self, *answers: Scripted, label: str | None = None) -> None:
        """Queue answers for requests labelled ``label`` (exactly, or by kind: ``"edit"``
        serves every ``"edit:<path>"``); ``None`` serves any request."""
        converted = [_as_answer(a) for a in answers]
        with self._lock:
            self._queues[label].extend(converted)

    def respond(self, responder: Responder, *, label: str | None = None) -> None:
        """Answer requests for ``label`` with ``responder(request)`` once their queues are
        empty (the answer may depend on the prompt, e.g. which file an edit is for)."""
        with self._lock:
            self._responders[label] = responder

    def pending(self) -> dict[str | None, int]:
        """Queued answers not used yet, per label."""
        with self._lock:
            return {label: len(q) for label, q in self._queues.items() if q}

    # inspection

    @property
    def requests(self) -> list[CompletionRequest]:
        with self._lock:
            return [call.request for call in self.history]

    def requests_for(self, label: str) -> list[CompletionRequest]:
        """Requests whose label is ``label``, or whose kind is (``"edit"``), in arrival order."""
        return [r for r in self.requests if label in (r.label, _kind(r.label))]

    # the Provider protocol

    def complete(self, request: CompletionRequest) -> Completion:
        item = self._take(request)
        if isinstance(item, BaseException):
            with self._lock:
                self.history.append(Call(request, item))
            raise item
        n = next(self._ids)
        completion = Completion(
            text=item.text,
            tool_input=item.tool_input,
            usage=replace(item.usage),  # a copy: Usage is mutable
            model=request.model or self.model,
            stop_reason=item.stop_reason
            or ("tool_use" if item.tool_input is not None else "end_turn"),
            seconds=0.0,
            request_id=f"req_scripted_{n:04d}",
            tool_use_id=f"toolu_scripted_{n:04d}" if item.tool_input is not None else None,
            structured_mode=item.structured_mode or ("tool" if request.tool is not None else None),
        )
        with self._lock:
            self.history.append(Call(request, completion))
        return completion

    def _take(self, request: CompletionRequest) -> Answer | BaseException:
        keys = list(dict.fromkeys([request.label, _kind(request.label), None]))
        with self._lock:
            for key in keys:
                queue = self._queues.get(key)
                if queue:
                    return queue.popleft()
            responder = next((self._responders[k] for k in keys if k in self._responders), None)
        if responder is not None:
            return _as_answer(responder(request))
        error = UnscriptedCall(
            f"scripted provider: nothing queued for request {request.label or '(unlabelled)'!r}"
            f" (forced tool {request.tool.name if request.tool else None!r})",
            hint=f"enqueue an answer with label={request.label!r} (or its kind, or no label), "
            "or add a responder",
        )
        with self._lock:
            self.history.append(Call(request, error))
        raise error


__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_USAGE",
    "Answer",
    "Call",
    "Responder",
    "Scripted",
    "ScriptedProvider",
    "UnscriptedCall",
    "prompt_text",
]
