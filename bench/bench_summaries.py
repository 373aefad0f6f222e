"""Hierarchical summaries on a real tree: the cold build, the refresh after one commit, and
`--estimate` against the tokens actually counted.

The model is the fake Messages API (tests/fakes) reached through the real anthropic SDK:
every answer waits ``--delay`` seconds and is a fixed-size summary; the fake counts input
tokens at 4 characters a token (the usual rule of thumb for English and code; no real
tokenizer is available offline), so "actual" tokens below are that count. Costs are priced
with the documented default summary model (claude-haiku-4-5: $1 / $5 per million tokens).

Baselines measured in the same run: the same build with ``--jobs 1`` on one subtree (the
speed-up of concurrent calls), and the ideal wall time calls x delay / jobs.

    .venv/bin/python bench/bench_summaries.py [--tree PATH] [--jobs 8] [--delay 0.25]

Without ``--tree`` the Django 5.2.8 sdist is fetched with ``pip download`` (the package
registry is reachable here; GitHub is not) into $TMPDIR/tinygen-bench-django and committed
into a git repository there.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_map import fetch
from tests.fakes.anthropic_server import FakeAnthropic, RecordedRequest, ToolReply
from tinygen.config import load_settings
from tinygen.llm.factory import warm_up
from tinygen.llm.usage import Usage, cost_usd
from tinygen.summarize.job import Summarized, plan_summaries, summarize

FILE_TEXT = (
    "Defines the query compiler's helpers and the public entry points other modules call; "
    "it turns model lookups into SQL, keeps the joins and aliases, and is used by the ORM "
    "managers and querysets to build, combine and clone queries safely across databases."
)
FOLDER_TEXT = (
    "Holds the parts of one subsystem: its public modules, the helpers they share and the "
    "tests of them, and says how they relate to the rest of the framework and who calls them."
)
OVERVIEW_TEXT = " ".join([FOLDER_TEXT] * 4)
CHANGED = "django/db/models/sql/query.py"
SUBTREE = "django/db"


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, check=True, capture_output=True, text=True
    ).stdout.strip()


def commit(root: Path, message: str) -> None:
    git(root, "add", "-A")
    git(root, "-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-qm", message)


def django_tree() -> Path:
    """Django 5.2.8 as a git repository, fetched once (bench_map's fetch)."""
    base = Path(tempfile.gettempdir()) / "tinygen-bench-django"
    found = next((p for p in (base / "src").glob("*") if (p / ".git").is_dir()), None)
    if found is not None:
        return found
    base.mkdir(parents=True, exist_ok=True)
    return fetch(base, None)


def fake_answer(request: RecordedRequest) -> ToolReply:
    if request.tool == "file_summary":
        return ToolReply({"purpose": FILE_TEXT, "entry_points": ["Query", "build_filter", "add_q"]})
    if request.tool == "folder_summary":
        return ToolReply({"purpose": FOLDER_TEXT})
    return ToolReply({"overview": OVERVIEW_TEXT})


def build(fake: FakeAnthropic, root: Path, jobs: int) -> tuple[Summarized, Usage, float, int]:
    settings = load_settings(root, {"jobs": jobs})
    found = plan_summaries(root, settings)
    start = len(fake.requests)
    began = time.perf_counter()
    summarize(found, settings)
    wall = time.perf_counter() - began
    assert found.report is not None and found.report.complete, found.report
    # the tokens the (fake) API reported, as the SDK returned them
    return found, found.report.usage, wall, len(fake.requests) - start


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "n/a"


def line(
    label: str, found: Summarized, usage: Usage, wall: float, calls: int, delay: float, jobs: int
) -> None:
    est = found.estimate
    cost = cost_usd(found.plan.model, usage)
    # the longest chain of calls that must follow each other: a file, each folder above
    # it, the overview — a lower bound on the wall time whatever the concurrency
    made = found.report.made_paths if found.report else []
    chain = max((p.count("/") + 2 if p else 1 for p in made), default=0)
    ideal = max(calls * delay / jobs, chain * delay)
    print(f"\n{label}")
    print(
        f"  summaries {found.plan.total:,}: {calls:,} calls made, {len(found.plan.cached):,} cached"
    )
    print(f"  tokens: {usage.input_tokens:,} in, {usage.output_tokens:,} out; cost ${cost:.4f}")
    print(
        f"  wall {wall:.1f} s at --jobs {jobs}; ideal {ideal:.1f} s (calls x delay / jobs, or the longest chain of {chain} calls); "
        f"ratio {ratio(wall, ideal)}"
    )
    print(
        f"  --estimate: {est.calls:,} calls, {est.usage.input_tokens:,} in "
        f"({ratio(est.usage.input_tokens, usage.input_tokens)} of actual), "
        f"{est.usage.output_tokens:,} out ({ratio(est.usage.output_tokens, usage.output_tokens)}), "
        f"${est.cost_usd or 0:.4f} ({ratio(est.cost_usd or 0, cost or 0)} of actual cost)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", type=Path, default=None)
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--delay", type=float, default=0.25)
    args = parser.parse_args()
    source = args.tree or django_tree()
    work = Path(tempfile.mkdtemp(prefix="tinygen-bench-summaries-"))
    try:
        root = work / "repo"
        shutil.copytree(source, root, symlinks=True)
        shutil.rmtree(root / ".git/tinygen", ignore_errors=True)
        sub = work / "subtree"
        shutil.copytree(root / SUBTREE, sub / SUBTREE)
        git(sub, "init", "-q")
        commit(sub, "subtree")
        with FakeAnthropic(delay=args.delay) as fake:
            for tool in ("file_summary", "folder_summary", "overview"):
                fake.on(tool, fake_answer)
            os.environ.update(
                {"ANTHROPIC_API_KEY": fake.api_key, "ANTHROPIC_BASE_URL": fake.base_url}
            )
            print(
                f"tree {source} ({git(root, 'rev-parse', 'HEAD^{tree}')[:12]}), "
                f"fake model delay {args.delay} s"
            )
            warm_up(load_settings(root).summary_model)  # the SDK import is not timed
            # the baseline: one subtree at --jobs 1 and at --jobs N
            _f1, _u1, serial, calls1 = build(fake, sub, 1)
            (sub / ".git/tinygen/summaries.json").unlink(missing_ok=True)
            _fn, _un, parallel, _ = build(fake, sub, args.jobs)
            print(
                f"\nbaseline, {SUBTREE} alone ({calls1} summaries): --jobs 1 {serial:.1f} s, "
                f"--jobs {args.jobs} {parallel:.1f} s: speed-up {ratio(serial, parallel)}"
            )
            found, usage, wall, calls = build(fake, root, args.jobs)
            line("cold build", found, usage, wall, calls, args.delay, args.jobs)
            path = root / CHANGED
            path.write_text(path.read_text() + "\n# a change\n")
            commit(root, "one file changes")
            start = len(fake.requests)
            found2, usage2, wall2, calls2 = build(fake, root, args.jobs)
            asked = [
                "(overview)" if r.tool == "overview" else r.text.split("`", 2)[1]
                for r in fake.requests[start:]
            ]
            line(
                f"after a commit changing {CHANGED}",
                found2,
                usage2,
                wall2,
                calls2,
                args.delay,
                args.jobs,
            )
            print("  made again: " + ", ".join(asked))
            print(
                f"  refresh vs cold: {ratio(wall2, wall)} of the wall time, "
                f"{ratio(calls2, calls)} of the calls"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
