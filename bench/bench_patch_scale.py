"""Patch engine at scale: many small hunks in one file, tinygen against `git apply` on the
same diff in the same run.

    .venv/bin/python bench/bench_patch_scale.py [--sizes 500,2000,10000] [--runs 2]

A file of N 8-line blocks and a diff changing one line in each (one 7-line hunk per block),
in three shapes:

- distinct: every block has its own name, and shares its other lines with all the others
  (``return None``, blank lines, a ``# ---`` separator): most lines a hunk quotes are common;
- repeated: identical blocks, so every hunk's before-text fits in every block and only its
  (trusted) line numbers single one out;
- refused: the distinct diff with a misquoted line in every hunk: every hunk is refused,
  with feedback (closest lines for the first 50).

Prints, per shape and size, tinygen's ``apply_patch`` time (best of ``--runs``), `git
apply`'s (one process over the same diff, start-up included), their ratio, and whether each
result is right; then the growth from the smallest to the largest size, and the target of
issue 12: 10,000 hunks placed in at most 5 s.
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

from tinygen.errors import PatchApplyError
from tinygen.patch import apply_patch
from tinygen.patch.canonical import file_diff

TARGET_HUNKS, TARGET_SECONDS = 10_000, 5.0
SHAPES = ("distinct", "repeated", "refused")


def make(n: int, shape: str) -> tuple[str, str, str]:
    """(file, the file as the diff leaves it, diff) for ``n`` blocks."""
    a: list[str] = []
    for i in range(n):
        name = "f" if shape == "repeated" else f"f{i}"
        a += [f"def {name}(x):", "    y = x + 1", "    if y:", "        return y"]
        a += ["    return None", "", "", "# ---"]
    b = list(a)
    out = ["--- a/m.py", "+++ b/m.py"]
    for i in range(n):
        changed = 8 * i + 1
        lo, hi = max(0, changed - 3), min(len(a), changed + 4)
        out.append(f"@@ -{lo + 1},{hi - lo} +{lo + 1},{hi - lo} @@")
        for k in range(lo, hi):
            if k == changed:
                b[k] = f"    y = x - {i}"
                quoted = "    y = x + 2" if shape == "refused" else a[k]
                out += ["-" + quoted, "+" + b[k]]
            else:
                out.append(" " + a[k])
    return "\n".join(a) + "\n", "\n".join(b) + "\n", "\n".join(out) + "\n"


def run_tinygen(a: str, b: str, diff: str) -> tuple[float, str]:
    t = time.perf_counter()
    try:
        got = apply_patch({"m.py": a}, diff).after.get("m.py", a)
    except PatchApplyError as exc:
        seconds = time.perf_counter() - t
        return seconds, f"refused ({len(exc.failures)} hunks)"
    return time.perf_counter() - t, "exact" if got == b else "WRONG"


def run_git(work: Path, a: str, b: str, diff: str) -> tuple[float, str]:
    target = work / "m.py"
    target.write_text(a)
    (work / "x.diff").write_text(diff)
    t = time.perf_counter()
    proc = subprocess.run(
        ["git", "apply", "--whitespace=nowarn", "x.diff"], cwd=work, capture_output=True
    )
    seconds = time.perf_counter() - t
    if proc.returncode != 0:
        return seconds, "refused"
    return seconds, "exact" if target.read_text() == b else "WRONG"


def run_canonical(work: Path, a: str, b: str, before: bool) -> str:
    """One row of the canonical-diff table: tinygen's ``file_diff`` now, as it was (difflib
    on the whole middle, if ``before``) and `git diff --no-index` on the same texts."""
    t = time.perf_counter()
    diff = file_diff("m.py", a, b)
    now = time.perf_counter() - t
    changed = sum(
        1 for ln in diff.split("\n") if ln[:1] in ("+", "-") and ln[:3] not in ("+++", "---")
    )
    old_s = "-"
    if before:
        t = time.perf_counter()
        old = file_diff("m.py", a, b, anchored_above=None)
        old_s = f"{time.perf_counter() - t:.3f}"
        same = "same" if old == diff else "differs"
        old_s += f" ({same})"
    (work / "a.py").write_text(a)
    (work / "b.py").write_text(b)
    t = time.perf_counter()
    subprocess.run(["git", "diff", "--no-index", "a.py", "b.py"], cwd=work, capture_output=True)
    git = time.perf_counter() - t
    return f"{now:>9.3f}{git:>10.3f}{now / git:>7.1f}x  {changed:>7}  {old_s}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="500,2000,10000")
    parser.add_argument("--runs", type=int, default=2, help="tinygen runs per case (best)")
    parser.add_argument("--shapes", default=",".join(SHAPES))
    parser.add_argument(
        "--before-max",
        type=int,
        default=500,
        help="largest size the canonical diff as it was is timed at (313 s at 10,000)",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    shapes = args.shapes.split(",")
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(f"{'shape':<10}{'hunks':>7}{'lines':>8}{'tinygen s':>11}{'git apply s':>13}"
          f"{'ratio':>8}{'us/hunk':>9}   results (tinygen / git apply)")  # fmt: skip
    seconds: dict[tuple[str, int], float] = {}
    git_seconds: dict[tuple[str, int], float] = {}
    work = Path(tempfile.mkdtemp(prefix="tinygen-bench-scale-"))
    try:
        for shape in shapes:
            for n in sizes:
                a, b, diff = make(n, shape)
                runs = [run_tinygen(a, b, diff) for _ in range(max(1, args.runs))]
                t, outcome = min(runs)
                g, git_outcome = run_git(work, a, b, diff)
                seconds[shape, n], git_seconds[shape, n] = t, g
                print(
                    f"{shape:<10}{n:>7}{a.count(chr(10)):>8}{t:>11.3f}{g:>13.3f}"
                    f"{t / g:>7.1f}x{1e6 * t / n:>9.0f}   {outcome} / {git_outcome}"
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    lo, hi = min(sizes), max(sizes)
    if lo != hi:
        print(f"\ngrowth from {lo} to {hi} hunks (x{hi / lo:.0f} the hunks):")
        for shape in shapes:
            grow = seconds[shape, hi] / seconds[shape, lo]
            git_grow = git_seconds[shape, hi] / git_seconds[shape, lo]
            print(f"  {shape:<10} tinygen x{grow:.1f}   git apply x{git_grow:.1f}")
    print("\ncanonical diff of the same file pairs (tinygen file_diff; git diff --no-index, one")
    print("process, start-up included; the diff as it was: difflib on the whole middle)")
    print(f"{'shape':<10}{'changes':>8}  {'now s':>8}{'git s':>10}{'ratio':>8}  {'+/- lines':>8}"
          "  before s")  # fmt: skip
    work = Path(tempfile.mkdtemp(prefix="tinygen-bench-canonical-"))
    try:
        for shape in ("distinct", "repeated"):
            for n in sizes:
                a, b, _ = make(n, shape)
                row = run_canonical(work, a, b, n <= args.before_max)
                print(f"{shape:<10}{n:>8}  {row}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if TARGET_HUNKS in sizes:
        print(f"\ntarget: {TARGET_HUNKS:,} hunks in one file in at most {TARGET_SECONDS:.0f} s")
        for shape in shapes:
            t = seconds[shape, TARGET_HUNKS]
            verdict = "met" if t <= TARGET_SECONDS else "MISSED"
            print(f"  {shape:<10} {t:6.2f} s  ({t / TARGET_SECONDS:.2f} of the target) {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
