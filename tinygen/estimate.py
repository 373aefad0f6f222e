"""What a run will cost, projected before any model call (``tinygen run --estimate``).

The projection is computed from measured sizes — the real reference sheet and request (the
cached prompt prefix, with the tool schemas), the passes' prompt texts, the files the
change is likely to edit — and from the settings (``vote``, ``max_samples``,
``max_rounds``, ``lookup_rounds``, ``jobs``) and the price table. Tokens are counted at
:data:`CHARS_PER_TOKEN` characters a token, the middle of the 3.5-4 that BPE tokenizers
typically give on ASCII source code (the sheet's own budget counts 3, to stay inside it).

How many files the plan will touch is not known before the plan exists, so it is a range
(see :func:`file_range`): the files the request names, or that define or use an
identifier it writes as code; without any, 1 to 5 files. Three scenarios are priced:

- *low*: the fewest files, one sample per file (``vote`` samples with voting), no lookups,
  one review round;
- *expected*: the expected files, one sample per file (with voting: the expected
  samples of first-to-ahead-by-``vote`` at :data:`ASSUMED_P` agreement), one review round;
- *high*: the most files, every try (``max_samples`` with voting, three placement tries
  without), every lookup round and every review round revising every file.

Answers are assumed short: a plan of 40 tokens plus, per file, its path, a one-sentence
intent (:data:`INTENT_TOKENS`) and the JSON around them; an edit of 40 tokens plus a tenth
of the file; a review of 80 tokens. The plan block the per-file calls share is the plan's
text: title, summary, and per file its path and intent. The prompt cache is counted as the API does:
the first call writes the prefix, later calls read it; the plan block is written by the
first wave of concurrent per-file calls (``jobs`` of them) and read by the rest, and
written again by each review (another forced tool invalidates cached message blocks).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tinygen.llm.usage import Price, Usage, cost_usd, load_prices
from tinygen.llm.vote import expected_samples
from tinygen.sheet.rank import code_tokens

if TYPE_CHECKING:
    from tinygen.sheet import Sheet

CHARS_PER_TOKEN = 3.75
ASSUMED_P = 0.8  # the share of samples assumed to agree on the right outcome
UNVOTED_TRIES = 3  # placement tries per file without voting (the edit pass's MAX_TRIES)
DEFAULT_FILES = (1, 2, 5)  # low, expected, high when the request names nothing
MAX_FILES = 60  # the brainstorm pass plans at most this many files

PLAN_TOKENS = 40  # title and summary
INTENT_TOKENS = 25  # a planned file's intent: one sentence
PLAN_LINE_TOKENS = 4  # "- modify PATH: " around a file's path and intent in the plan block
PLAN_JSON_TOKENS = 12  # the JSON keys and quotes around a planned file in the plan answer
EDIT_TOKENS = 40
EDIT_SHARE = 0.1  # of the file's tokens, added to an edit answer
REVIEW_TOKENS = 80


def tokens(chars: float) -> int:
    return math.ceil(chars / CHARS_PER_TOKEN)


@dataclass(frozen=True)
class FileRange:
    """How many files the plan is expected to touch, and how that was guessed."""

    low: int
    expected: int
    high: int
    how: str
    sizes: tuple[int, ...] = ()  # characters of the likely files, likeliest first
    path_chars: float = 20.0  # the mean length of their paths

    def mean_chars(self, n: int) -> float:
        sizes = self.sizes[:n] or (1500,)  # nothing to go on: a small module
        return sum(sizes) / len(sizes)


def file_range(
    named: Sequence[str], defining: Sequence[str], using: Sequence[str], sizes: Mapping[str, int]
) -> FileRange:
    """The range from the files a request names and the files that define or use the
    identifiers it writes as code (see the module docstring)."""
    likely = list(dict.fromkeys([*named, *defining, *using]))
    if not likely:
        low, expected, high = DEFAULT_FILES
        return FileRange(low, expected, high, "the request names no file or identifier")
    expected = min(MAX_FILES, len(likely))
    low = max(1, min(expected, len(named) or 1))
    high = min(MAX_FILES, max(expected + 2, 2 * expected))
    how = (
        f"{len(named)} named by the request, {len(defining)} defining and {len(using)} "
        "using identifiers it names"
    )
    path_chars = sum(len(p) for p in likely) / len(likely)
    return FileRange(low, expected, high, how, tuple(sizes.get(p, 0) for p in likely), path_chars)


def likely_files(sheet: Sheet, request: str) -> FileRange:
    """:func:`file_range` for ``request`` on ``sheet``: the files it names, and those whose
    definitions or references include an identifier it writes as code."""
    idents = set(code_tokens(request))
    named = [p for p in sheet.mentioned if p in sheet.paths]
    defining: list[str] = []
    using: list[str] = []
    if idents:
        for entry in sheet.files:
            if idents.intersection(entry.defs.split()):
                defining.append(entry.path)
            elif idents.intersection(entry.refs.split()):
                using.append(entry.path)
    sizes = {entry.path: entry.size for entry in sheet.files}
    return file_range(named, defining, using, sizes)


@dataclass(frozen=True)
class PromptSizes:
    """Characters of what the passes send (measured on the run's real texts)."""

    prefix: int  # tool schemas, system prompt, sheet and request: the cached prefix
    brainstorm: int  # the brainstorm's message: its prompt and the files the request names
    edit: int  # the edit prompt without the file
    verify: int  # the review prompt without the diff
    plan: int  # the plan block without its files


@dataclass(frozen=True)
class PassEstimate:
    name: str
    calls: int
    usage: Usage
    cost_usd: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"pass": self.name, "calls": self.calls, **self.usage.to_dict()} | {
            "cost_usd": _round(self.cost_usd)
        }


@dataclass(frozen=True)
class Scenario:
    files: int
    samples: int  # per file (and per review)
    review_samples: int
    rounds: int
    lookup_calls: int


@dataclass(frozen=True)
class Estimate:
    """The projected calls, tokens and cost of each pass (expected scenario), and the cost
    of the low and high scenarios (see the module docstring)."""

    model: str
    files: FileRange
    passes: tuple[PassEstimate, ...]
    cost_low: float | None
    cost_high: float | None
    assumptions: dict[str, Any] = field(default_factory=dict)

    @property
    def calls(self) -> int:
        return sum(p.calls for p in self.passes)

    @property
    def usage(self) -> Usage:
        total = Usage()
        for p in self.passes:
            total = total + p.usage
        return total

    @property
    def cost_usd(self) -> float | None:
        costs = [p.cost_usd for p in self.passes]
        return None if any(c is None for c in costs) else sum(c or 0.0 for c in costs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "files": {
                "low": self.files.low,
                "expected": self.files.expected,
                "high": self.files.high,
                "how": self.files.how,
            },
            "passes": [p.to_dict() for p in self.passes],
            "calls": self.calls,
            "usage": self.usage.to_dict(),
            "cost_usd": _round(self.cost_usd),
            "cost_low_usd": _round(self.cost_low),
            "cost_high_usd": _round(self.cost_high),
            "assumptions": dict(self.assumptions),
        }


def _round(value: float | None) -> float | None:
    return round(value, 6) if value is not None else None


@dataclass(frozen=True)
class Knobs:
    """The settings the projection depends on."""

    vote: int = 0
    max_samples: int = 8
    max_rounds: int = 2
    lookup_rounds: int = 3
    lookup_tokens: int = 12000
    jobs: int = 4


def project(
    model: str,
    sizes: PromptSizes,
    files: FileRange,
    knobs: Knobs,
    prices: Mapping[str, Price] | None = None,
) -> Estimate:
    """The estimate for ``model`` (see the module docstring)."""
    table = dict(load_prices() if prices is None else prices)
    samples = (
        max(knobs.vote, min(knobs.max_samples, round(expected_samples(ASSUMED_P, knobs.vote))))
        if knobs.vote
        else 1
    )
    reviews = 1 if knobs.max_rounds else 0
    expected = Scenario(files.expected, samples, samples, reviews, 0)
    low = Scenario(files.low, knobs.vote or 1, knobs.vote or 1, reviews, 0)
    high = Scenario(
        files.high,
        knobs.max_samples if knobs.vote else UNVOTED_TRIES,
        knobs.max_samples if knobs.vote else 1,
        knobs.max_rounds,
        knobs.lookup_rounds,
    )
    passes = _passes(model, sizes, files, knobs, expected, table)

    def total(scenario: Scenario) -> float | None:
        costs = [p.cost_usd for p in _passes(model, sizes, files, knobs, scenario, table)]
        return None if any(c is None for c in costs) else sum(c or 0.0 for c in costs)

    assumptions = {
        "chars_per_token": CHARS_PER_TOKEN,
        "samples_per_file": samples,
        "review_rounds": reviews,
        "agreement": ASSUMED_P if knobs.vote else None,
    }
    return Estimate(model, files, passes, total(low), total(high), assumptions)


def _passes(
    model: str,
    sizes: PromptSizes,
    files: FileRange,
    knobs: Knobs,
    s: Scenario,
    prices: Mapping[str, Price],
) -> tuple[PassEstimate, ...]:
    prefix = tokens(sizes.prefix)
    planned = tokens(files.path_chars) + INTENT_TOKENS  # one file's path and intent
    plan_out = PLAN_TOKENS + s.files * (planned + PLAN_JSON_TOKENS)
    # brainstorm: the first call writes the prefix; lookup rounds read it, with the
    # conversation so far (and a share of the lookup results) as plain input
    brainstorm = Usage(tokens(sizes.brainstorm), plan_out, 0, prefix)
    for i in range(1, s.lookup_calls + 1):
        history = tokens(sizes.brainstorm) + knobs.lookup_tokens * i // s.lookup_calls
        brainstorm = brainstorm + Usage(history + PLAN_TOKENS * i, PLAN_TOKENS, prefix, 0)
    file_tokens = tokens(files.mean_chars(s.files) * 1.15)  # with line numbers
    edit_out = EDIT_TOKENS + math.ceil(EDIT_SHARE * file_tokens)
    plan_block = tokens(sizes.plan) + PLAN_TOKENS + s.files * (planned + PLAN_LINE_TOKENS)
    edit_calls = review_calls = 0
    edit = review = Usage()
    for round_no in range(max(1, s.rounds)):
        calls = s.files * s.samples
        writers = min(calls, knobs.jobs) if round_no == 0 else 0
        edit = edit + Usage(
            calls * (tokens(sizes.edit) + file_tokens),
            calls * edit_out,
            calls * prefix + (calls - writers) * plan_block,
            writers * plan_block,
        )
        edit_calls += calls
        if round_no < s.rounds:
            diff = s.files * edit_out * 2  # removed and added lines, with context
            n = s.review_samples
            review = review + Usage(
                n * (tokens(sizes.verify) + diff), n * REVIEW_TOKENS, n * prefix, n * plan_block
            )
            review_calls += n
    out = [
        PassEstimate(
            "brainstorm", 1 + s.lookup_calls, brainstorm, cost_usd(model, brainstorm, prices)
        ),
        PassEstimate("edit", edit_calls, edit, cost_usd(model, edit, prices)),
    ]
    if review_calls:
        out.append(PassEstimate("verify", review_calls, review, cost_usd(model, review, prices)))
    return tuple(out)


__all__ = [
    "ASSUMED_P",
    "CHARS_PER_TOKEN",
    "Estimate",
    "FileRange",
    "Knobs",
    "PassEstimate",
    "PromptSizes",
    "file_range",
    "likely_files",
    "project",
    "tokens",
]
