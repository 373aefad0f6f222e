"""In-process test seams shipped with tinygen: doubles that implement our own interfaces.

- :class:`ScriptedProvider` — a :class:`~tinygen.llm.Provider` that answers from a queue
  and records every request (table tests of the pipeline and of each pass).
- :class:`InMemoryForge` — a :class:`~tinygen.github.Forge` whose state is plain data
  (delivery and Action tests without an HTTP server).
- :mod:`tinygen.testing.corrupt` — the ways LLM-written diffs are wrong, for the patch
  engine's property tests and benchmark (imported on its own; not re-exported here).

They are seams, not mocks: each implements a protocol the production code is written
against. End-to-end tests keep using the real SDKs against the HTTP fakes in ``tests/fakes``.
"""

from __future__ import annotations

from tinygen.testing.forge import BOT_LOGIN, InMemoryForge, Reaction, RepoState
from tinygen.testing.provider import (
    DEFAULT_MODEL,
    DEFAULT_USAGE,
    Answer,
    Call,
    ScriptedProvider,
    UnscriptedCall,
    prompt_text,
)

__all__ = [
    "BOT_LOGIN",
    "DEFAULT_MODEL",
    "DEFAULT_USAGE",
    "Answer",
    "Call",
    "InMemoryForge",
    "Reaction",
    "RepoState",
    "ScriptedProvider",
    "UnscriptedCall",
    "prompt_text",
]
