"""Benchmark `tinygen map` on Django 5.2.8 (issue 2 targets).

Downloads the Django 5.2.8 sdist with pip (or uses --sdist FILE), unpacks it into a
temporary git repository, and prints in one run:

* the floor: reading + tree-sitter parsing every file the sheet parses, on one core;
* `tinygen map` cold (no cache), warm (nothing changed, median) and after one file
  changed (median), each as a real subprocess: wall time and CPU time (user+sys,
  workers included);
* `--query ... --budget 8000`: the first such run after those (it computes the ranking
  data the unranked builds left out), then warm (median of 3), then cold (no cache);
* peak RSS of any one process (os.wait4 rusage, workers included);
* ratios against the targets: cold <= 1.0x the floor, warm <= 0.25 s, one change
  <= 0.35 s, RSS <= 500 MB.

    .venv/bin/python bench/bench_map.py [--sdist Django-5.2.8.tar.gz] [--runs 7]

``--summaries REPO`` measures only the read path of cached summaries (issue 16): on a copy
of REPO (a git repository whose ``.git/tinygen/summaries.json`` is filled), warm
``map --budget 4000 -Q ... --summaries`` against warm ``map`` without it, interleaved, min
of ``--runs`` each, and their ratio; ``--against SRC`` (a folder holding an older
``tinygen`` package, e.g. from ``git archive``) runs the same pair with that code in the
same run, and every variant's ``--summaries`` output digest is printed (equal = the same
sheet).

    .venv/bin/python bench/bench_map.py --summaries /work/bench-data/django --runs 7 \
        [--against /tmp/tinygen-before]

The machine's baseline is printed in the same run: the load average and the wall time
of ``python -c pass`` (interpreter start-up), since wall times on a shared machine vary
with load, CPU times much less. The `tinygen map` subprocesses run with Python's
bytecode cache on (``PYTHONDONTWRITEBYTECODE`` unset, ``PYTHONPYCACHEPREFIX`` pointing
into the temporary folder, warmed by one run first), as an installed tinygen would.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

TARGETS = {"cold_ratio": 1.0, "warm": 0.25, "change": 0.35, "rss_mb": 500.0}
GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
}


def fetch(dest: Path, sdist: str | None) -> Path:
    if sdist is None:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--no-binary",
                ":all:",
                "django==5.2.8",
                "-d",
                str(dest),
                "-q",
            ],
            check=True,
        )
        sdist = str(next(dest.glob("[Dd]jango-5.2.8.tar.gz")))
    with tarfile.open(sdist) as tar:
        tar.extractall(dest / "src", filter="data")
    root = next((dest / "src").iterdir())
    env = {**os.environ, **GIT_ENV}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "django 5.2.8"]):
        subprocess.run(["git", *args], cwd=root, check=True, env=env)
    return root


CHILD_ENV: dict[str, str] = {}
CHILD_CWD: list[Path] = []


def run_map(root: Path, *args: str) -> tuple[float, float, float]:
    """(wall seconds, cpu seconds, peak RSS MB) of one `tinygen map` run."""
    return run_python(["-m", "tinygen", "map", str(root), *args])


def run_python(args: list[str]) -> tuple[float, float, float]:
    exe = [sys.executable, *args]
    start = time.perf_counter()
    # cwd: the temporary folder, so that `-m tinygen` imports the installed tinygen (or
    # PYTHONPATH's), never a checkout in the current directory.
    proc = subprocess.Popen(
        exe,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=CHILD_ENV or None,
        cwd=CHILD_CWD[0] if CHILD_CWD else None,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args[:3])} failed ({proc.returncode}): {err}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def run_output(args: list[str], env: dict[str, str]) -> str:
    proc = subprocess.run(
        [sys.executable, *args], env=env, cwd=CHILD_CWD[0], capture_output=True, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args[:3])} failed ({proc.returncode}): {proc.stderr!r}")
    return hashlib.sha1(proc.stdout).hexdigest()[:12]


def summaries_read_path(source: Path, runs: int, against: Path | None) -> None:
    """Warm `map --summaries` against warm `map` on a copy of ``source`` (see the module
    docstring); with ``against``, the same with the older code in the same run."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-map-summaries-"))
    try:
        root = tmp / "repo"
        shutil.copytree(source, root, symlinks=True)  # the reads may write cache files
        subprocess.run(["git", "update-index", "-q", "--refresh"], cwd=root, check=False)
        CHILD_ENV.update(os.environ)
        CHILD_ENV.pop("PYTHONDONTWRITEBYTECODE", None)
        CHILD_ENV["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
        CHILD_CWD.append(tmp)
        variants = {"now": dict(CHILD_ENV)}
        if against is not None:
            variants["against"] = {**CHILD_ENV, "PYTHONPATH": str(against.resolve())}
        ask = ["--budget", "4000", "-Q", "QuerySet.bulk_create ignores batch_size"]
        print(f"repository: {source} (copied)  cores: {os.cpu_count()}")
        print(f"load at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        timed: dict[tuple[str, bool], list[tuple[float, float, float]]] = {}
        for name, env in variants.items():
            CHILD_ENV.clear()
            CHILD_ENV.update(env)
            which = subprocess.run(
                [sys.executable, "-c", "import tinygen; print(tinygen.__file__)"],
                env=env,
                cwd=tmp,
                capture_output=True,
                text=True,
            ).stdout.strip()
            digest = run_output(["-m", "tinygen", "map", str(root), *ask, "--summaries"], env)
            print(f"{name}: tinygen {which}; --summaries output sha1 {digest}")
            for with_summaries in (False, True):  # warm-up: caches, bytecode
                run_map(root, *ask, *(["--summaries"] if with_summaries else []))
        for _ in range(runs):
            for name, env in variants.items():
                CHILD_ENV.clear()
                CHILD_ENV.update(env)
                for with_summaries in (False, True):
                    extra = ["--summaries"] if with_summaries else []
                    timed.setdefault((name, with_summaries), []).append(run_map(root, *ask, *extra))
        print(f"warm, min of {runs} (wall / cpu):")
        for name in variants:
            plain = timed[(name, False)]
            summ = timed[(name, True)]
            pw, pc = min(r[0] for r in plain), min(r[1] for r in plain)
            sw, sc = min(r[0] for r in summ), min(r[1] for r in summ)
            print(
                f"  {name:<8} map {pw:.3f} / {pc:.3f} s   map --summaries {sw:.3f} / {sc:.3f} s"
                f"   ratio {sw / pw:.2f} wall, {sc / pc:.2f} cpu;"
                f" extra {sw - pw:+.3f} s wall, {sc - pc:+.3f} s cpu"
            )
        print(f"load at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def floor(root: Path) -> tuple[float, int, int]:
    """Single-core read + parse of the files the sheet parses: (seconds, files, bytes)."""
    from tinygen.sheet import build_sheet
    from tinygen.sheet.languages import get_parser, is_parsed

    sheet = build_sheet(root)
    files = [
        (f.path, f.language)
        for f in sheet.files
        if is_parsed(f.language) and "symlink" not in f.flags
    ]
    for lang in {lang for _, lang in files}:
        get_parser(lang or "")
    total = 0
    start = time.perf_counter()
    for path, lang in files:
        data = (root / path).read_bytes()
        get_parser(lang or "").parse(data)
        total += len(data)
    return time.perf_counter() - start, len(files), total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sdist", help="a local Django-5.2.8.tar.gz instead of pip download")
    ap.add_argument("--runs", type=int, default=7, help="runs for the warm/changed medians")
    ap.add_argument("--keep", action="store_true", help="keep the temporary repository")
    ap.add_argument("--summaries", type=Path, help="measure only the summaries read path here")
    ap.add_argument("--against", type=Path, help="with --summaries: older code to compare")
    opts = ap.parse_args()
    if opts.summaries is not None:
        summaries_read_path(opts.summaries, opts.runs, opts.against)
        return
    tmp = Path(tempfile.mkdtemp(prefix="bench-map-"))
    try:
        root = fetch(tmp, opts.sdist)
        cache_dir = root / ".git" / "tinygen"
        CHILD_ENV.update(os.environ)
        CHILD_ENV.pop("PYTHONDONTWRITEBYTECODE", None)
        CHILD_ENV["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
        CHILD_CWD.append(tmp)
        run_python(["-m", "tinygen", "--version"])  # compiles tinygen's bytecode once
        which = subprocess.run(
            [sys.executable, "-c", "import tinygen; print(tinygen.__file__)"],
            env=CHILD_ENV,
            cwd=tmp,
            capture_output=True,
            text=True,
        ).stdout.strip()
        print(f"tinygen under test: {which}")
        startup = statistics.median(run_python(["-c", "pass"])[0] for _ in range(7))
        print(f"repository: {root}  cores: {os.cpu_count()}  load: {os.getloadavg()[0]:.2f}")
        print(f"baseline: python -c pass {startup:.3f} s wall (median of 7)")

        floors = [floor(root) for _ in range(3)]
        raw, n_files, n_bytes = min(floors)
        print(
            f"floor: read+parse {n_files} files ({n_bytes / 1e6:.1f} MB) on one core: {raw:.3f} s (best of 3)"
        )

        colds = []
        for _ in range(3):
            shutil.rmtree(cache_dir, ignore_errors=True)
            colds.append(run_map(root))
        cold = min(colds, key=lambda r: r[0])
        warms = [run_map(root) for _ in range(opts.runs)]
        target = root / "django" / "db" / "models" / "query.py"
        original = target.read_bytes()
        changes = []
        for i in range(opts.runs):
            target.write_bytes(original + f"# bench edit {i}\n".encode())
            changes.append(run_map(root))
        target.write_bytes(original)
        ask = ("--query", "QuerySet.bulk_create in django/db/models/query.py", "--budget", "8000")
        first_query = run_map(root, *ask)
        query = [run_map(root, *ask) for _ in range(3)]
        shutil.rmtree(cache_dir, ignore_errors=True)
        cold_query = run_map(root, *ask)

        def med(rows: list[tuple[float, float, float]], k: int) -> float:
            return statistics.median(r[k] for r in rows)

        rss = max(r[2] for r in [*colds, *warms, *changes, first_query, *query, cold_query])
        print(
            f"cold (best of 3):      wall {cold[0]:.3f} s  cpu {cold[1]:.3f} s  "
            f"(all: {', '.join(f'{r[0]:.2f}' for r in colds)})"
        )
        print(
            f"warm (median of {opts.runs}):   wall {med(warms, 0):.3f} s  cpu {med(warms, 1):.3f} s  "
            f"(min wall {min(r[0] for r in warms):.3f})"
        )
        print(
            f"one change (median):   wall {med(changes, 0):.3f} s  cpu {med(changes, 1):.3f} s  "
            f"(min wall {min(r[0] for r in changes):.3f})"
        )
        print(
            f"query+budget 8000, first after unranked builds: wall {first_query[0]:.3f} s  "
            f"cpu {first_query[1]:.3f} s"
        )
        print(
            f"query+budget 8000 warm (median of 3): wall {med(query, 0):.3f} s  cpu {med(query, 1):.3f} s"
        )
        print(
            f"query+budget 8000 cold (no cache):    wall {cold_query[0]:.3f} s  cpu {cold_query[1]:.3f} s"
        )
        print(f"peak RSS (one process): {rss:.0f} MB")
        print("against targets:")
        rows = [
            ("cold / floor", cold[0] / raw, TARGETS["cold_ratio"], "x"),
            ("warm", med(warms, 0), TARGETS["warm"], "s"),
            ("one change", med(changes, 0), TARGETS["change"], "s"),
            ("peak RSS", rss, TARGETS["rss_mb"], "MB"),
        ]
        for name, value, limit, unit in rows:
            verdict = "ok" if value <= limit else "MISSED"
            print(
                f"  {name:<13} {value:8.3f} {unit:<2} target <= {limit} {unit}  ratio {value / limit:.2f}  {verdict}"
            )
        startup_end = statistics.median(run_python(["-c", "pass"])[0] for _ in range(7))
        print(f"load at end: {os.getloadavg()[0]:.2f}  python -c pass {startup_end:.3f} s")
    finally:
        if opts.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
