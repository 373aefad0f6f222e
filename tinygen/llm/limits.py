"""How much of a model's answer is read: no more than its request allowed.

A request says ``max_tokens``; an answer far past it (a broken or hostile server, a proxy
gone wrong) is refused as it arrives — a whole body is read at most one byte past
:func:`answer_limit`, a stream is stopped once its text passes it — instead of being held
in memory, parsed and recorded. JSON the providers parse themselves goes through
:mod:`tinygen.safejson` (depth limit, lone surrogates replaced).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tinygen import safejson
from tinygen.errors import InputError, LLMOutputError
from tinygen.inputs import size_text

# No token takes more than this many bytes, even JSON-escaped (a non-ASCII character is
# \uXXXX, 6 bytes, and a token is rarely more than two of them).
BYTES_PER_TOKEN = 32
# The envelope around the text: ids, usage, stop reason, block structure, a tool's name.
ANSWER_OVERHEAD = 64_000


def answer_limit(max_tokens: int) -> int:
    """Bytes of an answer (body, or text and tool input of a stream) a request allows."""
    return ANSWER_OVERHEAD + BYTES_PER_TOKEN * max(max_tokens, 0)


class AnswerTooLarge(Exception):
    """An answer passed what its request allowed; raised while reading it."""

    def __init__(self, limit: int, max_tokens: int) -> None:
        super().__init__(f"the answer passed {size_text(limit)}")
        self.limit = limit
        self.max_tokens = max_tokens

    def error(self, service: str) -> LLMOutputError:
        return LLMOutputError(
            f"{service} sent an answer larger than {size_text(self.limit)}, far more than the "
            f"{self.max_tokens} tokens the request allowed; it was not read further",
            hint="check that the model's endpoint is the API it claims to be (a proxy or "
            "server that misbehaves); if this persists, report it with the run id",
        )


class AnswerMeter:
    """Counts what a stream has delivered; raises AnswerTooLarge past the limit."""

    def __init__(self, max_tokens: int) -> None:
        self.max_tokens = max_tokens
        self.limit = answer_limit(max_tokens)
        self.seen = 0

    def add(self, size: int) -> None:
        self.seen += size
        if self.seen > self.limit:
            raise AnswerTooLarge(self.limit, self.max_tokens)


def read_body(chunks: Iterable[bytes], max_tokens: int) -> Any:
    """The JSON value of a whole (not streamed) answer body, read chunk by chunk and
    refused once it passes :func:`answer_limit`. Not JSON: ValueError, as json.loads."""
    meter = AnswerMeter(max_tokens)
    parts = []
    for chunk in chunks:
        meter.add(len(chunk))
        parts.append(chunk)
    try:
        return safejson.loads(b"".join(parts), "the model's answer")
    except InputError as exc:  # nested too deeply: a malformed answer, like one not JSON
        raise ValueError(exc.message) from exc


def checked_input(value: Any) -> Any:
    """A tool input the SDK parsed, checked as :func:`tinygen.safejson.loads` checks (depth,
    lone surrogates); too deep is an LLMOutputError."""
    try:
        return safejson.checked(value, "the model's tool input")
    except InputError as exc:
        raise LLMOutputError(
            exc.message, hint="ask again; the model's answer was malformed"
        ) from exc


__all__ = [
    "ANSWER_OVERHEAD",
    "BYTES_PER_TOKEN",
    "AnswerMeter",
    "AnswerTooLarge",
    "answer_limit",
    "checked_input",
    "read_body",
]
