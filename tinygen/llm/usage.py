"""Token usage per call and its cost from a price table per model family.

Prices are US dollars per million tokens, as Anthropic publishes them. A model is priced
by the longest table key its name starts with, so ``claude-sonnet-4-5-20250929`` uses
``claude-sonnet``. Cache writes (5-minute TTL) cost 1.25x input and cache reads 0.1x
input unless an entry says otherwise.

Override or extend the table with a JSON file named by ``TINYGEN_PRICES_FILE``::

    {"claude-sonnet": {"input": 3, "output": 15},
     "claude-opus-4-8": {"input": 5, "output": 25, "cache_write": 6.25, "cache_read": 0.5}}
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tinygen.errors import ConfigError

PRICES_FILE_ENV = "TINYGEN_PRICES_FILE"


@dataclass
class Usage:
    """Tokens of one call (or a sum of calls). ``input_tokens`` excludes cached tokens,
    as in the API's usage: the whole prompt is :attr:`total_input`."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
        )

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
        data = json.loads(path.read_text("utf-8"))
    except OSError as exc:
        raise ConfigError(
            f"{PRICES_FILE_ENV}: cannot read {path}: {exc.strerror}",
            hint=f"point {PRICES_FILE_ENV} at a readable JSON file or unset it",
        ) from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{PRICES_FILE_ENV}: {path} is not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{PRICES_FILE_ENV}: {path} must hold a JSON object of model -> price")
    for key, value in data.items():
        table[str(key)] = _price_from_json(str(key), value, str(path))
    return table


def price_for(model: str, prices: Mapping[str, Price]) -> Price | None:
    """The entry with the longest key that ``model`` starts with."""
    matches = [key for key in prices if model == key or model.startswith(key)]
    return prices[max(matches, key=len)] if matches else None


def cost_usd(model: str, usage: Usage, prices: Mapping[str, Price] | None = None) -> float | None:
    """Cost of ``usage`` on ``model`` in US dollars; ``None`` when the model has no price."""
    price = price_for(model, load_prices() if prices is None else prices)
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
