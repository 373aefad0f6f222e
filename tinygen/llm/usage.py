"""Token usage per call and its cost: stated by the provider, or from a price table.

Where the cost comes from, first match wins:

1. the provider stated it (:attr:`Usage.cost_usd`): OpenRouter's ``usage.cost``, or 0 for
   Ollama, whose tokens cost nothing;
2. the price table, by the longest key the model name starts with — the whole name first
   (``openrouter:qwen/qwen3-coder`` can be priced by a key of that name), then, for
   ``anthropic:`` and ``openai:``, the name without its prefix, so
   ``claude-sonnet-4-5-20250929`` uses ``claude-sonnet``;
3. otherwise the cost is unknown (None): never a guessed figure.

Prices are US dollars per million tokens, as the providers publish them. Cache writes
cost 1.25x input and cache reads 0.1x input unless an entry says otherwise (OpenAI bills
no cache writes: its usage reports none).

Override or extend the table with a JSON file named by ``TINYGEN_PRICES_FILE``::

    {"claude-sonnet": {"input": 3, "output": 15},
     "claude-opus-4-8": {"input": 5, "output": 25, "cache_write": 6.25, "cache_read": 0.5},
     "openai:my-vllm-model": {"input": 0, "output": 0}}
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tinygen import safejson
from tinygen.errors import ConfigError, InputError
from tinygen.inputs import read_file

PRICES_FILE_ENV = "TINYGEN_PRICES_FILE"


@dataclass
class Usage:
    """Tokens of one call (or a sum of calls). ``input_tokens`` excludes cached tokens,
    as in the API's usage: the whole prompt is :attr:`total_input`.

    ``cost_usd`` is the cost the provider stated (None: price it from the table). A sum
    keeps it only when every part has one, so one unstated call makes the total unstated.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float | None = None

    def __add__(self, other: Usage) -> Usage:
        if self.empty:
            return other
        if other.empty:
            return self
        stated = (
            self.cost_usd + other.cost_usd
            if self.cost_usd is not None and other.cost_usd is not None
            else None
        )
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
            stated,
        )

    @property
    def empty(self) -> bool:
        """No tokens and no stated cost: the neutral element of ``+``."""
        return self.cost_usd is None and not (
            self.input_tokens or self.output_tokens or self.cache_read_tokens
            or self.cache_write_tokens
        )  # fmt: skip

    @property
    def total_input(self) -> int:
        return self.input_tokens + self.cache_read_tokens + self.cache_write_tokens

    @property
    def cache_read_share(self) -> float:
        """Share of all prompt tokens that were read from the cache (0.0 when none)."""
        total = self.total_input
        return self.cache_read_tokens / total if total else 0.0

    def to_dict(self) -> dict[str, int]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_write_tokens": self.cache_write_tokens,
        }


@dataclass(frozen=True)
class Price:
    """US dollars per million tokens."""

    input: float
    output: float
    cache_write: float
    cache_read: float

    @classmethod
    def of(cls, input: float, output: float) -> Price:
        return cls(input, output, cache_write=input * 1.25, cache_read=input * 0.1)


# Published list prices. Newer models of a family are priced like the family's entry
# until this table (or TINYGEN_PRICES_FILE) says otherwise; unknown families get no price.
PRICES: Mapping[str, Price] = {
    "claude-opus": Price.of(5.0, 25.0),  # Opus 4.5 and later
    "claude-opus-4-0": Price.of(15.0, 75.0),
    "claude-opus-4-1": Price.of(15.0, 75.0),
    "claude-opus-4-2025": Price.of(15.0, 75.0),  # claude-opus-4-20250514
    "claude-sonnet": Price.of(3.0, 15.0),
    "claude-haiku": Price.of(1.0, 5.0),  # Haiku 4.5 and later
    "claude-3-7-sonnet": Price.of(3.0, 15.0),
    "claude-3-5-sonnet": Price.of(3.0, 15.0),
    "claude-3-5-haiku": Price.of(0.8, 4.0),
    "claude-3-haiku": Price.of(0.25, 1.25),
    "claude-3-opus": Price.of(15.0, 75.0),
    # OpenAI (openai:NAME). Cached input is billed at the share OpenAI publishes per family.
    "gpt-4o": Price(2.5, 10.0, cache_write=2.5, cache_read=1.25),
    "gpt-4o-mini": Price(0.15, 0.6, cache_write=0.15, cache_read=0.075),
    "gpt-4.1": Price(2.0, 8.0, cache_write=2.0, cache_read=0.5),
    "gpt-4.1-mini": Price(0.4, 1.6, cache_write=0.4, cache_read=0.1),
    "gpt-4.1-nano": Price(0.1, 0.4, cache_write=0.1, cache_read=0.025),
    "gpt-5": Price(1.25, 10.0, cache_write=1.25, cache_read=0.125),
    "gpt-5-mini": Price(0.25, 2.0, cache_write=0.25, cache_read=0.025),
    "gpt-5-nano": Price(0.05, 0.4, cache_write=0.05, cache_read=0.005),
}


def _price_from_json(key: str, value: Any, source: str) -> Price:
    if not isinstance(value, dict) or not {"input", "output"} <= value.keys():
        raise ConfigError(
            f"{source}: price for {key!r} must be an object with at least input and output",
            hint='e.g. {"claude-sonnet": {"input": 3, "output": 15}}',
        )
    unknown = value.keys() - {"input", "output", "cache_write", "cache_read"}
    if unknown:
        raise ConfigError(
            f"{source}: unknown price field(s) {sorted(unknown)} for {key!r}",
            hint="fields: input, output, cache_write, cache_read (USD per million tokens)",
        )
    try:
        numbers = {k: float(v) for k, v in value.items()}
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: prices for {key!r} must be numbers") from exc
    base = Price.of(numbers["input"], numbers["output"])
    return Price(
        base.input,
        base.output,
        numbers.get("cache_write", base.cache_write),
        numbers.get("cache_read", base.cache_read),
    )


def load_prices(env: Mapping[str, str] | None = None) -> dict[str, Price]:
    """The built-in table, updated from the ``TINYGEN_PRICES_FILE`` JSON file if set."""
    env = os.environ if env is None else env
    table = dict(PRICES)
    name = env.get(PRICES_FILE_ENV)
    if not name:
        return table
    path = Path(name)
    try:
        data = safejson.loads(read_file(path, 1_000_000, str(path)), str(path))
    except OSError as exc:
        raise ConfigError(
            f"{PRICES_FILE_ENV}: cannot read {path}: {exc.strerror}",
            hint=f"point {PRICES_FILE_ENV} at a readable JSON file or unset it",
        ) from exc
    except InputError as exc:
        raise ConfigError(f"{PRICES_FILE_ENV}: {exc.message}") from exc
    except ValueError as exc:  # not JSON, not UTF-8
        raise ConfigError(f"{PRICES_FILE_ENV}: {path} is not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{PRICES_FILE_ENV}: {path} must hold a JSON object of model -> price")
    for key, value in data.items():
        table[str(key)] = _price_from_json(str(key), value, str(path))
    return table


def price_for(model: str, prices: Mapping[str, Price]) -> Price | None:
    """The entry with the longest key that ``model`` starts with — not followed by a dot,
    since ``gpt-5.2`` is another model than ``gpt-5``, at another price."""
    matches = [
        key for key in prices if model.startswith(key) and not model[len(key) :].startswith(".")
    ]
    return prices[max(matches, key=len)] if matches else None


def cost_usd(model: str, usage: Usage, prices: Mapping[str, Price] | None = None) -> float | None:
    """Cost of ``usage`` on ``model`` in US dollars: the stated cost, else the table's;
    ``None`` when neither knows it (see the module docstring)."""
    if usage.cost_usd is not None:
        return usage.cost_usd
    table = load_prices() if prices is None else prices
    price = price_for(model, table)
    if price is None:
        prefix, colon, bare = model.partition(":")
        if colon and prefix == "ollama":
            return 0.0  # a local server
        if colon and prefix in ("anthropic", "openai"):
            price = price_for(bare, table)
    if price is None:
        return None
    return (
        usage.input_tokens * price.input
        + usage.output_tokens * price.output
        + usage.cache_write_tokens * price.cache_write
        + usage.cache_read_tokens * price.cache_read
    ) / 1_000_000


__all__ = [
    "PRICES",
    "PRICES_FILE_ENV",
    "Price",
    "Usage",
    "cost_usd",
    "load_prices",
    "price_for",
]
