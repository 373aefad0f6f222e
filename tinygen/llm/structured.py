"""Structured answers: a forced tool whose JSON schema comes from a dataclass.

``complete_structured(provider, request, Plan)`` asks the model to call a tool whose input
schema is derived from ``Plan`` and validates the input into a ``Plan``. Input that does
not validate is sent back once, as an error tool_result quoting the validation errors;
if the second answer fails too, :class:`~tinygen.errors.LLMOutputError` is raised.

A provider whose server cannot force a tool answers in a JSON mode instead
(``Completion.structured_mode``): then the answer's text must be one JSON object, parsed
strictly by :func:`parse_json_object` — never repaired. A broken one gets the same one
correction round, quoting what is wrong with it.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from typing import Any, TypeVar

from tinygen.errors import LLMOutputError
from tinygen.llm.provider import (
    Completion,
    CompletionRequest,
    Message,
    Provider,
    TextBlock,
    Tool,
    ToolResultBlock,
    ToolUseBlock,
)

T = TypeVar("T")

# How much of a validation report goes back to the model or into an error message.
_MAX_REPORT_CHARS = 4000


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """Replace ``$ref``s to ``$defs`` by the definitions (kept when recursive)."""
    defs = schema.get("$defs", {})

    def walk(node: Any, seen: tuple[str, ...]) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                name = ref.removeprefix("#/$defs/")
                if name in seen or name not in defs:
                    return node  # recursive: leave the reference
                return walk(defs[name], (*seen, name))
            return {k: walk(v, seen) for k, v in node.items() if k != "$defs"}
        if isinstance(node, list):
            return [walk(v, seen) for v in node]
        return node

    inlined = walk(schema, ())
    if "$ref" in json.dumps(inlined):
        inlined["$defs"] = defs
    return dict(inlined)


_ADAPTERS: dict[Any, Any] = {}


def _adapter(output_type: Any) -> Any:
    """A cached pydantic TypeAdapter (building one is slow; a race only builds it twice)."""
    adapter = _ADAPTERS.get(output_type)
    if adapter is None:
        from pydantic import TypeAdapter

        adapter = _ADAPTERS[output_type] = TypeAdapter(output_type)
    return adapter


def schema_for(output_type: type[Any]) -> dict[str, Any]:
    """The JSON schema of a (possibly nested) dataclass, references inlined."""
    if not dataclasses.is_dataclass(output_type):
        raise TypeError(f"{output_type!r} is not a dataclass")
    return _inline_refs(_adapter(output_type).json_schema())


def tool_for(
    output_type: type[Any], name: str | None = None, description: str | None = None
) -> Tool:
    """A tool whose input is ``output_type``: named after it, described by its docstring."""
    doc = (output_type.__doc__ or "").strip()
    if doc.startswith(f"{output_type.__name__}("):  # the dataclass-generated signature
        doc = ""
    return Tool(
        name=name or _snake(output_type.__name__),
        description=description or doc or f"Submit the answer as a {output_type.__name__}.",
        input_schema=schema_for(output_type),
    )


_THINKING = re.compile(r"<think>.*?</think>\s*", re.S)
_FENCED = re.compile(r"```(?:json|JSON)?[ \t]*\n(.*?)\n?[ \t]*```", re.S)


def parse_json_object(text: str) -> tuple[dict[str, Any] | None, str]:
    """The JSON object that is the whole answer, or None and what is wrong with it.

    Strict: the text must be exactly one JSON object. Only two wrappings are taken off,
    both whole: a leading ``<think>…</think>`` block (reasoning models served without a
    reasoning parser) and one code fence around the entire answer. Nothing is repaired."""
    body = _THINKING.sub("", text.strip(), count=1) if text.lstrip().startswith("<think>") else text
    body = body.strip()
    fenced = _FENCED.fullmatch(body)
    if fenced:
        body = fenced.group(1).strip()
    if not body:
        return None, "the answer is empty"
    try:
        value = json.loads(body)
    except json.JSONDecodeError as exc:
        return None, f"it is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
    if not isinstance(value, dict):
        return None, f"it is JSON, but {type(value).__name__} rather than an object"
    return value, ""


def _validate(output_type: type[T], completion: Completion, tool: Tool) -> tuple[T | None, str]:
    """The validated value, or None and a report written for the model."""
    from pydantic import ValidationError

    raw = completion.tool_input
    what = "The tool input"
    if raw is None and completion.tool_use_id is not None:
        # A call whose arguments are not one JSON object: the provider passed them as text.
        raw, problem = parse_json_object(completion.text)
        if raw is None:
            return None, (
                f"The arguments of your {tool.name!r} call must be one JSON object, but "
                f"{problem}. Call it again with valid arguments."
            )
    elif raw is None and completion.structured_mode in ("json_schema", "json"):
        raw, problem = parse_json_object(completion.text)
        if raw is None:
            return None, (
                f"Your answer must be one JSON object matching the schema of {tool.name!r} "
                f"and nothing else, but {problem}. Answer again with only the JSON object."
            )
        what = "The JSON answer"
    if raw is None:
        return (
            None,
            f"You must answer by calling the tool {tool.name!r} with input matching its schema.",
        )
    try:
        value: T = _adapter(output_type).validate_python(raw)
    except ValidationError as exc:
        lines = [
            f"- {'.'.join(str(p) for p in err['loc']) or '(input)'}: {err['msg']}"
            for err in exc.errors(include_url=False)
        ]
        report = f"{what} does not match the schema:\n" + "\n".join(lines)
        return None, report[:_MAX_REPORT_CHARS]
    return value, ""


def complete_structured(
    provider: Provider,
    request: CompletionRequest,
    output_type: type[T],
    *,
    on_call: Callable[[CompletionRequest, Completion], None] | None = None,
    repair: bool = True,
) -> tuple[T, list[Completion]]:
    """Ask for ``output_type`` through a forced tool; one correction round; all completions.

    The tool's name and description come from ``request.tool`` when given (its schema is
    replaced by the one derived from ``output_type``), else from ``output_type``. With
    ``repair=False`` there is no correction round: an answer that does not validate raises
    LLMOutputError at once (a voted sample is discarded and redrawn, never repaired).
    """
    derived = tool_for(output_type)
    tool = (
        Tool(request.tool.name, request.tool.description, derived.input_schema)
        if request.tool is not None
        else derived
    )
    request = dataclasses.replace(request, tool=tool)

    def call(req: CompletionRequest) -> Completion:
        completion = provider.complete(req)
        if on_call is not None:  # each call as sent, even when the answer is then refused
            on_call(req, completion)
        return completion

    completions = [call(request)]
    value, report = _validate(output_type, completions[0], tool)
    if value is not None:
        return value, completions
    first = completions[0]
    if first.stop_reason == "max_tokens":
        raise LLMOutputError(
            f"{request.label or 'the model'}: the answer was cut off at max_tokens "
            f"({request.max_tokens}) before the {tool.name!r} input was complete",
            hint="raise `max_tokens` or ask for a smaller change",
            settings=("max_tokens",),
        )
    if not repair:
        raise LLMOutputError(
            f"{request.label or 'the model'}: the answer did not match the {tool.name!r} "
            f"schema:\n{report}"
        )
    retry = dataclasses.replace(
        request,
        messages=(*request.messages, *_correction(first, report, tool.name)),
        correction=True,
    )
    completions.append(call(retry))
    value, report = _validate(output_type, completions[1], tool)
    if value is not None:
        return value, completions
    raise LLMOutputError(
        f"{request.label or 'the model'}: the answer did not match the {tool.name!r} schema "
        f"after one correction:\n{report}",
        hint="try again, or choose another `model`",
        settings=("model",),
    )


def _correction(completion: Completion, report: str, tool_name: str) -> tuple[Message, Message]:
    """The assistant's failed answer and the user's reply that points out what is wrong."""
    if completion.tool_use_id is not None and completion.tool_input is not None:
        tool_use = ToolUseBlock(completion.tool_use_id, tool_name, completion.tool_input or {})
        text = (TextBlock(completion.text),) if completion.text else ()
        return (
            Message("assistant", (*text, tool_use)),
            Message("user", (ToolResultBlock(completion.tool_use_id, report, is_error=True),)),
        )
    said = completion.text or "(no answer)"
    return Message("assistant", (TextBlock(said),)), Message("user", (TextBlock(report),))


__all__ = ["complete_structured", "parse_json_object", "schema_for", "tool_for"]
