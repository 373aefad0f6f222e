"""Chat Completions on the wire: our requests as its JSON, its answers (whole or streamed)
back as plain parts. Pure functions over dicts, so the provider stays about transport,
retries and errors, and each piece can be tested alone.

Structured modes (see :data:`tinygen.llm.provider.STRUCTURED_MODES`):

- ``tool``: the tools are offered and the forced one is named in ``tool_choice``;
- ``json_schema``: ``response_format`` carries the forced tool's schema, and the system
  prompt says what to answer;
- ``json``: the system prompt alone asks for one JSON object and shows the schema.

In the JSON modes earlier tool calls and results in the conversation (a correction round
that began in ``tool`` mode) are written as text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tinygen import safejson
from tinygen.errors import InputError
from tinygen.llm.provider import (
    CompletionRequest,
    Message,
    StructuredMode,
    TextBlock,
    Tool,
    ToolResultBlock,
    ToolUseBlock,
)

# finish_reason -> the stop_reason vocabulary the rest of tinygen uses (Anthropic's).
STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


class TruncatedAnswer(Exception):
    """The stream ended before a choice said why it finished."""


class ErrorInAnswer(Exception):
    """A 200 answer (body or stream) that carries an ``error`` object instead of a choice."""

    def __init__(self, error: Any) -> None:
        super().__init__(str(error)[:300])
        self.error = error


def json_instructions(tool: Tool) -> str:
    """What the JSON modes add to the system prompt."""
    schema = json.dumps(tool.input_schema, separators=(",", ":"), ensure_ascii=False)
    return (
        "Answer with exactly one JSON object and nothing else: no prose and no code fence. "
        f"The object is the input of `{tool.name}`: {tool.description}\n"
        f"Its JSON schema:\n{schema}"
    )


def _result_text(block: ToolResultBlock) -> str:
    return f"Error: {block.content}" if block.is_error else block.content


def _messages(request: CompletionRequest, mode: StructuredMode) -> list[dict[str, Any]]:
    system = "\n\n".join(b.text for b in request.system)
    if mode != "tool" and request.tool is not None:
        instructions = json_instructions(request.tool)
        system = f"{system}\n\n{instructions}" if system else instructions
    out: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    for message in request.messages:
        out.extend(_message(message, mode))
    return out


def _message(message: Message, mode: StructuredMode) -> list[dict[str, Any]]:
    texts = [b.text for b in message.content if isinstance(b, TextBlock)]
    calls = [b for b in message.content if isinstance(b, ToolUseBlock)]
    results = [b for b in message.content if isinstance(b, ToolResultBlock)]
    if message.role == "assistant":
        if mode == "tool" and calls:
            return [
                {
                    "role": "assistant",
                    "content": "\n\n".join(texts) or None,
                    "tool_calls": [
                        {
                            "id": c.id,
                            "type": "function",
                            "function": {"name": c.name, "arguments": json.dumps(c.input)},
                        }
                        for c in calls
                    ],
                }
            ]
        said = [*texts, *(json.dumps(c.input, ensure_ascii=False) for c in calls)]
        return [{"role": "assistant", "content": "\n\n".join(said)}]
    out: list[dict[str, Any]] = []
    if mode == "tool":  # tool results answer the assistant's calls, before any new text
        out += [
            {"role": "tool", "tool_call_id": r.tool_use_id, "content": _result_text(r)}
            for r in results
        ]
    else:
        texts = [_result_text(r) for r in results] + texts
    if texts:
        out.append({"role": "user", "content": "\n\n".join(texts)})
    return out


def _function(tool: Tool) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": tool.name,
            "description": tool.description,
            "parameters": tool.input_schema,
        },
    }


def build_params(
    request: CompletionRequest,
    model: str,
    mode: StructuredMode,
    *,
    stream: bool,
    max_completion_tokens: bool = False,
    report_cost: bool = False,
) -> dict[str, Any]:
    """The keyword arguments of ``chat.completions.create`` (``extra_body`` included)."""
    params: dict[str, Any] = {"model": model, "messages": _messages(request, mode)}
    # api.openai.com's newer models refuse max_tokens; other servers may not know the new name.
    params["max_completion_tokens" if max_completion_tokens else "max_tokens"] = request.max_tokens
    if request.temperature is not None:
        params["temperature"] = request.temperature
    tools = list(request.tools)
    if mode == "tool" and request.tool is not None:
        # The forced tool's definition wins over a same-named offered one, in place.
        forced = request.tool
        tools = [forced if t.name == forced.name else t for t in tools]
        if forced not in tools:
            tools.append(forced)
        params["tool_choice"] = {"type": "function", "function": {"name": forced.name}}
    if mode == "tool" and tools:
        params["tools"] = [_function(t) for t in tools]
    if mode == "json_schema" and request.tool is not None:
        params["response_format"] = {
            "type": "json_schema",
            "json_schema": {
                "name": request.tool.name,
                "description": request.tool.description,
                "schema": request.tool.input_schema,
                "strict": False,  # strict mode wants every property required: ours are not
            },
        }
    if stream:
        params["stream"] = True
        params["stream_options"] = {"include_usage": True}
    if report_cost:  # OpenRouter: put the call's cost in usage.cost
        params["extra_body"] = {"usage": {"include": True}}
    return params


# --- answers ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str | dict[str, Any]  # a JSON text as sent (some servers send an object)


@dataclass(frozen=True)
class Answer:
    """One chat completion's first choice, as plain data."""

    text: str
    tool_calls: tuple[ToolCall, ...]
    finish_reason: str | None
    usage: dict[str, Any] | None
    model: str | None


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return "".join(
            str(p.get("text", ""))
            for p in content
            if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""


def read_answer(data: Any) -> Answer:
    """A whole (non-streamed) chat completion. Raises ErrorInAnswer for an error object,
    ValueError when it is not a chat completion."""
    if not isinstance(data, dict):
        raise ValueError(f"the answer is {type(data).__name__}, not a JSON object")
    if data.get("error") and not data.get("choices"):
        raise ErrorInAnswer(data["error"])
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise ValueError("the answer has no choices")
    choice = choices[0]
    if choice.get("finish_reason") == "error" and choice.get("error"):
        raise ErrorInAnswer(choice["error"])
    message = choice.get("message")
    if not isinstance(message, dict):
        raise ValueError("the answer's choice has no message")
    calls = []
    for raw in message.get("tool_calls") or []:
        function = raw.get("function") or {}
        calls.append(
            ToolCall(str(raw.get("id") or ""), str(function.get("name") or ""),
                     function.get("arguments") or "")
        )  # fmt: skip
    usage = data.get("usage")
    return Answer(
        text=_content_text(message.get("content")),
        tool_calls=tuple(calls),
        finish_reason=choice.get("finish_reason"),
        usage=usage if isinstance(usage, dict) else None,
        model=data.get("model") if isinstance(data.get("model"), str) else None,
    )


class StreamAssembler:
    """Builds an :class:`Answer` from streamed chunks (as dicts)."""

    def __init__(self) -> None:
        self._text: list[str] = []
        self._calls: dict[int, dict[str, str]] = {}
        self._finish: str | None = None
        self._usage: dict[str, Any] | None = None
        self._model: str | None = None
        self.size = 0  # characters of text and tool arguments so far

    def add(self, chunk: dict[str, Any]) -> None:
        if chunk.get("error"):
            raise ErrorInAnswer(chunk["error"])
        if isinstance(chunk.get("model"), str):
            self._model = chunk["model"]
        if isinstance(chunk.get("usage"), dict):
            self._usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            if choice.get("index", 0) != 0:
                continue
            if choice.get("finish_reason") == "error" and choice.get("error"):
                raise ErrorInAnswer(choice["error"])
            delta = choice.get("delta") or {}
            self._text.append(_content_text(delta.get("content")))
            self.size += len(self._text[-1])
            for call in delta.get("tool_calls") or []:
                slot = self._calls.setdefault(
                    int(call.get("index") or 0), {"id": "", "name": "", "arguments": ""}
                )
                function = call.get("function") or {}
                slot["id"] = slot["id"] or str(call.get("id") or "")
                slot["name"] = slot["name"] or str(function.get("name") or "")
                arguments = function.get("arguments")
                if isinstance(arguments, dict):  # a server that sends the object whole
                    arguments = json.dumps(arguments)
                slot["arguments"] += arguments or ""
                self.size += len(arguments or "")
            if choice.get("finish_reason"):
                self._finish = choice["finish_reason"]

    def answer(self) -> Answer:
        if self._finish is None:
            raise TruncatedAnswer()
        return Answer(
            text="".join(self._text),
            tool_calls=tuple(
                ToolCall(c["id"], c["name"], c["arguments"]) for _, c in sorted(self._calls.items())
            ),
            finish_reason=self._finish,
            usage=self._usage,
            model=self._model,
        )


def tool_input_of(call: ToolCall) -> dict[str, Any] | None:
    """The call's arguments as an object, or None when they are not one JSON object."""
    try:
        if isinstance(call.arguments, dict):
            return safejson.checked(call.arguments, "the model's tool input")
        value = safejson.loads(call.arguments or "{}", "the model's tool input")
    except (ValueError, InputError):  # not JSON, or nested too deeply
        return None
    return value if isinstance(value, dict) else None


__all__ = [
    "STOP_REASONS",
    "Answer",
    "ErrorInAnswer",
    "StreamAssembler",
    "ToolCall",
    "TruncatedAnswer",
    "build_params",
    "json_instructions",
    "read_answer",
    "tool_input_of",
]
