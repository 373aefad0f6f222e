"""Localization cases for bench_localize.py: request text -> the non-test files a fix changed.

Two sources:

* ``swe-bench-lite-dev``: the SWE-bench Lite dev split (``shared/data``), text = the
  problem statement, gold = the non-test ``.py`` files of the real patch;
* ``commits``: fix commits of public Python projects, chosen by ``build`` below and kept
  in ``localize_cases.jsonl`` (text = the commit message, gold = the non-test ``.py``
  files the commit changed, base = its first parent).

How commits are chosen (deterministic, newest first, per repository, no hand-picking):
not a merge; a subject that says it fixes something (``fix``, ``bug``, ``crash``,
``error``, ``wrong``, ``incorrect``, ``regression``, ``broken``, ``fail``, ``handle``,
``raise``) and is not a revert, a version bump or a pre-commit update; a message of at
least 40 characters once trailers (``Signed-off-by`` ...) are removed; a subject not
about typos, linters, typing, docs, formatting, CI or tests (those fixes describe no
behaviour to find); 1 to 3 changed
non-test ``.py`` files and at most 12 changed files in all; at most ``PER_REPO`` cases.
The repositories are medium-sized pure-Python projects with descriptive commit messages,
none of those the issue excludes (they are SWE-bench's own), and none of the SWE-bench
Lite dev repositories (so that source stays held out). Split by repository: ``DEV``
repositories tune the weights, the others are held out.

Repositories are read from bare mirrors (``--mirrors``, default /work/.mirror, one
``owner+name/repo`` git directory each, as the search tool's ``fetch`` makes them) and
checked out into clones under ``~/.cache/tinygen-bench/repos`` (never inside this
repository).
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
CASES_FILE = HERE / "localize_cases.jsonl"
SWE_FILE = HERE.parent.parent / "shared" / "data" / "swe-bench-lite-dev.jsonl"
MIRRORS = Path("/work/.mirror")
CLONES = Path.home() / ".cache" / "tinygen-bench" / "repos"

COMMIT_REPOS = (
    "pallets/click",
    "python-attrs/attrs",
    "Textualize/rich",
    "networkx/networkx",
    "encode/httpx",
    "pallets/werkzeug",
    "scrapy/scrapy",
    "pallets/jinja",
)
DEV = frozenset({"pallets/click", "python-attrs/attrs", "Textualize/rich", "networkx/networkx"})
PER_REPO = 22

_FIX = re.compile(
    r"\b(?:fix(?:e[sd])?|bug|crash(?:es|ed)?|error|wrong|incorrect(?:ly)?|regression|"
    r"broken|fail(?:s|ed|ure)?|handle[sd]?|raise[sd]?)\b",
    re.IGNORECASE,
)
_SKIP_SUBJECT = re.compile(
    r"^(?:revert|bump|merge|\[pre-commit|pre-commit|release)|\b(?:typos?|lint|ruff|flake8|"
    r"mypy|pyright|type hints?|typing|annotations?|docs?|docstrings?|spelling|codespell|"
    r"whitespace|formatting|style|deprecation warnings?|ci|tests?)\b",
    re.I,
)
_TRAILER = re.compile(r"^(?:[A-Z][\w-]*-by|Co-authored-by|Change-Id|Closes|Refs?):.*$", re.M)
_TEST = re.compile(
    r"(?:^|/)(?:tests?|testing)/|(?:^|/)(?:test_[^/]*|[^/]*_tests?\.py|conftest\.py)$"
)


@dataclass(frozen=True)
class Case:
    source: str  # "swe-bench-lite-dev" | "commits"
    repo: str  # owner/name
    base: str  # the commit whose tree is searched
    text: str  # the request
    gold: tuple[str, ...]  # non-test .py files the fix changed
    name: str  # instance id or fix commit

    @property
    def split(self) -> str:
        if self.source != "commits":
            return "held-out"
        return "dev" if self.repo in DEV else "held-out"


def is_test(path: str) -> bool:
    return bool(_TEST.search(path))


def gold_of(paths: list[str]) -> tuple[str, ...]:
    return tuple(p for p in paths if p.endswith(".py") and not is_test(p))


def git(repo: Path, *args: str) -> str:
    out = subprocess.run(["git", *args], cwd=repo, capture_output=True, check=True)
    return out.stdout.decode("utf-8", "replace")


def mirror(mirrors: Path, repo: str) -> Path:
    path = mirrors / repo.replace("/", "+") / "repo"
    if not path.is_dir():
        raise SystemExit(f"no mirror of {repo} at {path}: fetch it first (github:{repo})")
    return path


def swe_cases(path: Path = SWE_FILE) -> list[Case]:
    out = []
    for line in path.read_text().splitlines():
        d = json.loads(line)
        changed = re.findall(r"^diff --git a/(\S+) b/", d["patch"], re.M)
        gold = gold_of(changed)
        if gold:
            out.append(
                Case(
                    "swe-bench-lite-dev",
                    d["repo"],
                    d["base_commit"],
                    d["problem_statement"],
                    gold,
                    d["instance_id"],
                )
            )
    return out


def commit_cases(path: Path = CASES_FILE) -> list[Case]:
    out = []
    for line in path.read_text().splitlines():
        d = json.loads(line)
        out.append(Case("commits", d["repo"], d["base"], d["text"], tuple(d["gold"]), d["commit"]))
    return out


def clean_message(message: str) -> str:
    text = _TRAILER.sub("", message)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def build(mirrors: Path = MIRRORS, per_repo: int = PER_REPO) -> list[dict[str, object]]:
    """Choose the commit cases (see the module docstring)."""
    rows: list[dict[str, object]] = []
    for repo in COMMIT_REPOS:
        git_dir = mirror(mirrors, repo)
        log = git(git_dir, "log", "--no-merges", "--format=%x00%H %P%x01%B", "--name-only", "HEAD")
        taken = 0
        for block in log.split("\0")[1:]:
            head, _, rest = block.partition("\x01")
            ids = head.split()
            if len(ids) != 2:
                continue  # a root commit or a merge
            message, _, names = rest.rpartition("\n\n")
            if not names.strip() or "\n" not in rest:
                continue
            subject = message.strip().split("\n", 1)[0]
            changed = [n for n in names.strip().splitlines() if n]
            text = clean_message(message)
            gold = gold_of(changed)
            if (
                not _FIX.search(subject)
                or _SKIP_SUBJECT.search(subject)
                or len(text) < 40
                or not 1 <= len(gold) <= 3
                or len(changed) > 12
            ):
                continue
            rows.append(
                {"repo": repo, "commit": ids[0], "base": ids[1], "text": text, "gold": list(gold)}
            )
            taken += 1
            if taken >= per_repo:
                break
    return rows


def write_cases(rows: list[dict[str, object]], path: Path = CASES_FILE) -> None:
    with path.open("w") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def checkout(mirrors: Path, repo: str, commit: str) -> Path:
    """A clone of ``repo`` (outside this repository) with ``commit`` checked out."""
    dest = CLONES / repo.replace("/", "+")
    if not (dest / ".git").is_dir():
        dest.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["git", "clone", "-q", "--no-checkout", str(mirror(mirrors, repo)), str(dest)],
            check=True,
        )
    # The mirrors lack blobs of 4 MiB and more (data files): git then fails on those alone
    # and leaves them missing, which the sheet skips as deleted; HEAD must have moved.
    subprocess.run(
        ["git", "-c", "advice.detachedHead=false", "checkout", "-q", "-f", commit],
        cwd=dest,
        capture_output=True,
        check=False,
    )
    if git(dest, "rev-parse", "HEAD").strip() != commit:
        raise SystemExit(f"{repo}: cannot check out {commit}")
    subprocess.run(["git", "clean", "-q", "-f", "-d", "-x", "-e", ".git"], cwd=dest, check=True)
    return dest


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description="rebuild localize_cases.jsonl from the mirrors")
    ap.add_argument("--mirrors", type=Path, default=MIRRORS)
    opts = ap.parse_args()
    found = build(opts.mirrors)
    write_cases(found)
    print(f"{len(found)} cases written to {CASES_FILE}")
