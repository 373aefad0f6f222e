"""Benchmark: `tinygen compare` over 3 scripted models, and the `openai` import on its own.

1. Three models, each behind its own fake server (the ones the tests use) with its own
   delay per call — Anthropic, OpenRouter, Ollama — compared on one repository. Prints the
   comparison's wall time next to each model's own seconds, their sum (what running them
   one after another costs) and the slowest (the target: about that). The same comparison
   with --parallel 1 is the serial baseline, measured in the same run.
2. Start-up cost of a non-Anthropic run: fresh interpreters importing nothing, ``openai``,
   ``pydantic`` + ``httpx2`` (which any run loads: structured answers), and ``anthropic``;
   best of N each. The target: ``openai`` adds at most 0.3 s.

    python bench/bench_compare.py [--delays 0.2 0.5 1.0] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_pipeline import make_repo
from tests.fakes.anthropic_server import FakeAnthropic, RecordedRequest, ToolReply
from tests.fakes.openai_server import FakeOpenAI

MODELS = ("claude-sonnet-4-6", "openrouter:qwen/qwen3-coder", "ollama:qwen3:8b")
FILES = 3


def script(fake: FakeAnthropic | FakeOpenAI) -> None:
    """Rename old_name to new_name in core and the user modules (FILES + 1 files)."""
    paths = ["pkg/core.py", *(f"pkg/user_{i}.py" for i in range(FILES))]
    files = [{"path": p, "action": "modify", "intent": "Rename old_name."} for p in paths]
    fake.on(
        "submit_plan",
        lambda r: ToolReply({"summary": "Rename.", "title": "Rename", "files": files}),
    )

    def edit(request: RecordedRequest) -> ToolReply:
        match = re.search(r"The file you change now: `([^`]+)`", request.text)
        assert match, "the edit prompt names its file"
        path = match.group(1)
        old = (  # whole lines, as a diff needs them
            "def old_name(x: int) -> int:"
            if path == "pkg/core.py"
            else "from pkg.core import old_name"
        )
        return ToolReply(
            {
                "diff": f"--- a/{path}\n+++ b/{path}\n@@ @@\n-{old}\n+{old.replace('old_name', 'new_name')}\n"
            }
        )

    fake.on("write_file_change", edit)  # type: ignore[arg-type]
    fake.on(
        "submit_review",
        lambda r: ToolReply({"approved": True, "summary": "ok", "revisions": []}),
    )


@contextmanager
def servers(delays: list[float]) -> Iterator[dict[str, str]]:
    """The three fake APIs, and the environment that points each model at its own."""
    with ExitStack() as stack:
        anthropic = stack.enter_context(FakeAnthropic(delay=delays[0]))
        router = stack.enter_context(FakeOpenAI(delay=delays[1], report_cost=True))
        ollama = stack.enter_context(FakeOpenAI(api_key=None, delay=delays[2]))
        for fake in (anthropic, router, ollama):
            script(fake)
        yield {
            "ANTHROPIC_API_KEY": anthropic.api_key,
            "ANTHROPIC_BASE_URL": anthropic.base_url,
            "OPENROUTER_API_KEY": str(router.api_key),
            "OPENROUTER_BASE_URL": router.base_url,
            "OLLAMA_HOST": ollama.host,
        }


def compare_once(repo: Path, env: dict[str, str], parallel: int) -> tuple[float, dict[str, float]]:
    """(wall seconds, each model's own seconds) of one `tinygen compare` in this process."""
    from tinygen.compare import compare_models
    from tinygen.models import Request
    from tinygen.repo.clone import open_repository

    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        started = time.perf_counter()
        comparison = compare_models(
            Request("Rename old_name to new_name everywhere"),
            open_repository(str(repo)),
            list(MODELS),
            parallel=parallel,
        )
        wall = time.perf_counter() - started
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    bad = [r for r in comparison.results if r.status != "approved"]
    if bad:
        raise SystemExit(
            f"benchmark run failed: {[(r.model, r.status, r.result.message if r.result else r.error) for r in bad]}"
        )
    return wall, {r.model: r.seconds for r in comparison.results}


def bench_compare(delays: list[float]) -> None:
    print(f"== compare: {len(MODELS)} models, delays per call {delays} s, {FILES + 1} files ==")
    with tempfile.TemporaryDirectory() as tmp, servers(delays) as env:
        repo = Path(tmp) / "repo"
        make_repo(repo, FILES, filler=40)
        compare_once(repo, env, parallel=3)  # warm: SDK imports, the sheet cache
        wall, own = compare_once(repo, env, parallel=3)
        serial_wall, _ = compare_once(repo, env, parallel=1)
    for model, seconds in own.items():
        print(f"  {model:<32} {seconds:6.2f} s on its own")
    total, slowest = sum(own.values()), max(own.values())
    print(f"  parallel wall (--parallel 3)     {wall:6.2f} s")
    print(f"  sum of the three                 {total:6.2f} s   wall/sum     {wall / total:5.2f}")
    print(
        f"  slowest model                    {slowest:6.2f} s   wall/slowest {wall / slowest:5.2f}"
    )
    print(
        f"  serial baseline (--parallel 1)   {serial_wall:6.2f} s   wall/serial  {wall / serial_wall:5.2f}"
    )


def import_seconds(code: str, repeat: int) -> float:
    """Best wall time of a fresh interpreter running ``code`` (best: least disturbed)."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        times.append(time.perf_counter() - started)
    return min(times)


def bench_imports(repeat: int) -> None:
    print(f"== imports: best of {repeat} fresh interpreters ==")
    cases = {
        "nothing": "pass",
        "pydantic + httpx2 (any run)": "import pydantic, httpx2",
        "openai": "import openai",
        "anthropic": "import anthropic",
        "tinygen.llm (no SDK)": "import tinygen.llm",
    }
    got = {name: import_seconds(code, repeat) for name, code in cases.items()}
    for name, seconds in got.items():
        print(f"  {name:<30} {seconds:6.3f} s")
    alone = got["openai"] - got["nothing"]
    extra = got["openai"] - got["pydantic + httpx2 (any run)"]
    print(f"  openai on its own              {alone:6.3f} s   (target <= 0.3 s)")
    print(f"  openai beyond pydantic+httpx2  {extra:6.3f} s")
    print(f"  anthropic on its own           {got['anthropic'] - got['nothing']:6.3f} s")
    print(
        f"  load average (1 min) during the run: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"
    )


def bench_run_start(repeat: int) -> None:
    """`tinygen run` on a small repository against instant fake servers: the wall time with
    an Anthropic model and with an OpenAI-compatible one (whose SDK it imports instead)."""
    print(f"== tinygen run, small repository, instant fake servers: best of {repeat} ==")
    with tempfile.TemporaryDirectory() as tmp, servers([0.0, 0.0, 0.0]) as env:
        repo = Path(tmp) / "repo"
        make_repo(repo, FILES, filler=40)
        got = {}
        for model in MODELS:
            times = []
            for _ in range(repeat):
                started = time.perf_counter()
                subprocess.run(
                    [sys.executable, "-m", "tinygen", "run", "Rename old_name", "--repo", str(repo),
                     "--model", model, "--quiet"],
                    env={**os.environ, **env}, check=True, stdout=subprocess.DEVNULL,
                )  # fmt: skip
                times.append(time.perf_counter() - started)
            got[model] = min(times)
            print(f"  {model:<32} {got[model]:6.2f} s")
        base = got[MODELS[0]]
        for model in MODELS[1:]:
            print(f"  {model:<32} {got[model] - base:+6.2f} s against {MODELS[0]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delays", type=float, nargs=3, default=[0.2, 0.5, 1.0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    bench_compare(args.delays)
    bench_imports(args.repeat)
    bench_run_start(max(1, args.repeat // 2))


if __name__ == "__main__":
    main()
