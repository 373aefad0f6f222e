"""Can this model run tinygen's passes? A handful of tiny calls that say so, check by check.

For each model: its key is present, its endpoint answers, the key is accepted, the model
exists, it can be forced to call a tool, a structured answer comes back (and in which
mode), answers stream, and the context it claims is really used — a long prompt with a
marker at its start must come back with the marker, which catches a server that silently
keeps only the end of a prompt (Ollama's default context). Every check says what it saw;
a failed one says how to fix it. The calls' cost is added up (or unknown).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from tinygen.config import Settings
from tinygen.errors import (
    ConfigError,
    LLMAuthError,
    LLMConnectionError,
    LLMContextError,
    LLMCreditsError,
    LLMError,
    LLMNotFoundError,
)
from tinygen.llm.factory import make_provider
from tinygen.llm.names import split_model
from tinygen.llm.openai_errors import ModeRefused
from tinygen.llm.provider import Completion, CompletionRequest, Message, Provider, TextBlock
from tinygen.llm.structured import complete_structured, tool_for
from tinygen.llm.usage import Usage, cost_usd

State = Literal["ok", "warn", "fail", "skip"]
CHECKS = (
    "key",
    "endpoint",
    "auth",
    "model",
    "tool calling",
    "structured output",
    "streaming",
    "context",
)
# What a run sends besides the reference sheet (instructions, plan, file texts), in tokens.
PROMPT_OVERHEAD_TOKENS = 4000
CHARS_PER_TOKEN = 4  # a rough rule; the server's own count is compared at half of it


@dataclass(frozen=True)
class Check:
    name: str
    state: State
    detail: str
    fix: str | None = None


@dataclass
class Diagnosis:
    """Everything doctor found about one model."""

    model: str
    where: str = ""  # the endpoint, in words
    checks: list[Check] = field(default_factory=list)
    calls: int = 0
    usage: Usage = field(default_factory=Usage)
    cost_usd: float | None = 0.0  # of the probe calls; None: unknown
    structured_mode: str | None = None

    @property
    def usable(self) -> bool:
        """No check failed: the model can run tinygen's passes."""
        return all(c.state != "fail" for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "where": self.where,
            "usable": self.usable,
            "structured_mode": self.structured_mode,
            "checks": [
                {"name": c.name, "state": c.state, "detail": c.detail, "fix": c.fix}
                for c in self.checks
            ],
            "calls": self.calls,
            "usage": self.usage.to_dict(),
            "cost_usd": self.cost_usd,
        }


@dataclass
class DoctorAnswer:
    """The doctor's own structured answer (a tiny schema)."""

    answer: int
    unit: str = ""


def _ask(text: str, *, max_tokens: int = 200, tool: Any = None) -> CompletionRequest:
    return CompletionRequest(
        system=(TextBlock("You are being tested by tinygen doctor. Answer briefly."),),
        messages=(Message("user", (TextBlock(text),)),),
        tool=tool,
        max_tokens=max_tokens,
        label="doctor",
    )


class _Probe:
    """One model's checks, in order; later checks are skipped when an earlier one makes
    them meaningless (no key, no endpoint)."""

    def __init__(
        self,
        model: str,
        settings: Settings,
        make: Callable[..., Provider],
        on_check: Callable[[str, Check], None],
        context_tokens: int,
    ) -> None:
        self.model = model
        self.settings = settings.replace(model=model)
        self.make = make
        self.on_check = on_check
        self.context_tokens = context_tokens
        self.diagnosis = Diagnosis(model)
        self.provider_name = split_model(model).provider

    def add(self, name: str, state: State, detail: str, fix: str | None = None) -> None:
        check = Check(name, state, detail, fix)
        self.diagnosis.checks.append(check)
        self.on_check(self.model, check)

    def skip_rest(self, why: str) -> None:
        done = {c.name for c in self.diagnosis.checks}
        for name in CHECKS:
            if name not in done:
                self.add(name, "skip", why)

    def account(self, completion: Completion) -> None:
        d = self.diagnosis
        d.calls += 1
        d.usage = d.usage + completion.usage
        cost = cost_usd(self.model, completion.usage)
        d.cost_usd = None if cost is None or d.cost_usd is None else d.cost_usd + cost

    def provider(self, **kwargs: Any) -> Provider:
        # A broken server should not keep doctor waiting: one retry at most.
        return self.make(self.settings, max_retries=1, **kwargs)

    def run(self) -> Diagnosis:
        try:
            base = self.provider(stream=True)
        except ConfigError as exc:
            self.add("key", "fail", exc.message, exc.hint)
            self.skip_rest("no key")
            return self.diagnosis
        endpoint = getattr(base, "endpoint", None)
        self.diagnosis.where = endpoint.label if endpoint is not None else "the Anthropic API"
        if endpoint is not None and endpoint.key_env is None:
            self.add("key", "ok", "not needed")
        elif endpoint is not None and not endpoint.key_set:
            self.add("key", "ok", f"{endpoint.key_env} not set: sent without a key")
        else:
            self.add("key", "ok", f"{endpoint.key_env if endpoint else 'ANTHROPIC_API_KEY'} set")
        if not self.first_call(base):
            return self.diagnosis
        self.tool_calling()
        self.structured()
        self.context(base)
        return self.diagnosis

    def first_call(self, provider: Provider) -> bool:
        """endpoint, auth, model and streaming from one streamed hello."""
        started = time.monotonic()
        try:
            completion = provider.complete(_ask("Reply with the single word: ready"))
        except LLMConnectionError as exc:
            self.add("endpoint", "fail", exc.message, exc.hint)
            self.skip_rest("endpoint unreachable")
            return False
        except (LLMAuthError, LLMCreditsError) as exc:
            self.add("endpoint", "ok", "answered")
            self.add("auth", "fail", exc.message, exc.hint)
            self.skip_rest("not authorized")
            return False
        except LLMNotFoundError as exc:
            self.add("endpoint", "ok", "answered")
            self.add("auth", "ok", "accepted")
            self.add("model", "fail", exc.message, exc.hint)
            self.skip_rest("no such model")
            return False
        except LLMError as exc:
            self.add("endpoint", "fail", exc.message, exc.hint)
            self.skip_rest("the endpoint failed")
            return False
        self.account(completion)
        self.add("endpoint", "ok", f"answered in {time.monotonic() - started:.2f} s")
        self.add("auth", "ok", "accepted")
        self.add("model", "ok", f"{completion.model} answers")
        if completion.streamed:
            self.add("streaming", "ok", "answers stream")
        else:
            self.add("streaming", "ok", "answers come whole (a streaming request got JSON)")
        return True

    def tool_calling(self) -> None:
        tool = tool_for(DoctorAnswer, "submit_answer", "Submit the answer.")
        request = _ask("What is 2 + 3? Submit the answer with the tool.", tool=tool)
        kwargs: dict[str, Any] = {} if self.provider_name == "anthropic" else {"modes": ("tool",)}
        try:
            completion = self.provider(stream=False, **kwargs).complete(request)
        except LLMError as exc:
            refusal = exc.__cause__
            said = refusal.detail if isinstance(refusal, ModeRefused) else exc.message
            self.add(
                "tool calling",
                "warn",
                f"the server refuses forced tool calls: {said}",
                "tinygen asks for JSON instead (see structured output)",
            )
            return
        self.account(completion)
        if completion.tool_use_id is None:
            self.add(
                "tool calling",
                "warn",
                "the forced tool was ignored (the answer came as text)",
                "tinygen asks for JSON instead (see structured output)",
            )
        else:
            self.add("tool calling", "ok", "forced function calls work")

    def structured(self) -> None:
        tool = tool_for(DoctorAnswer, "submit_answer", "Submit the answer.")
        request = _ask("What is 6 times 7? Answer with the number and the unit 'none'.", tool=tool)
        try:
            value, calls = complete_structured(
                self.provider(stream=False),
                request,
                DoctorAnswer,
                on_call=lambda sent, completion: self.account(completion),
            )
        except LLMError as exc:
            self.add(
                "structured output",
                "fail",
                exc.message,
                "choose a model that can call tools or answer in JSON",
            )
            return
        mode = calls[-1].structured_mode or "tool"
        self.diagnosis.structured_mode = mode
        rounds = f", after {len(calls) - 1} correction(s)" if len(calls) > 1 else ""
        wrong = "" if value.answer == 42 else f" (it said {value.answer}, not 42)"
        self.add("structured output", "ok", f"{mode}{rounds}{wrong}")

    def context(self, provider: Provider) -> None:
        word = f"marker-{secrets.token_hex(3)}"
        lines = self.context_tokens * CHARS_PER_TOKEN // 48
        filler = "\n".join(f"Note {i:05d}: nothing to remember on this line." for i in range(lines))
        text = (
            f"The secret word is {word}. Remember it.\n\n{filler}\n\n"
            "What is the secret word given at the very start of this message? "
            "Answer with the word only."
        )
        expected = len(text) // CHARS_PER_TOKEN
        try:
            completion = provider.complete(_ask(text, max_tokens=200))
        except LLMContextError as exc:
            self.add(
                "context",
                "fail",
                f"a prompt of about {expected} tokens (what a run sends) does not fit: "
                f"{exc.message}",
                "lower `budget`, or use a model (or server setting) with a larger context",
            )
            return
        except LLMError as exc:
            self.add("context", "fail", exc.message, exc.hint)
            return
        self.account(completion)
        counted = completion.usage.total_input
        cut = 0 < counted < expected // 2
        if word in completion.text and not cut:
            self.add("context", "ok", f"a {expected}-token prompt was read from its start")
        elif word not in completion.text and (cut or self.provider_name == "ollama"):
            self.add(
                "context",
                "fail",
                f"the server kept only the end of a {expected}-token prompt: the marker at "
                f"its start was lost (it counted {counted} prompt tokens)",
                self._context_fix(),
            )
        elif cut:
            self.add(
                "context",
                "warn",
                f"the server counted {counted} prompt tokens of about {expected}",
                self._context_fix(),
            )
        else:
            self.add(
                "context",
                "warn",
                f"the model read the whole prompt ({counted} tokens) but did not repeat the "
                "marker at its start: it may miss what comes early in long prompts",
            )

    def _context_fix(self) -> str:
        if self.provider_name == "ollama":
            return (
                "give Ollama a larger context: OLLAMA_CONTEXT_LENGTH=32768 ollama serve "
                "(or PARAMETER num_ctx 32768 in a Modelfile), then run doctor again"
            )
        return (
            "raise the server's context (llama.cpp -c, vLLM --max-model-len, LM Studio's "
            "context length) or lower `budget`"
        )


def diagnose(
    models: list[str],
    settings: Settings,
    *,
    make: Callable[..., Provider] | None = None,
    on_check: Callable[[str, Check], None] | None = None,
    context_tokens: int | None = None,
) -> list[Diagnosis]:
    """Check each model in turn. ``make(settings, **kwargs)`` makes providers (default
    :func:`tinygen.llm.factory.make_provider`); ``context_tokens`` is the long prompt's size
    (default: the ``budget`` setting plus what a run adds around the sheet)."""
    size = context_tokens or settings.budget + PROMPT_OVERHEAD_TOKENS
    report = on_check or (lambda model, check: None)
    out = []
    for model in models:
        try:
            split_model(model)
        except ConfigError as exc:
            diagnosis = Diagnosis(model)
            diagnosis.checks.append(Check("key", "fail", exc.message, exc.hint))
            report(model, diagnosis.checks[-1])
            out.append(diagnosis)
            continue
        out.append(_Probe(model, settings, make or make_provider, report, size).run())
    return out


__all__ = ["CHECKS", "Check", "Diagnosis", "diagnose"]
