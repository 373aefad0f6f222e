"""The one way tinygen parses JSON it did not write in this process: with size and depth
limits, and decoded safely.

Events, run records, model tool input and the other JSON we read go through :func:`loads`:

- a document over ``max_bytes`` is refused before it is parsed, and one nested deeper than
  ``max_depth`` after (the parser's own recursion limit becomes the same refusal), both as
  :class:`~tinygen.errors.InputError` — never a ``RecursionError`` traceback;
- a lone UTF-16 surrogate (``"\\ud800"``, valid JSON but not encodable text) becomes
  U+FFFD, so text we read can always be written out again as UTF-8;
- not JSON, or bytes that are not UTF-8, raise ``ValueError`` (``json.JSONDecodeError``,
  ``UnicodeDecodeError``) as :func:`json.loads` does: each caller words that its own way.

:func:`checked` applies the same limits to a value another parser made (an SDK's tool
input); :func:`clean_text` does the surrogate repair for text that arrives otherwise.
"""

from __future__ import annotations

import json
import re
from typing import Any

from tinygen.errors import InputError
from tinygen.inputs import size_text

MAX_DEPTH = 100  # nothing tinygen reads nests deeper; GitHub's payloads nest about 6 deep

# A \uD800-\uDFFF escape in JSON text, or a surrogate already in a str: only then can the
# parsed value hold a lone surrogate (UTF-8 bytes decoded strictly never do).
_MAYBE_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]|[\ud800-\udfff]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD (a valid pair was already
    joined by the decoder that made the str)."""
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


def loads(
    data: str | bytes,
    what: str,
    *,
    max_bytes: int | None = None,
    max_depth: int = MAX_DEPTH,
) -> Any:
    """The value of the JSON document ``data``; ``what`` names it in errors ("the event
    payload /path/event.json")."""
    if max_bytes is not None and len(data) > max_bytes:
        raise InputError(
            f"{what} is larger than {size_text(max_bytes)}, the most tinygen reads",
            hint="give a smaller document",
        )
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    try:
        value = json.loads(text)
    except RecursionError as exc:
        raise _too_deep(what, max_depth) from exc
    return _checked(value, what, max_depth, bool(_MAYBE_SURROGATE.search(text)))


def _too_deep(what: str, max_depth: int) -> InputError:
    return InputError(
        f"{what} nests deeper than {max_depth} levels, the most tinygen reads",
        hint="give a document with less nesting",
    )


def checked(value: Any, what: str, max_depth: int = MAX_DEPTH) -> Any:
    """A value another parser made (an SDK's tool input), checked as :func:`loads` checks
    its own: InputError when it nests deeper than ``max_depth``, lone surrogates replaced
    (in place)."""
    return _checked(value, what, max_depth, True)


def _checked(value: Any, what: str, max_depth: int, clean: bool) -> Any:
    """``value`` after checking its depth without recursion; with ``clean``, its strings
    (keys included) rebuilt without lone surrogates (in place)."""
    if isinstance(value, str):
        return clean_text(value) if clean else value
    if not isinstance(value, (dict, list)):
        return value
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            raise _too_deep(what, max_depth)
        if isinstance(node, dict):
            if clean and any(isinstance(k, str) and _SURROGATE.search(k) for k in node):
                items = [(clean_text(k), v) for k, v in node.items()]
                node.clear()
                node.update(items)
            for key, item in node.items():
                if isinstance(item, (dict, list)):
                    stack.append((item, depth + 1))
                elif clean and isinstance(item, str):
                    node[key] = clean_text(item)
        else:
            for i, item in enumerate(node):
                if isinstance(item, (dict, list)):
                    stack.append((item, depth + 1))
                elif clean and isinstance(item, str):
                    node[i] = clean_text(item)
    return value


__all__ = ["MAX_DEPTH", "checked", "clean_text", "loads"]
