"""Localization benchmark (issue 11): does the file a fix changed reach the model?

For each case (request text -> the non-test ``.py`` files its real fix changed; see
localize_cases.py for the sources and how the commit cases were chosen) the repository is
checked out at the fix's base, and in the same run:

* **tinygen**: ``build_sheet(root, query=text)`` — the rank of the first gold file among
  all files, and whether a gold file is shown with its symbols (full, part or signatures)
  by the sheet at ``--budget`` (8000, the pipeline's default);
* **BM25**: Okapi BM25 (k1 1.5, b 0.75, lowercase ``\\w+`` tokens) over the bodies of the
  repository's non-test ``.py`` files — the rank of the first gold file, and the same
  shown-with-symbols share for a sheet laid out in BM25's order.

Printed per source and split (commit cases: ``dev`` repositories tuned the weights, the
others are held out; SWE-bench Lite dev is held out): top-1/5/10 (a gold file within the
first k), MRR (1 / rank of the first gold file, 0 beyond 100) and the shown share.
``--tune`` searches rank weights on the dev split only and prints the best.
``--summaries`` also builds each case's sheet with ``summaries=True`` (the cached
summaries of the checkout, none unless ``tinygen summarize`` ran there) and counts the
cases whose order and scores are identical to the plain build's.

    .venv/bin/python bench/bench_localize.py [--mirrors /work/.mirror] [--source all]
    .venv/bin/python bench/bench_localize.py --tune
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import re
import statistics
import subprocess
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from localize_cases import (
    MIRRORS,
    Case,
    checkout,
    commit_cases,
    is_test,
    swe_cases,
)

from tinygen.sheet import build_sheet, render_sheet
from tinygen.sheet.model import FileEntry, Sheet
from tinygen.sheet.rank import WEIGHTS, Weights, rank
from tinygen.sheet.render import layout

MAX_RANK = 100
REBUILD_INDEX: list[bool] = []  # --rebuild-index: no case reuses (patches) the last one's
SUMMARIES: list[bool] = []  # --summaries: also rank with the cached summaries
_WORD = re.compile(r"\w+")


class BM25:
    """Okapi BM25 over the non-test .py files of a checkout; token bags cached by blob."""

    k1 = 1.5
    b = 0.75

    def __init__(self) -> None:
        self.bags: dict[str, tuple[Counter[str], int]] = {}

    def rank(self, root: Path, query: str) -> list[str]:
        listing = subprocess.run(
            ["git", "ls-files", "-s", "-z"], cwd=root, capture_output=True, check=True
        ).stdout.decode("utf-8", "surrogateescape")
        docs: list[tuple[str, Counter[str], int]] = []
        for row in listing.split("\0"):
            if not row:
                continue
            meta, path = row.split("\t", 1)
            blob = meta.split()[1]
            if not path.endswith(".py") or is_test(path):
                continue
            bag = self.bags.get(blob)
            if bag is None:
                try:
                    text = (root / path).read_text("utf-8", "replace").lower()
                except OSError:
                    continue
                words = _WORD.findall(text)
                bag = self.bags[blob] = (Counter(words), len(words))
            docs.append((path, *bag))
        if not docs:
            return []
        n = len(docs)
        avg = sum(d[2] for d in docs) / n or 1.0
        terms = Counter(_WORD.findall(query.lower()))
        df = Counter(t for _, bag, _ in docs for t in terms if t in bag)
        idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
        scores = []
        for path, bag, length in docs:
            norm = self.k1 * (1 - self.b + self.b * length / avg)
            s = 0.0
            for t, w in idf.items():
                tf = bag.get(t)
                if tf:
                    s += w * terms[t] * tf * (self.k1 + 1) / (tf + norm)
            scores.append((-s, path))
        scores.sort()
        return [p for _, p in scores]


@dataclasses.dataclass
class Result:
    case: Case
    rank_tinygen: int | None  # 1-based rank of the first gold file
    rank_bm25: int | None
    shown_tinygen: bool
    shown_bm25: bool
    seconds: float
    # --summaries: whether summaries were found, and whether the order and scores with
    # them are those of the plain build (None: not measured)
    had_summaries: bool = False
    same_with_summaries: bool | None = None


def first_gold(order: list[str], gold: tuple[str, ...]) -> int | None:
    wanted = set(gold)
    for k, p in enumerate(order[:MAX_RANK], 1):
        if p in wanted:
            return k
    return None


def shown_with_symbols(sheet: Sheet, budget: int, gold: tuple[str, ...]) -> bool:
    lay = layout(sheet, budget)
    if lay is None:
        return False
    return any(lay.level(p) in ("full", "part", "signatures") for p in gold)


def in_bm25_order(sheet: Sheet, order: list[str]) -> Sheet:
    by_path = sheet.by_path()
    first = [by_path[p] for p in order if p in by_path]
    taken = {f.path for f in first}
    rest = sorted((f for f in sheet.files if f.path not in taken), key=lambda f: f.path)
    return dataclasses.replace(sheet, files=first + rest, ranked=True)


@dataclasses.dataclass
class Prepared:
    """What --tune re-ranks: the case's rank index and text, built once."""

    case: Case
    index: object
    files: list[FileEntry]


def run_case(case: Case, mirrors: Path, bm25: BM25, budget: int, keep: list[Prepared]) -> Result:
    root = checkout(mirrors, case.repo, case.base)
    if REBUILD_INDEX:
        (root / ".git" / "tinygen" / "rank-index.bin").unlink(missing_ok=True)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sheet = build_sheet(root, query=case.text, ranking=True)
    seconds = time.perf_counter() - started
    order = [f.path for f in sheet.files]
    bm = bm25.rank(root, case.text)
    keep.append(Prepared(case, sheet.index, list(sheet.files)))
    had, same = False, None
    if SUMMARIES:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            summed = build_sheet(root, query=case.text, ranking=True, summaries=True)
        had = summed.summaries is not None
        same = [(f.path, f.score) for f in summed.files] == [
            (f.path, f.score) for f in sheet.files
        ] and render_sheet(summed, budget) == render_sheet(sheet, budget)
    return Result(
        case,
        first_gold(order, case.gold),
        first_gold(bm, case.gold),
        shown_with_symbols(sheet, budget, case.gold),
        shown_with_symbols(in_bm25_order(sheet, bm), budget, case.gold),
        seconds,
        had,
        same,
    )


def metrics(ranks: list[int | None]) -> dict[str, float]:
    n = len(ranks) or 1
    return {
        "top1": 100 * sum(1 for r in ranks if r is not None and r <= 1) / n,
        "top5": 100 * sum(1 for r in ranks if r is not None and r <= 5) / n,
        "top10": 100 * sum(1 for r in ranks if r is not None and r <= 10) / n,
        "mrr": sum(1 / r for r in ranks if r is not None) / n,
    }


def report(title: str, results: list[Result]) -> None:
    if not results:
        return
    n = len(results)
    t = metrics([r.rank_tinygen for r in results])
    b = metrics([r.rank_bm25 for r in results])
    st = 100 * sum(r.shown_tinygen for r in results) / n
    sb = 100 * sum(r.shown_bm25 for r in results) / n
    print(f"\n{title} ({n} cases, {len({r.case.repo for r in results})} repositories)")
    print(f"  {'':9} {'top-1':>6} {'top-5':>6} {'top-10':>6} {'MRR':>6} {'shown':>6}")
    print(
        f"  {'tinygen':9} {t['top1']:6.1f} {t['top5']:6.1f} {t['top10']:6.1f} {t['mrr']:6.3f} {st:6.1f}"
    )
    print(
        f"  {'BM25':9} {b['top1']:6.1f} {b['top5']:6.1f} {b['top10']:6.1f} {b['mrr']:6.3f} {sb:6.1f}"
    )
    print(
        f"  {'delta':9} {t['top1'] - b['top1']:+6.1f} {t['top5'] - b['top5']:+6.1f} "
        f"{t['top10'] - b['top10']:+6.1f} {t['mrr'] - b['mrr']:+6.3f} {st - sb:+6.1f}"
    )


def score(prepared: list[Prepared], weights: Weights) -> tuple[float, float, float]:
    ranks = []
    for p in prepared:
        result = rank(p.index, p.case.text, weights)  # type: ignore[arg-type]
        order = [p.index.paths[d] for d in result.order[:MAX_RANK]]  # type: ignore[attr-defined]
        ranks.append(first_gold(order, p.case.gold))
    m = metrics(ranks)
    return m["mrr"], m["top1"], m["top5"]


GRID = {
    "mention": (0.5, 1.0, 2.0, 3.0, 5.0),
    "path": (0.0, 0.15, 0.3, 0.6, 1.0),
    "ident": (0.0, 0.25, 0.5, 1.0, 1.5),
    "graph": (0.0, 0.1, 0.2, 0.4, 0.8),
    "test_factor": (0.05, 0.1, 0.3, 0.6, 1.0),
    "aside_factor": (0.2, 0.5, 1.0),
    "hub": (0.0, 0.5, 1.0),
    "seeds": (5, 10, 20, 40),
    "b": (0.3, 0.5, 0.75, 0.9),
    "k1": (0.8, 1.2, 2.0),
    "title": (0.0, 1.0, 2.0, 4.0),
    "file_name": (0.0, 0.5, 1.0, 2.0),
}


def tune(prepared: list[Prepared], rounds: int = 2) -> Weights:
    """Coordinate descent on the dev split: each weight in turn over its GRID values, the
    others fixed, keeping the best (MRR, then top-1, then top-5); ``rounds`` passes."""
    dev = [p for p in prepared if p.case.split == "dev"]
    print(f"\ntuning on {len(dev)} dev cases ({len({p.case.repo for p in dev})} repositories)")
    best_w = WEIGHTS
    best = score(dev, best_w)
    print(f"  current weights: MRR {best[0]:.3f} top-1 {best[1]:.1f} top-5 {best[2]:.1f}")
    for _ in range(rounds):
        for key, values in GRID.items():
            for value in values:
                w = dataclasses.replace(best_w, **{key: value})
                got = score(dev, w)
                if got > best:
                    best, best_w = got, w
    print(f"  best: MRR {best[0]:.3f} top-1 {best[1]:.1f} top-5 {best[2]:.1f}  {best_w}")
    held = [p for p in prepared if p.case.split == "held-out"]
    before, after = score(held, WEIGHTS), score(held, best_w)
    print(
        f"  held out with the current weights: MRR {before[0]:.3f} top-1 {before[1]:.1f} "
        f"top-5 {before[2]:.1f}; with the best: MRR {after[0]:.3f} top-1 {after[1]:.1f} "
        f"top-5 {after[2]:.1f}"
    )
    return best_w


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mirrors", type=Path, default=MIRRORS, help="bare mirrors owner+name/repo")
    ap.add_argument("--source", choices=("all", "swe", "commits"), default="all")
    ap.add_argument("--budget", type=int, default=8000)
    ap.add_argument("--limit", type=int, default=0, help="at most this many cases per source")
    ap.add_argument("--tune", action="store_true", help="grid-search weights on the dev split")
    ap.add_argument("--misses", action="store_true", help="list the cases tinygen misses in top 5")
    ap.add_argument(
        "--rebuild-index",
        action="store_true",
        help="a fresh rank index for every case (default: consecutive cases of a repository "
        "patch the stored one when few files differ, as a user's edits would)",
    )
    ap.add_argument(
        "--variant",
        action="append",
        default=[],
        help="also score these weights (k=v,k=v) on both splits, e.g. hub=0.5,aside_factor=0.5",
    )
    ap.add_argument(
        "--summaries",
        action="store_true",
        help="also rank each case with its checkout's cached summaries and compare",
    )
    opts = ap.parse_args()

    if opts.rebuild_index:
        REBUILD_INDEX.append(True)
    if opts.summaries:
        SUMMARIES.append(True)
    cases: list[Case] = []
    if opts.source in ("all", "swe"):
        swe = swe_cases()
        present = [c for c in swe if (opts.mirrors / c.repo.replace("/", "+") / "repo").is_dir()]
        for c in sorted({c.repo for c in swe} - {c.repo for c in present}):
            print(f"skipped: no mirror of {c} ({sum(x.repo == c for x in swe)} cases)")
        cases += present[: opts.limit or None]
    if opts.source in ("all", "commits"):
        commits = commit_cases()
        if opts.limit:
            per: dict[str, int] = {}
            commits = [c for c in commits if per.setdefault(c.repo, 0) < opts.limit and not per.update({c.repo: per[c.repo] + 1})]  # fmt: skip
        cases += commits
    bm25 = BM25()
    results: list[Result] = []
    prepared: list[Prepared] = []
    started = time.perf_counter()
    # Grouped by repository so each clone's sheet cache stays warm between its cases.
    for case in sorted(cases, key=lambda c: (c.repo, c.source)):
        results.append(run_case(case, opts.mirrors, bm25, opts.budget, prepared))
    print(f"{len(results)} cases in {time.perf_counter() - started:.0f} s; budget {opts.budget}")
    print(f"weights: {WEIGHTS}")
    print(
        f"median sheet build+rank per case: {statistics.median(r.seconds for r in results):.3f} s"
    )
    swe_results = [r for r in results if r.case.source == "swe-bench-lite-dev"]
    commit_results = [r for r in results if r.case.source == "commits"]
    report("SWE-bench Lite dev (held out)", swe_results)
    report("commits, dev split (tuned on)", [r for r in commit_results if r.case.split == "dev"])
    report("commits, held out", [r for r in commit_results if r.case.split == "held-out"])
    report("commits, all", commit_results)
    report(
        "all held out (SWE-bench + held-out commits)",
        [r for r in results if r.case.split == "held-out"],
    )
    report("all cases", results)
    if opts.summaries:
        had = sum(r.had_summaries for r in results)
        same = sum(1 for r in results if r.same_with_summaries)
        print(
            f"\nwith summaries=True: {had} of {len(results)} cases found cached summaries; "
            f"{same} of {len(results)} orders, scores and {opts.budget}-token sheets "
            "identical to the plain build"
        )
    print("\nper repository (top-1 / top-5: tinygen vs BM25)")
    for repo in sorted({r.case.repo for r in results}):
        rows = [r for r in results if r.case.repo == repo]
        t = metrics([r.rank_tinygen for r in rows])
        b = metrics([r.rank_bm25 for r in rows])
        print(
            f"  {repo:32} {len(rows):3}  {t['top1']:5.1f} / {t['top5']:5.1f}   "
            f"{b['top1']:5.1f} / {b['top5']:5.1f}  ({rows[0].case.split})"
        )
    if opts.misses:
        print("\ncases where tinygen ranks the first gold file below 5:")
        for r, p in zip(results, prepared, strict=True):
            if r.rank_tinygen is not None and r.rank_tinygen <= 5:
                continue
            top = [f.path for f in p.files[:5]]
            print(f"- {r.case.repo} {r.case.name[:12]} tinygen {r.rank_tinygen} bm25 {r.rank_bm25}")
            print(f"    gold {list(r.case.gold)}\n    top  {top}")
            print(f"    text {r.case.text[:200]!r}")
    for variant in opts.variant:
        changes = {k: float(v) for k, v in (kv.split("=") for kv in variant.split(","))}
        w = dataclasses.replace(WEIGHTS, **{k: type(getattr(WEIGHTS, k))(v) for k, v in changes.items()})  # fmt: skip
        dev = score([p for p in prepared if p.case.split == "dev"], w)
        held = score([p for p in prepared if p.case.split == "held-out"], w)
        print(
            f"variant {variant}: dev MRR {dev[0]:.3f} top-1 {dev[1]:.1f} top-5 {dev[2]:.1f}; "
            f"held out MRR {held[0]:.3f} top-1 {held[1]:.1f} top-5 {held[2]:.1f}"
        )
    if opts.tune:
        tune(prepared)


if __name__ == "__main__":
    main()
