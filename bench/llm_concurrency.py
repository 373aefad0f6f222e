"""Concurrency and caching of the LLM layer against the fake Messages API.

Runs N per-file-like calls that share a cached prefix, from N threads, through the real
SDK to the local fake server with a fixed delay per reply. Prints the wall time next to
the serial time (calls x delay) and the share of prompt tokens read from the cache.

    .venv/bin/python bench/llm_concurrency.py [--delay 0.5] [--calls 1 5 20]
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fakes.anthropic_server import FakeAnthropic, ToolReply
from tinygen.llm import (
    AnthropicProvider,
    CompletionRequest,
    Message,
    TextBlock,
    Tool,
    Usage,
)

TOOL = Tool("answer", "d", {"type": "object", "properties": {"n": {"type": "integer"}}})
PREFIX = (TextBlock("system rules\n" * 200), TextBlock("reference sheet line\n" * 2000, cache=True))


def run(calls: int, delay: float, stream: bool) -> tuple[float, Usage]:
    with FakeAnthropic(delay=delay) as fake:
        fake.on("answer", lambda req: ToolReply({"n": len(req.text)}))
        llm = AnthropicProvider(api_key=fake.api_key, base_url=fake.base_url, stream=stream)
        # Warm the cache (and the SDK import) the way a pipeline's earlier pass would.
        warm = CompletionRequest(PREFIX, (Message("user", (TextBlock("warm"),)),), tool=TOOL)
        fake.delay = 0.0
        llm.complete(warm)
        fake.delay = delay

        def one(i: int) -> Usage:
            text = f"file {i}\n" + "its current text\n" * 100
            req = CompletionRequest(PREFIX, (Message("user", (TextBlock(text),)),), tool=TOOL)
            return llm.complete(req).usage

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=calls) as pool:
            usages = list(pool.map(one, range(calls)))
        wall = time.perf_counter() - started
        total = sum(usages, Usage())
        return wall, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=0.5)
    parser.add_argument("--calls", type=int, nargs="+", default=[1, 5, 20])
    args = parser.parse_args()
    print(f"delay per call {args.delay:.2f} s")
    print(
        f"{'mode':5} {'calls':>5} {'wall s':>8} {'serial s':>9} {'wall/serial':>11} {'cache-read share':>17}"
    )
    for stream in (False, True):
        for calls in args.calls:
            wall, usage = run(calls, args.delay, stream)
            serial = calls * args.delay
            mode = "sse" if stream else "json"
            print(
                f"{mode:5} {calls:5d} {wall:8.2f} {serial:9.2f} {wall / serial:11.2f} "
                f"{usage.cache_read_share:16.1%}"
            )


if __name__ == "__main__":
    main()
