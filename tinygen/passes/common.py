"""What every pass shares: the run context, prompt templates, and one way to ask the model.

Prompt caching: the cache prefix is tools → system → messages, and changing the forced
tool invalidates cached *message* blocks. So every request offers the same three tools in
the same order, and the large stable part (instructions, reference sheet, request) is the
system prompt with a cache breakpoint at its end: the brainstorm call writes it, every
per-file call and the verify call read it. The plan is a second cached block, shared by the
per-file calls (which all force the same tool).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from tinygen.config import Settings
from tinygen.errors import Cancelled, LLMError
from tinygen.llm import (
    CompletionRequest,
    Message,
    TextBlock,
    complete_structured,
    cost_usd,
    tool_for,
)
from tinygen.llm import warm_up as import_sdk
from tinygen.models import EditAnswer, PlanAnswer, Request, VerifyAnswer
from tinygen.runs import RunRecorder

if TYPE_CHECKING:
    from tinygen.llm import Completion, Provider, Tool, ToolResultBlock, Usage
    from tinygen.sheet import Sheet

T = TypeVar("T")

Progress = Callable[[str, str], None]  # (stage, message)


@dataclass
class Lookup:
    """One lookup before planning. ``search``: ``query`` (words, names, an error message)
    -> the best matching files with their matching lines; ``outline``: ``path`` -> its
    symbols with line spans; ``read``: ``path`` (and optionally ``symbol``, e.g.
    ``QuerySet.bulk_create``) -> the text with line numbers."""

    tool: Literal["search", "outline", "read"]
    query: str = ""
    path: str = ""
    symbol: str = ""


@dataclass
class BrainstormAnswer(PlanAnswer):
    """The brainstorm pass's answer: lookups to make first, files to read, or the plan."""

    lookups: list[Lookup] = field(default_factory=list)


PLAN_TOOL = "submit_plan"
EDIT_TOOL = "write_file_change"
VERIFY_TOOL = "submit_review"

_TOOL_SPECS: tuple[tuple[str, str, type], ...] = (
    (
        PLAN_TOOL,
        "Submit the plan for the change (or the lookups and files to read first).",
        BrainstormAnswer,
    ),
    (
        EDIT_TOOL,
        "Submit the change for one file: a unified diff, or whole content for a new file.",
        EditAnswer,
    ),
    (
        VERIFY_TOOL,
        "Submit the review of the combined diff: approve, or ask for revisions per file.",
        VerifyAnswer,
    ),
)


@cache
def template(name: str) -> Template:
    text = resources.files("tinygen.passes").joinpath(f"{name}.txt").read_text("utf-8")
    return Template(text)


def render(name: str, **values: object) -> str:
    return template(name).substitute({k: str(v) for k, v in values.items()})


@cache
def all_tools() -> tuple[Tool, ...]:
    return tuple(tool_for(kind, name, desc) for name, desc, kind in _TOOL_SPECS)


def warm_up(model: str | None = None) -> None:
    """Import the SDK that ``model`` needs (None: Anthropic's, resolving its default model)
    and build the tool schemas ahead of the first call (run in a thread)."""
    import_sdk(model)
    all_tools()


def tool_named(name: str) -> Tool:
    return next(t for t in all_tools() if t.name == name)


def numbered(text: str) -> str:
    """File text with 1-based line numbers, as the model sees it."""
    lines = text.splitlines()
    width = len(str(len(lines))) if lines else 1
    return "\n".join(f"{i:>{width}}| {line}" for i, line in enumerate(lines, 1))


@dataclass
class RunContext:
    """Everything a pass needs; one per run."""

    provider: Provider
    settings: Settings
    request: Request
    root: Path  # the temporary worktree at the base commit
    repo_paths: frozenset[str]
    sheet_text: str
    record: RunRecorder
    model: str
    progress: Progress = field(default=lambda stage, message: None)
    sheet: Sheet | None = None  # for the brainstorm's lookups (built there when not given)
    usage_total: Usage | None = None
    calls: int = 0
    cancelled: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def system_blocks(self) -> tuple[TextBlock, ...]:
        repository = render(
            "repository",
            sheet=self.sheet_text,
            request=self.request.text,
            source=self.request.source,
        )
        return (TextBlock(render("system")), TextBlock(repository, cache=True))

    def read(self, path: str) -> str | None:
        """Current text of a repository file at the base commit, or None when absent.

        Symlinks are never followed, not even inside the repository: a committed link to
        ``~/.aws/credentials`` must not carry that file to the model, the run record or the
        diff. A link inside the repository can be read through its target's own path.
        """
        if path not in self.repo_paths:
            return None
        expected = self.root.resolve() / path  # the root itself may sit under a symlink
        try:
            real = (self.root / path).resolve(strict=True)
            if real != expected:
                return None  # the path or one of its folders is a symlink
            return real.read_bytes().decode("utf-8", "replace")
        except (OSError, RuntimeError):  # missing, unreadable, or a symlink loop
            return None

    def ask(
        self,
        label: str,
        tool_name: str,
        output_type: type[T],
        blocks: tuple[TextBlock, ...],
        *,
        repair: bool = True,
    ) -> T:
        """One structured call: forced tool ``tool_name``, answer validated into ``output_type``
        (``repair=False``: no correction round, see ``complete_structured``).

        Raises Cancelled instead of starting a call once the run is cancelled, so an
        interrupted run makes no new (paid) requests."""
        return self.ask_turn(label, tool_name, output_type, blocks, repair=repair)[0]

    def ask_turn(
        self,
        label: str,
        tool_name: str,
        output_type: type[T],
        blocks: tuple[TextBlock | ToolResultBlock, ...],
        history: tuple[Message, ...] = (),
        *,
        repair: bool = True,
    ) -> tuple[T, Completion]:
        """As ``ask``, after the earlier turns ``history`` of a conversation; also returns
        the completion whose answer was accepted (to answer its tool call next turn)."""
        if self.cancelled.is_set():
            raise Cancelled(f"{label}: the run was cancelled before this call")

        request = CompletionRequest(
            system=self.system_blocks(),
            messages=(*history, Message("user", blocks)),
            tool=tool_named(tool_name),
            tools=all_tools(),
            max_tokens=self.settings.max_tokens,
            model=self.model,
            label=label,
        )

        def on_call(sent: CompletionRequest, completion: Completion) -> None:
            # Each call as actually sent (a correction round included), with its own cost,
            # recorded even when its answer is then refused.
            self._account(completion)
            cost = cost_usd(self.model, completion.usage)
            self.record.call(
                label, sent, {"completion": completion, "cost_usd": cost}, completion.seconds
            )

        started = time.monotonic()
        try:
            value, completions = complete_structured(
                self.provider, request, output_type, on_call=on_call, repair=repair
            )
        except LLMError as exc:
            self.record.call(label, request, {"error": str(exc)}, time.monotonic() - started)
            raise
        return value, completions[-1]

    def _account(self, completion: Completion) -> None:
        with self._lock:
            self.calls += 1
            self.usage_total = (
                completion.usage
                if self.usage_total is None
                else self.usage_total + completion.usage
            )


def usage_dict(usage: Usage | None) -> dict[str, Any]:
    if usage is None:
        return {
            "input_tokens": 0,
            "output_tokens": 0,
            "cache_read_tokens": 0,
            "cache_write_tokens": 0,
        }
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_read_tokens": usage.cache_read_tokens,
        "cache_write_tokens": usage.cache_write_tokens,
    }
