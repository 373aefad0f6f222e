"""A corpus of real diffs: changed .py files between two released versions of small
pure-Python packages, downloaded from PyPI as sdists (cached, never committed).

Used by ``bench/bench_patch.py`` and ``tests/test_patch_history.py``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

# (package, older version, newer version): small, pure Python, with real code changes.
RELEASES = [
    ("six", "1.15.0", "1.16.0"),
    ("toml", "0.10.1", "0.10.2"),
    ("itsdangerous", "2.1.1", "2.1.2"),
    ("packaging", "23.1", "23.2"),
    ("click", "8.1.6", "8.1.7"),
    ("requests", "2.31.0", "2.32.0"),
    ("attrs", "23.1.0", "23.2.0"),
    ("urllib3", "2.0.7", "2.1.0"),
    ("jinja2", "3.1.2", "3.1.3"),
]
MAX_FILE_BYTES = 200_000


@dataclass(frozen=True)
class Case:
    name: str  # package/path
    path: str
    before: str
    after: str


def cache_dir() -> Path:
    d = Path(tempfile.gettempdir()) / "tinygen-patch-corpus"
    d.mkdir(parents=True, exist_ok=True)
    return d


def download(package: str, version: str) -> Path:
    """The sdist of ``package==version`` (from the cache, or downloaded with pip)."""
    d = cache_dir() / f"{package}-{version}"
    found = sorted(d.glob("*.tar.gz")) if d.exists() else []
    if found:
        return found[0]
    d.mkdir(parents=True, exist_ok=True)
    # Downloaded beside, then renamed into place: parallel test workers may fetch the same
    # sdist at once, and none may read another's half-written file.
    with tempfile.TemporaryDirectory(dir=d, prefix=".download-") as tmp:
        cmd = [
            sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
            "--no-binary", ":all:", f"{package}=={version}", "-d", tmp,
        ]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        for sdist in Path(tmp).glob("*.tar.gz"):
            os.replace(sdist, d / sdist.name)
    found = sorted(d.glob("*.tar.gz"))
    if proc.returncode != 0 and not found:
        raise RuntimeError(f"pip download {package}=={version} failed: {proc.stderr[-2000:]}")
    if not found:
        raise RuntimeError(f"pip download {package}=={version} gave no .tar.gz sdist")
    return found[0]


def _py_files(sdist: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    with tarfile.open(sdist) as tar:
        for member in tar.getmembers():
            if not member.isfile() or not member.name.endswith(".py"):
                continue
            if member.size > MAX_FILE_BYTES:
                continue
            rel = member.name.split("/", 1)[1] if "/" in member.name else member.name
            fh = tar.extractfile(member)
            if fh is None:
                continue
            try:
                out[rel] = fh.read().decode("utf-8")
            except UnicodeDecodeError:
                continue
    return out


def build_cases() -> list[Case]:
    cases: list[Case] = []
    for package, old, new in RELEASES:
        a, b = _py_files(download(package, old)), _py_files(download(package, new))
        for path in sorted(set(a) & set(b)):
            if a[path] != b[path]:
                cases.append(Case(f"{package}/{path}", path, a[path], b[path]))
    return cases


def _skeleton(lines: list[str]) -> list[str]:
    return [ln.strip() for ln in lines if ln.strip()]


def locations_unique(a: str, diff: str) -> bool:
    """Every hunk's before-text, ignoring whitespace and blank lines, occurs once in ``a``."""
    file_keys = _skeleton(re.split(r"\r?\n", a))
    for body in re.split(r"(?m)^@@.*$", diff)[1:]:
        old = [
            ln[1:].rstrip("\r")
            for ln in body.split("\n")
            if ln[:1] in (" ", "-") and not ln.startswith(("--- ", "diff "))
        ]
        keys = _skeleton(old)
        if not keys:
            return False
        hits = 0
        first = keys[0]
        for i, k in enumerate(file_keys):
            if k == first and file_keys[i : i + len(keys)] == keys:
                hits += 1
        if hits != 1:
            return False
    return True
