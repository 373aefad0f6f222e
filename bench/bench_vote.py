"""Benchmark: reliability and cost of `--vote`, and `--estimate` against what runs cost.

1. **Votes** — the real edit pass (``vote_file``: red flags, outcome keys, parallel
   batches) against a scripted model whose samples are right with probability p; a wrong
   sample is one of three distinct wrong edits (70 %) or a malformed answer (30 %: prose
   instead of a diff, a hunk that fits only re-indented, a syntax error, a placeholder
   comment, no change, another file). Half the right samples carry a comment or other
   spacing (the same outcome). For each p and k: the share of files that end right and the
   mean samples a file (red-flagged ones included), over N files, next to the analytic
   two-outcome figures (success 1 / (1 + ((1-p)/p)^k); expected votes of the ±k walk).
2. **Wall time** — ``pipeline.run`` with the same scripted latency per call, unvoted and
   with ``vote=3`` at p = 0.8 (and 1.0), ``jobs`` large enough for every sample at once.
3. **Estimate** — ``tinygen run --estimate --json`` against the real run's cost, on
   bench_pipeline's repositories and fake Messages API (1, 5 and 20 files).

    python bench/bench_vote.py [--files 500] [--latency 0.2] [--skip-estimate]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.helpers import commit_all, init_repo, pass_context, write_files
from tinygen.config import Settings
from tinygen.llm import CompletionRequest
from tinygen.llm.vote import expected_samples, success_probability
from tinygen.models import Plan, PlanItem, Request
from tinygen.passes.edit import vote_file
from tinygen.testing import Answer, ScriptedProvider
from tinygen.validate.outcome import outcome_key

PATH = "app/calc.py"
TEXT = (
    "def total(items: list[int]) -> int:\n"
    '    """The sum of the items, each doubled."""\n'
    "    result = 0\n"
    "    for item in items:\n"
    "        result += item\n"
    "    return result\n"
)
LINE = "        result += item"
RIGHT = ["        result += item * 2", "        result += item*2  # doubled"]
WRONG = ["        result += item + 2", "        result += item ** 2", "        result -= item"]


def diff(new: str, *, path: str = PATH, indent: str = "") -> str:
    return (
        f"--- a/{path}\n+++ b/{path}\n@@ @@\n {indent}    for item in items:\n"
        f"-{indent}{LINE}\n" + "".join(f"+{indent}{n}\n" for n in new.split("\n"))
    )


MALFORMED = [
    {"diff": "", "content": TEXT},  # whole text instead of a diff
    {
        "diff": "--- a/app/calc.py\n+++ b/app/calc.py\n@@ @@\n-    result += item\n+    result += 2*item\n"
    },
    {"diff": diff("        result += (item * 2")},  # a syntax error
    {"diff": diff("        result += item * 2\n        # ... rest of the code unchanged")},
    {"diff": diff(LINE)},  # no change
    {"diff": diff(RIGHT[0], path="app/other.py")},  # another file
]
RIGHT_KEY = outcome_key(PATH, TEXT.replace(LINE, RIGHT[0]))


class Model:
    """Answers an edit right with probability p, else wrong (70 %: one of three variants)
    or malformed (30 %); seeded, safe across threads; optionally after a fixed delay."""

    def __init__(self, p: float, seed: str, latency: float = 0.0) -> None:
        self.p = p
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.latency = latency

    def __call__(self, request: CompletionRequest) -> Answer:
        with self.lock:
            roll, pick = self.rng.random(), self.rng.random()
        if self.latency:
            time.sleep(self.latency)
        if roll < self.p:
            return Answer.tool({"diff": diff(RIGHT[int(pick * 2)]), "notes": "doubled"})
        if self.rng.random() < 0.7:
            return Answer.tool({"diff": diff(WRONG[int(pick * 3)]), "notes": "changed"})
        return Answer.tool({**MALFORMED[int(pick * len(MALFORMED))], "notes": "?"})


def simulate(root: Path, p: float, k: int, files: int, jobs: int = 8) -> dict[str, float]:
    provider = ScriptedProvider()
    provider.respond(Model(p, f"{p}-{k}"), label="edit")
    settings = Settings(vote=k, max_samples=8, jobs=jobs)
    with tempfile.TemporaryDirectory() as records:
        ctx = pass_context(root, provider, settings=settings, records=Path(records) / "r")
        item = PlanItem(PATH, "modify", "Double each item before adding it.")
        plan = Plan("Double the items.", "Double", (item,))
        right = samples = low = 0
        with ThreadPoolExecutor(jobs) as pool:
            for _ in range(files):
                edit = vote_file(ctx, plan, item, None, None, pool.submit)
                assert edit.vote is not None
                samples += edit.vote.samples
                low += edit.vote.low_agreement
                right += edit.after is not None and outcome_key(PATH, edit.after) == RIGHT_KEY
    return {"right": right / files, "samples": samples / files, "low": low / files}


def wall_time(
    root: Path, vote: int, p: float, latency: float, files: int, trial: int = 0
) -> tuple[float, int]:
    """Seconds and calls of a whole ``pipeline.run`` (``files`` planned files)."""
    from tinygen.pipeline import Target, run

    provider = ScriptedProvider()
    paths = [f"app/calc_{i}.py" for i in range(files)]
    items = [{"path": p_, "action": "modify", "intent": "Double each item."} for p_ in paths]
    plan = {"summary": "Double.", "title": "Double", "files": items}

    def delayed(answer: dict[str, Any]) -> Any:
        def respond(request: CompletionRequest) -> Answer:
            time.sleep(latency)
            return Answer.tool(answer)

        return respond

    provider.respond(delayed(plan), label="brainstorm")
    provider.respond(delayed({"approved": True, "summary": "ok", "revisions": []}), label="verify")
    for path in paths:
        model = Model(p, f"wall-{vote}-{p}-{path}-{trial}", latency)
        provider.respond(lambda r, m=model, path=path: _for(path, m(r)), label=f"edit:{path}")
    base = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True)
    settings = Settings(vote=vote, jobs=64, max_rounds=1)
    started = time.monotonic()
    result = run(Request("Double the items"), Target(root, base.stdout.strip()), settings, provider)
    seconds = time.monotonic() - started
    assert result.diff, result.message
    return seconds, result.calls


def _for(path: str, answer: Answer) -> Answer:
    """The scripted answer, retargeted from app/calc.py to ``path``."""
    tool = dict(answer.tool_input or {})
    tool["diff"] = str(tool.get("diff", "")).replace(PATH, path).replace("app/other.py", "app/x.py")
    return Answer.tool(tool)


def estimate_vs_actual(files: int, workdir: Path, delay: float = 0.5) -> dict[str, float]:
    """``--estimate`` and the real run's cost on bench_pipeline's repository and script."""
    from bench.bench_pipeline import _git_env, make_repo, script
    from tests.fakes.anthropic_server import FakeAnthropic

    repo = workdir / f"est-{files}"
    make_repo(repo, files)
    request = "Rename old_name to new_name in every caller"
    out: dict[str, float] = {"files": files}
    # bench_pipeline's delay: per-file calls arrive together and each writes the plan block,
    # as they do on the real API (a prefix is readable only once a response to it started)
    with FakeAnthropic(delay=delay) as fake:
        script(fake, files)
        env = {
            **_git_env(),
            "ANTHROPIC_API_KEY": fake.api_key,
            "ANTHROPIC_BASE_URL": fake.base_url,
            "XDG_CACHE_HOME": str(workdir / "cache"),
        }
        for flag in ("--estimate", None):
            args = [sys.executable, "-m", "tinygen", "run", request, "--repo", str(repo),
                    "--jobs", str(max(files, 1)), "--model", "claude-sonnet-4-6", "--json"]  # fmt: skip
            proc = subprocess.run(
                args + ([flag] if flag else []), capture_output=True, text=True, env=env
            )
            if proc.returncode != 0:
                raise SystemExit(f"run failed ({proc.returncode}):\n{proc.stderr}")
            data = json.loads(proc.stdout)
            if flag:
                out["estimated"] = data["estimate"]["cost_usd"]
                out["low"] = data["estimate"]["cost_low_usd"]
                out["high"] = data["estimate"]["cost_high_usd"]
                out["expected_files"] = data["estimate"]["files"]["expected"]
                assert not fake.requests, "the estimate called the model"
            else:
                out["actual"] = data["cost_usd"]
                out["calls"] = data["usage"]["calls"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=500, help="simulated files per p and k")
    parser.add_argument("--latency", type=float, default=0.2, help="seconds per scripted call")
    parser.add_argument("--trials", type=int, default=8, help="runs per wall-time row")
    parser.add_argument("--skip-estimate", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tinygen-bench-vote-") as tmp:
        root = init_repo(Path(tmp) / "repo")
        write_files(root, {PATH: TEXT, **{f"app/calc_{i}.py": TEXT for i in range(4)}})
        commit_all(root)

        print(f"1. votes: {args.files} simulated files per row; max_samples 8")
        print(
            "| p | k | right | analytic right (2 outcomes) | samples/file | analytic votes/file | low agreement |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for p in (0.6, 0.7, 0.8, 0.9):
            for k in (1, 2, 3):
                r = simulate(root, p, k, args.files)
                print(
                    f"| {p} | {k} | {r['right']:.1%} | {success_probability(p, k):.1%} "
                    f"| {r['samples']:.2f} | {expected_samples(p, k):.2f} | {r['low']:.1%} |",
                    flush=True,
                )
        print()
        print(
            f"2. wall time of pipeline.run, {args.latency:.2f} s per scripted call, jobs 64, "
            f"mean of {args.trials} runs each (unvoted and voted alternating)"
        )
        print("| planned files | p | unvoted s (calls) | vote=3 s (calls) | ratio |")
        print("| --- | --- | --- | --- | --- |")
        wall_time(root, 0, 1.0, args.latency, 4)  # warm-up: sheet cache, grammars, pydantic
        for files in (1, 4):
            for p in (1.0, 0.8):
                base: list[tuple[float, int]] = []
                voted: list[tuple[float, int]] = []
                for trial in range(args.trials):
                    base.append(wall_time(root, 0, 1.0, args.latency, files, trial))
                    voted.append(wall_time(root, 3, p, args.latency, files, trial))
                b = sum(t for t, _ in base) / len(base)
                v = sum(t for t, _ in voted) / len(voted)
                bc = sum(c for _, c in base) / len(base)
                vc = sum(c for _, c in voted) / len(voted)
                print(
                    f"| {files} | {p} | {b:.2f} ({bc:.1f}) | {v:.2f} ({vc:.1f}) | {v / b:.2f} |",
                    flush=True,
                )
        if args.skip_estimate:
            return
        print()
        print(
            "3. --estimate against the real run (bench_pipeline's repositories, fake Messages API)"
        )
        print(
            "| files | expected files | estimated $ | range $ | actual $ (calls) | estimate/actual |"
        )
        print("| --- | --- | --- | --- | --- | --- |")
        for files in (1, 5, 20):
            e = estimate_vs_actual(files, Path(tmp))
            print(
                f"| {files} | {e['expected_files']:.0f} | {e['estimated']:.4f} "
                f"| {e['low']:.4f}–{e['high']:.4f} | {e['actual']:.4f} ({e['calls']:.0f}) "
                f"| {e['estimated'] / e['actual']:.3f} |",
                flush=True,
            )
    print()
    print("targets: p=0.8, k=3: >= 98 % right with <= 6 samples a file; voted wall time <= 1.5x")
    print("         unvoted; estimate within ±30 % of the actual cost")


if __name__ == "__main__":
    main()
