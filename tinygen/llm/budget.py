"""A hard cost limit: no model call is made that could take the spend past ``max_cost``.

Before each call its *worst case* is reserved: every prompt token priced at the dearest
input rate of the model (plain, cache write or cache read) and the answer at
``max_tokens``. The prompt's tokens are counted from its text at
:data:`CHARS_PER_TOKEN_WORST` characters a token (fewer than any tokenizer we know gives
for code or prose), or at the densest rate a finished call of this run showed, if that is
denser. A call whose worst case does not fit in what is left — the limit minus what was
spent and what calls in flight have reserved — is not made: :class:`BudgetedProvider`
raises :class:`~tinygen.errors.BudgetExceeded` instead, and from then on refuses every
call, so the run stops. When a call returns, its reservation is replaced by its real cost.
Concurrent calls (per-file edits, samples) reserve under one lock, so together they stay
inside the limit too. A call that fails keeps its worst case as spent: it may have been
billed, and its usage is not known.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass

from tinygen.errors import BudgetExceeded, ConfigError
from tinygen.llm.provider import (
    Completion,
    CompletionRequest,
    Provider,
    TextBlock,
    ToolResultBlock,
    ToolUseBlock,
)
from tinygen.llm.usage import Price, Usage, cost_usd, load_prices

CHARS_PER_TOKEN_WORST = 2.5  # characters a prompt token stands for, at the least
REQUEST_OVERHEAD_TOKENS = 64  # roles, tool-choice and framing the API adds to a request


def request_chars(request: CompletionRequest) -> int:
    """Characters of everything a request sends the model: system, messages, tool schemas."""
    total = sum(len(block.text) for block in request.system)
    for message in request.messages:
        for block in message.content:
            if isinstance(block, TextBlock):
                total += len(block.text)
            elif isinstance(block, ToolResultBlock):
                total += len(block.content)
            elif isinstance(block, ToolUseBlock):
                total += len(json.dumps(block.input))
    for tool in (*request.tools, *([request.tool] if request.tool else [])):
        total += len(tool.name) + len(tool.description) + len(json.dumps(tool.input_schema))
    return total


def dearest_input(price: Price) -> float:
    return max(price.input, price.cache_write, price.cache_read)


@dataclass
class Spend:
    """What the budget saw: dollars spent, reserved now, and calls refused."""

    spent: float = 0.0
    reserved: float = 0.0
    refused: int = 0


class Budget:
    """The cost limit of one run (see the module docstring). Thread-safe."""

    def __init__(
        self,
        limit: float,
        model: str,
        prices: Mapping[str, Price] | None = None,
        *,
        latch: bool = True,
    ) -> None:
        self.limit = limit
        # latch: the first refusal refuses every later call (a run stops there); without
        # it a call refused while others held reservations may be asked again once they
        # settled (the summaries build does)
        self.latch = latch
        self.model = model
        self.prices = dict(load_prices() if prices is None else prices)
        self.exhausted = False
        self.refusal: BudgetExceeded | None = None  # the first call refused
        self._spend = Spend()
        self._tokens_per_char = 1.0 / CHARS_PER_TOKEN_WORST
        self._lock = threading.Lock()
        if cost_usd(model, Usage(input_tokens=1), self.prices) is None:
            raise ConfigError(
                f"`max_cost` needs the price of {model}, and the price table has none",
                hint="add the model to a prices file named by TINYGEN_PRICES_FILE "
                '(e.g. {"' + model + '": {"input": 3, "output": 15}}), or unset `max_cost`',
                settings=("max_cost", "model"),
            )

    @property
    def spent(self) -> float:
        with self._lock:
            return self._spend.spent

    @property
    def refused(self) -> int:
        with self._lock:
            return self._spend.refused

    def charge(self, dollars: float) -> None:
        """Count money spent outside this budget's calls (a run's summaries) as spent."""
        with self._lock:
            self._spend.spent += max(0.0, dollars)

    def worst_case(self, request: CompletionRequest) -> float:
        """The most ``request`` can cost (see the module docstring)."""
        model = request.model or self.model
        chars = request_chars(request)
        tokens = math.ceil(chars * self._tokens_per_char) + REQUEST_OVERHEAD_TOKENS
        costs = [
            cost_usd(model, usage, self.prices)
            for usage in (
                Usage(input_tokens=tokens, output_tokens=request.max_tokens),
                Usage(cache_write_tokens=tokens, output_tokens=request.max_tokens),
                Usage(cache_read_tokens=tokens, output_tokens=request.max_tokens),
            )
        ]
        known = [c for c in costs if c is not None]
        if not known:
            raise ConfigError(f"`max_cost` needs the price of {model}", settings=("max_cost",))
        return max(known)

    def reserve(self, request: CompletionRequest) -> float:
        """Reserve the request's worst case, or raise BudgetExceeded (and refuse from now on)."""
        needed = self.worst_case(request)
        with self._lock:
            left = self.limit - self._spend.spent - self._spend.reserved
            if (self.exhausted and self.latch) or needed > left:
                self.exhausted = True
                self._spend.refused += 1
                spent, reserved = self._spend.spent, self._spend.reserved
            else:
                self._spend.reserved += needed
                return needed
        held = f" (and up to ${reserved:.4f} held by calls in flight)" if reserved else ""
        refusal = BudgetExceeded(
            f"the cost limit of ${self.limit:.4f} is reached: ${spent:.4f} spent{held}, and the "
            f"next call ({request.label or 'a model call'}) could cost up to ${needed:.4f}",
            limit=self.limit,
            spent=spent,
            needed=needed,
        )
        with self._lock:
            self.refusal = self.refusal or refusal
        raise refusal

    def settle(self, reserved: float, request: CompletionRequest, usage: Usage | None) -> None:
        """Replace a reservation by the call's real cost. ``usage`` None: the call failed,
        and may still have been billed (a stream cut short), so its worst case counts."""
        model = request.model or self.model
        cost = cost_usd(model, usage, self.prices) if usage is not None else reserved
        with self._lock:
            self._spend.reserved = max(0.0, self._spend.reserved - reserved)
            self._spend.spent += cost or 0.0
            if usage is not None and usage.total_input:
                # a tokenizer denser than assumed: later worst cases use its rate
                seen = usage.total_input / max(1, request_chars(request))
                self._tokens_per_char = max(self._tokens_per_char, seen * 1.1)


class BudgetedProvider:
    """A :class:`~tinygen.llm.Provider` that makes a call only when its worst case fits the
    :class:`Budget` (see the module docstring)."""

    def __init__(self, provider: Provider, budget: Budget) -> None:
        self.provider = provider
        self.budget = budget

    def complete(self, request: CompletionRequest) -> Completion:
        reserved = self.budget.reserve(request)
        try:
            completion = self.provider.complete(request)
        except BaseException:
            self.budget.settle(reserved, request, None)
            raise
        self.budget.settle(reserved, request, completion.usage)
        return completion


__all__ = [
    "CHARS_PER_TOKEN_WORST",
    "REQUEST_OVERHEAD_TOKENS",
    "Budget",
    "BudgetedProvider",
    "Spend",
    "dearest_input",
    "request_chars",
]
