"""Making the missing summaries: files concurrently within ``jobs``, each folder once its
children are done, the overview last; every answer stored as it arrives.

What is done is kept whatever stops the build: the store is written every
:data:`SAVE_EVERY` records or :data:`SAVE_SECONDS`, and at the end, also after a refused
call (the cost limit), a failed one, or Ctrl-C. A folder one of whose children could not
be made is not made either (its summary would describe a folder without that part, and
be cached as if complete); the next build makes both.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from tinygen.errors import (
    BudgetExceeded,
    ConfigError,
    LLMAuthError,
    LLMConnectionError,
    LLMCreditsError,
    LLMNotFoundError,
    LLMOverloadedError,
    LLMTimeoutError,
    TinygenError,
)
from tinygen.llm.provider import CompletionRequest, Provider
from tinygen.llm.structured import complete_structured
from tinygen.llm.usage import Usage, cost_usd
from tinygen.sheet.render import shown
from tinygen.sheet.summary_record import SummaryRecord, plain_text
from tinygen.sheet.summary_store import SummaryStore
from tinygen.summarize.plan import Node, Plan, node_prompt, node_request
from tinygen.summarize.prompts import (
    ANSWERS,
    PROMPT_VERSION,
    FileSummary,
    FolderSummary,
)

# Errors every other call would meet as well: the build stops at the first one.
LASTING = (
    LLMAuthError,
    LLMCreditsError,
    LLMNotFoundError,
    LLMConnectionError,
    LLMTimeoutError,
    LLMOverloadedError,
    ConfigError,
)
SAVE_EVERY = 100  # records
SAVE_SECONDS = 10.0
MAX_ENTRY_POINTS = 8

# (done, to make, dollars so far) after each summary made
Progress = Callable[[int, int, float], None]


@dataclass(frozen=True)
class Failure:
    path: str
    error: TinygenError


@dataclass
class Report:
    """What a build did."""

    total: int  # summaries the repository needs
    cached: int  # already there
    made: int = 0
    failures: list[Failure] = field(default_factory=list)
    not_made: int = 0  # left for the next build: stopped, or a child failed
    usage: Usage = field(default_factory=Usage)
    cost_usd: float | None = 0.0
    calls: int = 0
    seconds: float = 0.0
    stopped: BudgetExceeded | None = None  # the cost limit stopped the build
    halted: TinygenError | None = None  # an error every call would meet (key, model) did
    made_paths: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.cached + self.made == self.total

    def line(self) -> str:
        """ "3 of 2,864 summaries refreshed, $0.002"."""
        cost = "cost unknown" if self.cost_usd is None else f"${self.cost_usd:.4g}"
        text = f"{self.made:,} of {self.total:,} summaries refreshed, {cost}"
        if self.failures:
            text += f"; {len(self.failures):,} failed"
        if self.not_made:
            text += f"; {self.not_made:,} left for the next run"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "summaries": self.total,
            "cached": self.cached,
            "made": self.made,
            "failed": [{"path": f.path, "error": str(f.error)} for f in self.failures],
            "not_made": self.not_made,
            "calls": self.calls,
            "usage": self.usage.to_dict(),
            "cost_usd": None if self.cost_usd is None else round(self.cost_usd, 6),
            "seconds": round(self.seconds, 3),
            "stopped_by_max_cost": self.stopped is not None,
            "stopped_by_error": str(self.halted) if self.halted is not None else None,
        }


class _Builder:
    def __init__(
        self,
        plan: Plan,
        provider: Provider,
        store: SummaryStore,
        progress: Progress | None,
    ) -> None:
        self.plan = plan
        self.provider = provider
        self.store = store
        self.progress = progress
        self.lock = threading.Lock()
        self.texts: dict[str, str] = {p: r.text for p, r in plan.cached.items()}
        self.report = Report(total=plan.total, cached=len(plan.cached))
        self.usage = Usage()
        self.stop = threading.Event()
        self.last_save = time.monotonic()

    # -- one summary --------------------------------------------------------------

    def make(self, node: Node) -> SummaryRecord:
        request = node_request(
            node.kind,
            node_prompt(self.plan, node, self.texts),
            label=f"summary:{node.path or '(overview)'}",
        )
        usage = Usage()

        def on_call(_sent: CompletionRequest, completion: Any) -> None:
            nonlocal usage
            usage = usage + completion.usage

        answer_type: type[Any] = ANSWERS[node.kind]
        value, _completions = complete_structured(
            self.provider, request, answer_type, on_call=on_call
        )
        with self.lock:
            self.usage = self.usage + usage
            self.report.calls += len(_completions)
        if isinstance(value, FileSummary):
            text = plain_text(value.purpose)
            named = (plain_text(p, 100) for p in value.entry_points[:MAX_ENTRY_POINTS])
            points = tuple(p for p in named if p)
        elif isinstance(value, FolderSummary):
            text, points = plain_text(value.purpose), ()
        else:
            text, points = plain_text(value.overview, paragraphs=True), ()
        return SummaryRecord(
            kind=node.kind,
            text=text,
            model=self.plan.model,
            prompt=PROMPT_VERSION,
            entry_points=points,
            input_tokens=usage.total_input,
            output_tokens=usage.output_tokens,
            path=shown(node.path),
        )

    # -- the schedule -------------------------------------------------------------

    def run(self, jobs: int) -> Report:
        started = time.monotonic()
        plan = self.plan
        missing = {n.path for n in plan.missing()}
        waiting = {  # folder -> children still to make
            p: sum(1 for c in plan.nodes[p].children if c in missing)
            for p in missing
            if plan.nodes[p].kind != "file"
        }
        parent_of = {c: p for p, n in plan.nodes.items() for c in n.children}
        ready = deque(p for p in plan.order if p in missing and waiting.get(p, 0) == 0)
        blocked: set[str] = set()
        retried: set[str] = set()  # refused by the cost limit once, while others ran
        draining = False  # start nothing until the calls in flight have ended
        running: dict[Future[SummaryRecord], str] = {}
        to_make = len(missing)
        pool = ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="summary")
        try:
            while ready or running:
                draining = draining and bool(running)
                while ready and len(running) < jobs and not self.stop.is_set() and not draining:
                    path = ready.popleft()
                    running[pool.submit(self.make, plan.nodes[path])] = path
                if not running:
                    break
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    path = running.pop(future)
                    try:
                        record = future.result()
                    except BudgetExceeded as exc:
                        if running and path not in retried:
                            # calls in flight hold their worst cases: ask again once
                            # they have settled at their real, smaller cost
                            retried.add(path)
                            ready.appendleft(path)
                            draining = True
                            continue
                        self.report.stopped = self.report.stopped or exc
                        self.stop.set()
                        self._block(path, parent_of, blocked)
                        continue
                    except TinygenError as exc:
                        self.report.failures.append(Failure(path, exc))
                        self._block(path, parent_of, blocked)
                        if isinstance(exc, LASTING):  # every other call would fail too
                            self.report.halted = self.report.halted or exc
                            self.stop.set()
                        continue
                    self.store.put(plan.nodes[path].sha, record)
                    self.texts[path] = record.text
                    self.report.made += 1
                    self.report.made_paths.append(path)
                    parent = parent_of.get(path)
                    if parent is not None and parent in waiting and parent not in blocked:
                        waiting[parent] -= 1
                        if waiting[parent] == 0:
                            ready.append(parent)
                    self._maybe_save()
                    if self.progress is not None:
                        self.progress(self.report.made, to_make, self._cost() or 0.0)
        finally:
            # Ctrl-C or a bug: no new call starts; the calls in flight end; what was made
            # is saved
            self.stop.set()
            pool.shutdown(wait=True, cancel_futures=True)
            self.report.usage = self.usage
            self.report.cost_usd = self._cost()
            self.report.not_made = to_make - self.report.made - len(self.report.failures)
            self.report.seconds = time.monotonic() - started
            self.store.save()
        return self.report

    def _block(self, path: str, parent_of: dict[str, str], blocked: set[str]) -> None:
        parent = parent_of.get(path)
        while parent is not None and parent not in blocked:
            blocked.add(parent)
            parent = parent_of.get(parent)

    def _maybe_save(self) -> None:
        if self.store.unsaved >= SAVE_EVERY or time.monotonic() - self.last_save > SAVE_SECONDS:
            self.store.save()
            self.last_save = time.monotonic()

    def _cost(self) -> float | None:
        if self.usage.empty:
            return 0.0
        return cost_usd(self.plan.model, self.usage)


def build_summaries(
    plan: Plan,
    provider: Provider,
    store: SummaryStore,
    *,
    jobs: int = 4,
    progress: Progress | None = None,
) -> Report:
    """Make the summaries ``plan`` is missing with ``provider`` (see the module docstring)."""
    return _Builder(plan, provider, store, progress).run(jobs)


__all__ = ["Failure", "Progress", "Report", "build_summaries"]
