"""The cost limit (tinygen.llm.budget): worst cases, reservations, refusals, and that
concurrent calls together never pass the limit."""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tinygen.errors import BudgetExceeded, ConfigError, LLMOverloadedError
from tinygen.llm import CompletionRequest, Message, Price, TextBlock, Usage, cost_usd
from tinygen.llm.budget import (
    CHARS_PER_TOKEN_WORST,
    Budget,
    BudgetedProvider,
    request_chars,
)
from tinygen.testing import Answer, ScriptedProvider

MODEL = "test-model"
PRICES = {MODEL: Price(input=10.0, output=50.0, cache_write=12.5, cache_read=1.0)}


def request(
    chars: int = 1000, max_tokens: int = 100, label: str = "edit:a.py"
) -> CompletionRequest:
    return CompletionRequest(
        system=(TextBlock("s" * (chars // 2)),),
        messages=(Message("user", (TextBlock("u" * (chars - chars // 2)),)),),
        max_tokens=max_tokens,
        model=MODEL,
        label=label,
    )


def test_the_worst_case_prices_every_prompt_token_at_the_dearest_rate() -> None:
    budget = Budget(1.0, MODEL, PRICES)
    req = request(chars=1000, max_tokens=100)
    assert request_chars(req) == 1000
    tokens = -(-1000 // CHARS_PER_TOKEN_WORST) + 64  # ceil, plus the request's framing
    worst = (tokens * 12.5 + 100 * 50.0) / 1_000_000
    assert budget.worst_case(req) == pytest.approx(worst)


def test_calls_are_made_while_their_worst_case_fits_then_refused_for_good() -> None:
    provider = ScriptedProvider(model=MODEL)
    cheap = Usage(input_tokens=10, output_tokens=5)
    provider.respond(lambda r: Answer.say("ok", usage=cheap))
    budget = Budget(0.05, MODEL, PRICES)
    guarded = BudgetedProvider(provider, budget)
    one = budget.worst_case(request())
    made = 0
    with pytest.raises(BudgetExceeded) as info:
        while True:
            guarded.complete(request())
            made += 1
    assert made == len(provider.history) >= 1  # the refused call never reached the provider
    assert budget.spent == pytest.approx(made * cost_usd(MODEL, cheap, PRICES))
    assert budget.spent + one > 0.05  # refused because the worst case did not fit
    err = info.value
    assert (err.limit, err.needed) == (0.05, pytest.approx(one))
    assert err.exit_code == 11 and err.settings == ("max_cost",)
    # refused from now on, even a call that would fit
    with pytest.raises(BudgetExceeded):
        guarded.complete(request(chars=10, max_tokens=1))
    assert budget.refusal is err and budget.refused == 2


def test_a_failed_call_keeps_its_worst_case_as_spent() -> None:
    provider = ScriptedProvider(LLMOverloadedError("overloaded"), model=MODEL)
    budget = Budget(1.0, MODEL, PRICES)
    with pytest.raises(LLMOverloadedError):
        BudgetedProvider(provider, budget).complete(request())
    assert budget.spent == pytest.approx(budget.worst_case(request()))


def test_a_denser_tokenizer_than_assumed_raises_later_worst_cases() -> None:
    provider = ScriptedProvider(model=MODEL)
    provider.respond(lambda r: Answer.say("ok", usage=Usage(input_tokens=1000, output_tokens=1)))
    budget = Budget(10.0, MODEL, PRICES)
    before = budget.worst_case(request(chars=1000))
    BudgetedProvider(provider, budget).complete(request(chars=1000))  # 1 token a character
    after = budget.worst_case(request(chars=1000))
    assert after == pytest.approx(((1100 + 64) * 12.5 + 100 * 50.0) / 1_000_000)  # 1.1 a char
    assert after > before


def test_concurrent_calls_together_stay_inside_the_limit() -> None:
    barrier = threading.Barrier(8, timeout=5)
    provider = ScriptedProvider(model=MODEL)

    def slow(req: CompletionRequest) -> Answer:
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait()  # hold the calls that were let through until all threads asked
        return Answer.say("ok", usage=Usage(input_tokens=400, output_tokens=100))

    provider.respond(slow)
    limit = 0.04
    budget = Budget(limit, MODEL, PRICES)
    guarded = BudgetedProvider(provider, budget)

    def call() -> bool:
        try:
            guarded.complete(request())
        except BudgetExceeded:
            barrier.abort()
            return False
        return True

    with ThreadPoolExecutor(8) as pool:
        made = sum(pool.map(lambda _: call(), range(8)))
    assert 0 < made < 8
    assert budget.spent <= limit
    assert made * budget.worst_case(request()) <= limit


def test_a_model_without_a_price_cannot_have_a_cost_limit() -> None:
    with pytest.raises(ConfigError) as info:
        Budget(1.0, "mystery-model", PRICES)
    assert "TINYGEN_PRICES_FILE" in (info.value.hint or "")
    assert "max_cost" in info.value.settings


def test_local_models_cost_nothing() -> None:
    budget = Budget(0.000001, "ollama:qwen3", PRICES)
    local = CompletionRequest(system=(), messages=request().messages, max_tokens=1000)
    assert budget.worst_case(local) == 0.0
    budget.reserve(local)  # fits any limit
