"""What running git through GitPython costs, and why `tinygen map` does not (issue 10).

Prints in one run, on a repository (default: this checkout):

* the baseline: load average and the wall time of ``python -c pass``;
* ``python -c "import git"`` (GitPython's import, which also runs ``git version``) over
  the baseline;
* one ``git rev-parse HEAD``: ``subprocess.run`` against GitPython's ``Git.execute``
  (tinygen.repo.git's two runners), median and minimum of --calls;
* `tinygen map` warm, as it is (subprocess for its git calls) against the same command
  with GitPython imported first (what a GitPython-based ``repo_root``/``state_dir``
  would cost it): median and minimum of --runs, and the ratio against the sheet's 0.25 s
  warm budget.

    .venv/bin/python bench/bench_git.py [--repo PATH] [--runs 9] [--calls 60]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

WARM_BUDGET = 0.25
MAP = "from tinygen.cli import main; main()"
MAP_WITH_GITPYTHON = "import git; from tinygen.cli import main; main()"


def _wall(args: list[str], runs: int, cwd: Path) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(args, cwd=cwd, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


def _per_call(repo: Path, calls: int) -> dict[str, list[float]]:
    from tinygen.repo.git import _plain_git, git_bytes

    git_bytes(["rev-parse", "HEAD"], repo)  # GitPython imported before timing
    runners = {
        "subprocess.run": lambda: _plain_git(["rev-parse", "HEAD"], repo),
        "GitPython Git.execute": lambda: git_bytes(["rev-parse", "HEAD"], repo),
    }
    times: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(calls):  # interleaved, so load affects both alike
        for name, run in runners.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--calls", type=int, default=60)
    args = parser.parse_args()
    repo, py = args.repo.resolve(), sys.executable

    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    base = _wall([py, "-c", "pass"], args.runs, repo)
    print(f"python -c pass: median {statistics.median(base):.3f} s, min {min(base):.3f} s")
    imp = _wall([py, "-c", "import git"], args.runs, repo)
    print(
        f"import git (GitPython): median {statistics.median(imp) - statistics.median(base):.3f} s,"
        f" min {min(imp) - min(base):.3f} s over the baseline"
    )

    for name, times in _per_call(repo, args.calls).items():
        print(
            f"one git rev-parse, {name}: median {statistics.median(times) * 1000:.2f} ms, "
            f"min {min(times) * 1000:.2f} ms"
        )

    subprocess.run([py, "-m", "tinygen", "map", str(repo)], check=True, capture_output=True)
    results: dict[str, list[float]] = {"as it is": [], "GitPython imported": []}
    for _ in range(args.runs):  # interleaved
        for name, code in (("as it is", MAP), ("GitPython imported", MAP_WITH_GITPYTHON)):
            results[name] += _wall([py, "-c", code, "map", str(repo)], 1, repo)
    for name, times in results.items():
        med = statistics.median(times)
        print(
            f"tinygen map warm, {name}: median {med:.3f} s, min {min(times):.3f} s "
            f"({med / WARM_BUDGET:.2f}x the {WARM_BUDGET} s budget)"
        )
    ratio = statistics.median(results["GitPython imported"]) / statistics.median(
        results["as it is"]
    )
    print(f"ratio GitPython imported / as it is (medians): {ratio:.2f}")


if __name__ == "__main__":
    main()
