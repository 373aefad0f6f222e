"""Patch engine benchmark: real diffs, corrupted the ways models corrupt them, applied by
`git apply`, `git apply --recount`, GNU `patch --fuzz=2` and tinygen, side by side.

    .venv/bin/python bench/bench_patch.py [--kinds none,crlf,...] [--limit N]

For every changed .py file between two releases of a few PyPI packages (see
bench/patch_corpus.py), the canonical diff is corrupted by each kind in
tinygen.testing.corrupt and given to each tool; the result is *exact* (the newer file),
*refused* (error, file unchanged), or *wrong* (anything else). "unique" rows count only
cases whose every hunk's before-text occurs once in the file, and only kinds that leave a
diff placeable (not "misquoted-line", which must be refused, nor "stacked"). The extra kind
"re-sent" gives the uncorrupted diff to the *newer* file again: exact = left as it is.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.patch_corpus import Case, build_cases, locations_unique
from tinygen.errors import PatchError
from tinygen.patch import apply_patch, canonical_diff
from tinygen.testing.corrupt import CORRUPTIONS

TOOLS = ["git apply", "git apply --recount", "patch --fuzz=2", "tinygen"]


RESENT = "re-sent"
NOT_PLACEABLE = {"misquoted-line", "stacked", RESENT}


def _external(tool: str, work: Path, case: Case, diff: str, start: str) -> str:
    target = work / case.path
    if work.exists():
        shutil.rmtree(work)
    target.parent.mkdir(parents=True)
    target.write_bytes(start.encode())
    if tool.startswith("git apply"):
        cmd = ["git", "apply", "--whitespace=nowarn", "-"]
        if "--recount" in tool:
            cmd.insert(2, "--recount")
    else:
        cmd = [
            "patch",
            "-p1",
            "--fuzz=2",
            "--batch",
            "--forward",
            "--no-backup-if-mismatch",
            "-r",
            "-",
            "-s",
        ]
    try:
        proc = subprocess.run(cmd, cwd=work, input=diff.encode(), capture_output=True, timeout=60)
    except subprocess.TimeoutExpired:
        return "refused"
    got = target.read_bytes() if target.exists() else b""
    # (For "re-sent", where the file starts as the newer one, a tool that fails is "refused"
    # even though the file is as wanted: tinygen is held to the same.)
    if got == case.after.encode() and (proc.returncode == 0 or start != case.after):
        return "exact"
    if proc.returncode != 0 and got == start.encode():
        return "refused"
    return "wrong" if got != start.encode() else "refused"


def _tinygen(case: Case, diff: str, start: str) -> str:
    try:
        result = apply_patch({case.path: start}, diff)
    except PatchError:
        return "refused"
    return "exact" if result.after.get(case.path, start) == case.after else "wrong"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kinds", default=",".join([*CORRUPTIONS, RESENT]))
    parser.add_argument("--limit", type=int, default=0, help="use only the first N files")
    args = parser.parse_args()
    if shutil.which("patch") is None:
        print("GNU patch is not installed (apt-get install patch)", file=sys.stderr)
        return 2
    t0 = time.monotonic()
    cases = build_cases()
    if args.limit:
        cases = cases[: args.limit]
    n_hunks = sum(
        canonical_diff({c.path: c.before}, {c.path: c.after}).count("\n@@ ") for c in cases
    )
    print(
        f"corpus: {len(cases)} changed files, {n_hunks} hunks ({time.monotonic() - t0:.1f} s to build)"
    )
    # counts[kind][tool][unique?][outcome]
    counts: dict[str, dict[str, dict[bool, dict[str, int]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
    )
    seconds: dict[str, float] = defaultdict(float)
    work = Path(tempfile.mkdtemp(prefix="tinygen-bench-")) / "w"
    try:
        for kind in args.kinds.split(","):
            for i, case in enumerate(cases):
                diff = canonical_diff({case.path: case.before}, {case.path: case.after})
                unique = locations_unique(case.before, diff) and kind not in NOT_PLACEABLE
                loose = diff if kind == RESENT else CORRUPTIONS[kind](diff, i)
                start = case.after if kind == RESENT else case.before
                for tool in TOOLS:
                    t = time.monotonic()
                    out = (
                        _tinygen(case, loose, start)
                        if tool == "tinygen"
                        else _external(tool, work, case, loose, start)
                    )
                    seconds[tool] += time.monotonic() - t
                    counts[kind][tool][unique][out] += 1
    finally:
        shutil.rmtree(work.parent, ignore_errors=True)
    header = f"{'kind':<16}" + "".join(f"{t:>24}" for t in TOOLS)
    print("\nexact / refused / wrong per corruption kind (all cases)")
    print(header)
    totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    uniq: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for kind in args.kinds.split(","):
        row = f"{kind:<16}"
        for tool in TOOLS:
            c = {
                o: counts[kind][tool][True][o] + counts[kind][tool][False][o]
                for o in ("exact", "refused", "wrong")
            }
            for o, v in c.items():
                totals[tool][o] += v
                uniq[tool][o] += counts[kind][tool][True][o]
            row += f"{c['exact']:>10}/{c['refused']:>5}/{c['wrong']:>5}   "
        print(row)
    print()
    for label, table in (("all cases", totals), ("unique-location cases", uniq)):
        print(f"{label}:")
        for tool in TOOLS:
            got = table[tool]
            n = sum(got.values()) or 1
            print(
                f"  {tool:<22} exact {100 * got['exact'] / n:6.2f} %   "
                f"refused {100 * got['refused'] / n:6.2f} %"
                f"   wrong {100 * got['wrong'] / n:6.2f} %   ({got['wrong']} wrong of {n})"
            )
    base = seconds["git apply"] or 1e-9
    print("\ntime per tool (s, ratio to git apply, which pays a process start per case):")
    for tool in TOOLS:
        print(f"  {tool:<22} {seconds[tool]:8.2f} s   x{seconds[tool] / base:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
