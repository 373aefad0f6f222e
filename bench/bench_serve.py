"""Throughput and latency of `tinygen serve` against the fake Messages API.

Submits N jobs at once (from N client threads) to a real uvicorn server on loopback, for
several worker counts. Every job is a full pipeline run on a local bare repository: plan
one file, edit it, approve — three model calls, each delayed by ``--delay`` seconds at the
fake server. Prints wall time, throughput, p50/p95 job latency (submit -> finished, from
the server's own timestamps) and the ideal time (calls x delay x jobs / workers), and
checks that no job was lost or ran twice (the fake server's requests are counted per job).

    .venv/bin/python bench/bench_serve.py [--jobs 50] [--delay 0.2] [--workers 1 2 4]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from tests.fakes.anthropic_server import FakeAnthropic, RecordedRequest, ToolReply
from tinygen.server.config import ServerConfig
from tinygen.server.serving import serve_in_thread

CALLS_PER_JOB = 3
CONFIG_PY = (
    '"""Configuration loading."""\n\nimport json\n\n\n'
    "def load_cfg(path: str) -> dict:\n"
    "    with open(path) as fh:\n"
    "        return json.load(fh)\n"
)
EDIT_DIFF = (
    "--- a/app/config.py\n+++ b/app/config.py\n@@ ... @@\n"
    " import json\n \n \n-def load_cfg(path: str) -> dict:\n+def load_config(path: str) -> dict:\n"
)


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def isolated_home(base: Path) -> None:
    """This process (and the servers it starts) get a home of their own under ``base``:
    no user git config or caches, no TINYGEN_/GITHUB_ variables from the caller."""
    home = base / "home"
    home.mkdir()
    os.environ.update(
        {
            "HOME": str(home),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
            "GIT_AUTHOR_NAME": "bench",
            "GIT_AUTHOR_EMAIL": "bench@example.invalid",
            "GIT_COMMITTER_NAME": "bench",
            "GIT_COMMITTER_EMAIL": "bench@example.invalid",
        }
    )
    (home / ".gitconfig").write_text('[protocol "file"]\n\tallow = always\n')
    for name in [n for n in os.environ if n.startswith(("TINYGEN_", "GITHUB_"))]:
        del os.environ[name]


def make_remote(base: Path) -> str:
    work = base / "work"
    (work / "app").mkdir(parents=True)
    (work / "app" / "__init__.py").write_text("")
    (work / "app" / "config.py").write_text(CONFIG_PY)
    git(work, "init", "--quiet", "--initial-branch=main")
    git(work, "add", "-A")
    git(work, "commit", "--quiet", "-m", "initial")
    git(base, "clone", "--bare", "--quiet", str(work), str(base / "remote.git"))
    return f"file://{base / 'remote.git'}"


def script(fake: FakeAnthropic) -> None:
    plan = {
        "summary": "Rename it.",
        "title": "Rename load_cfg",
        "files": [{"path": "app/config.py", "action": "modify", "intent": "Rename load_cfg."}],
    }
    fake.on("submit_plan", lambda r: ToolReply(plan))
    fake.on("write_file_change", lambda r: ToolReply({"diff": EDIT_DIFF, "notes": ""}))
    fake.on(
        "submit_review", lambda r: ToolReply({"approved": True, "summary": "ok", "revisions": []})
    )


def job_of(request: RecordedRequest) -> str | None:
    text = request.system_text + request.text
    start = text.find("bench-job-")
    return text[start : start + len("bench-job-000")] if start >= 0 else None


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def run(workers: int, jobs: int, delay: float, url: str, base: Path) -> dict[str, Any]:
    config = ServerConfig(
        port=0,
        workers=workers,
        queue_size=jobs,
        db_path=base / f"jobs-{workers}-{jobs}.sqlite3",
        allow_local=True,
        cache_dir=base / "clones",
        poll_interval=0.2,
    )
    with FakeAnthropic(delay=delay) as fake:
        script(fake)
        os.environ["ANTHROPIC_API_KEY"] = fake.api_key
        os.environ["ANTHROPIC_BASE_URL"] = fake.base_url
        server = serve_in_thread(config)
        try:
            with httpx.Client(base_url=server.url, timeout=120) as client:

                def submit(n: int) -> str:
                    body = {"repoUrl": url, "prompt": f"Rename load_cfg (bench-job-{n:03d})"}
                    response = client.post("/jobs", json=body)
                    response.raise_for_status()
                    return str(response.json()["id"])

                with ThreadPoolExecutor(jobs) as pool:
                    ids = list(pool.map(submit, range(jobs)))
                while True:
                    views = [client.get(f"/jobs/{i}").json() for i in ids]
                    if all(v["state"] in ("succeeded", "failed", "cancelled") for v in views):
                        break
                    time.sleep(0.2)
                listed = client.get("/jobs", params={"limit": 200}).json()["jobs"]
        finally:
            server.stop()
        per_job = Counter(job_of(r) for r in fake.requests)
    for v in views:
        if v["state"] != "succeeded" or v["result"]["status"] != "approved":
            outcome = v["error"] or {k: v["result"][k] for k in ("status", "message")}
            print(f"  job {v['id']}: {v['state']}: {outcome}", file=sys.stderr)
    latencies = [v["finishedAt"] - v["createdAt"] for v in views]
    wall = max(v["finishedAt"] for v in views) - min(v["createdAt"] for v in views)
    return {
        "workers": workers,
        "wall": wall,
        "throughput": jobs / wall,
        "p50": statistics.median(latencies),
        "p95": percentile(latencies, 0.95),
        "ideal": CALLS_PER_JOB * delay * jobs / workers,
        "succeeded": sum(
            v["state"] == "succeeded" and v["result"]["status"] == "approved" for v in views
        ),
        "lost": jobs - len({v["id"] for v in listed} & set(ids)),
        "twice": sum(1 for n in range(jobs) if per_job[f"bench-job-{n:03d}"] > CALLS_PER_JOB),
        "missing_calls": sum(
            1 for n in range(jobs) if per_job[f"bench-job-{n:03d}"] < CALLS_PER_JOB
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--delay", type=float, default=0.2, help="seconds per model reply")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="tinygen-bench-serve-") as tmp:
        base = Path(tmp)
        isolated_home(base)
        url = make_remote(base)
        print(
            f"{args.jobs} jobs submitted at once; {CALLS_PER_JOB} model calls per job, "
            f"{args.delay:g} s each at the fake server"
        )
        print(
            f"{'workers':>7} {'wall s':>7} {'jobs/s':>7} {'p50 s':>6} {'p95 s':>6} "
            f"{'ideal s':>7} {'wall/ideal':>10} {'ok':>4} {'lost':>4} {'twice':>5}"
        )
        # Warm up outside the figures: SDK and tree-sitter imports, the clone cache.
        run(1, 1, 0.0, url, base)
        baseline = None
        for workers in args.workers:
            r = run(workers, args.jobs, args.delay, url, base)
            baseline = baseline or r["throughput"]
            print(
                f"{r['workers']:>7} {r['wall']:>7.2f} {r['throughput']:>7.2f} {r['p50']:>6.2f} "
                f"{r['p95']:>6.2f} {r['ideal']:>7.2f} {r['wall'] / r['ideal']:>10.2f} "
                f"{r['succeeded']:>4} {r['lost']:>4} {r['twice']:>5}"
                f"   speed-up x{r['throughput'] / baseline:.2f}"
                + (
                    f"  ({r['missing_calls']} job(s) with fewer calls)"
                    if r["missing_calls"]
                    else ""
                )
            )


if __name__ == "__main__":
    main()
