"""Usage arithmetic, the price table, its override file, and the package's import weight."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import tinygen.llm
from tinygen.errors import ConfigError
from tinygen.llm import PRICES, Price, Usage, cost_usd, load_prices


def test_usage_sums_and_totals() -> None:
    total = Usage(100, 10, 900, 0) + Usage(50, 5, 0, 200)
    assert total == Usage(150, 15, 900, 200)
    assert total.total_input == 1250
    assert total.cache_read_share == pytest.approx(900 / 1250)
    assert Usage().cache_read_share == 0.0
    assert total.to_dict() == {
        "input_tokens": 150,
        "output_tokens": 15,
        "cache_read_tokens": 900,
        "cache_write_tokens": 200,
    }


def test_cost_of_a_sonnet_call() -> None:
    usage = Usage(
        input_tokens=1_000_000,
        output_tokens=100_000,
        cache_read_tokens=2_000_000,
        cache_write_tokens=400_000,
    )
    # $3 input + $1.50 output + 2M x $0.30 cache read + 0.4M x $3.75 cache write
    assert cost_usd("claude-sonnet-4-6", usage) == pytest.approx(3.0 + 1.5 + 0.6 + 1.5)
    assert cost_usd("claude-sonnet-4-5-20250929", usage) == cost_usd("claude-sonnet-4-6", usage)


def test_longest_family_prefix_wins() -> None:
    usage = Usage(input_tokens=1_000_000)
    assert cost_usd("claude-opus-4-1-20250805", usage) == pytest.approx(15.0)
    assert cost_usd("claude-opus-4-5", usage) == pytest.approx(5.0)
    assert cost_usd("claude-haiku-4-5", usage) == pytest.approx(1.0)
    assert cost_usd("claude-3-5-haiku-20241022", usage) == pytest.approx(0.8)


def test_unknown_model_has_no_cost() -> None:
    assert cost_usd("some-other-model", Usage(1000, 1000)) is None


def test_cache_prices_follow_input_price() -> None:
    claude = {k: p for k, p in PRICES.items() if k.startswith("claude")}
    assert claude
    for price in claude.values():
        assert price.cache_write == pytest.approx(price.input * 1.25)
        assert price.cache_read == pytest.approx(price.input * 0.1)
    # OpenAI bills no cache writes (its usage reports none) and discounts cached input.
    for key, price in PRICES.items():
        if key.startswith("gpt-"):
            assert price.cache_write == price.input and 0 < price.cache_read < price.input


def test_prices_file_overrides_and_extends(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "prices.json"
    path.write_text(
        json.dumps(
            {
                "claude-sonnet": {"input": 2, "output": 10},
                "my-model": {"input": 1, "output": 2, "cache_write": 9, "cache_read": 0},
            }
        )
    )
    monkeypatch.setenv("TINYGEN_PRICES_FILE", str(path))
    assert load_prices()["claude-sonnet"] == Price(2.0, 10.0, 2.5, 0.2)
    assert cost_usd("claude-sonnet-4-6", Usage(input_tokens=1_000_000)) == pytest.approx(2.0)
    assert cost_usd("my-model", Usage(cache_write_tokens=1_000_000)) == pytest.approx(9.0)
    assert cost_usd("claude-sonnet-4-6", Usage(input_tokens=1_000_000), PRICES) == pytest.approx(
        3.0
    )


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "not valid JSON"),
        ("[1]", "must hold a JSON object"),
        ('{"m": {"input": 1}}', "at least input and output"),
        ('{"m": {"input": 1, "output": 2, "cached": 3}}', "unknown price field"),
        ('{"m": {"input": "cheap", "output": 2}}', "must be numbers"),
    ],
)
def test_bad_prices_file_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str, expected: str
) -> None:
    path = tmp_path / "prices.json"
    path.write_text(content)
    monkeypatch.setenv("TINYGEN_PRICES_FILE", str(path))
    with pytest.raises(ConfigError, match=expected):
        cost_usd("claude-sonnet-4-6", Usage(1, 1))


def test_missing_prices_file_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TINYGEN_PRICES_FILE", str(tmp_path / "nope.json"))
    with pytest.raises(ConfigError) as info:
        load_prices()
    assert "TINYGEN_PRICES_FILE" in info.value.message and "nope.json" in info.value.message


def test_importing_the_llm_package_loads_no_heavy_library() -> None:
    code = "import sys, tinygen.llm; print([m for m in ('anthropic', 'pydantic', 'httpx', 'httpx2') if m in sys.modules])"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_all_is_complete() -> None:
    import types

    public = {
        name
        for name, value in vars(tinygen.llm).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == set(tinygen.llm.__all__)
