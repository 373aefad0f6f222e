"""Issue 12 item 20 (two of its parts): `map --stats` counts that add up, and multi-line
signatures without the trailing comma of their last parameter."""

from __future__ import annotations

import os
import re
from pathlib import Path

from tests.conftest import RepoFactory
from tests.helpers import commit_all, git
from tinygen.sheet import FileEntry, build_sheet
from tinygen.sheet.model import SheetStats


def signatures(f: FileEntry) -> dict[str, str]:
    return {s.name: s.signature for s in f.symbols}


def test_stats_add_up_with_files_skipped_for_every_reason(make_repo: RepoFactory) -> None:
    """Files skipped after their contents were read (binary, minified by content) are cache
    hits too: the summary says hits and misses are of the files looked up, and seen =
    listed + skipped."""
    root = make_repo(
        {
            "a.py": "def a():\n    return 1\n",
            "b.py": "def b():\n    return 2\n",
            "blob.dat": b"\x00\x01\x02binary",
            "package-lock.json": "{}\n",  # skipped by its path, never read
            "gone.py": "x = 1\n",
            "big.js": "var a=1;" * 2000,  # one long line: minified, by content
        }
    )
    os.symlink("a.py", root / "link.py")
    git(root, "add", "link.py")
    commit_all(root, "link")
    (root / "gone.py").unlink()  # deleted in the work tree
    for sheet in (build_sheet(root), build_sheet(root)):  # cold, then from the cache
        stats = sheet.stats
        assert stats.files_seen == stats.files_listed + sum(stats.skipped.values())
        assert stats.looked_up == stats.cache_hits + stats.cache_misses <= stats.files_seen
        line = stats.summary()
        seen, listed, skipped = map(
            int, re.search(r"seen (\d+) = listed (\d+) .*\+ skipped (\d+)", line).groups()
        )
        assert seen == listed + skipped
        looked, hits, misses = map(
            int, re.search(r"(\d+) file\(s\) looked up = hits (\d+) \+ misses (\d+)", line).groups()
        )
        assert looked == hits + misses
        assert stats.as_dict()["looked_up"] == looked
    assert stats.cache_hits > stats.files_listed - 1  # hits may pass the listed count ...
    assert stats.skipped.get("binary") and stats.skipped.get("lock-file")  # ... said why


def test_multi_line_signatures_lose_their_trailing_comma(tmp_path: Path) -> None:
    from tests.helpers import init_repo

    root = init_repo(tmp_path / "r")
    (root / "m.py").write_text(
        "def f(\n    a: int,\n    b: bool = False,\n) -> None:\n    pass\n\n\n"
        "class C(\n    Base,\n):\n    def m(\n        self,\n        *,\n        flag=(1,),\n"
        "    ):\n        return flag\n\n\n"
        "def g(a, b,): pass\n\n\n"
        "def t(x=(\n    1,\n)): pass\n"
    )
    (root / "m.ts").write_text("function f(\n  a: number,\n  b: boolean = false,\n): void {}\n")
    (root / "m.go").write_text(
        "package m\n\nfunc F(\n\ta int,\n\tb string,\n) error {\n\treturn nil\n}\n"
    )
    commit_all(root, "code")
    files = {f.path: f for f in build_sheet(root).files}
    py = signatures(files["m.py"])
    assert py["f"] == "def f(a: int, b: bool = False) -> None"
    assert py["C"] == "class C(Base)"
    assert py["m"] == "def m(self, *, flag=(1,))"  # a one-element tuple keeps its comma
    assert py["g"] == "def g(a, b,)"  # written on one line: as written
    assert signatures(files["m.ts"])["f"] == "function f(a: number, b: boolean = false): void"
    assert signatures(files["m.go"])["F"] == "func F(a int, b string) error"


def test_a_summary_of_nothing() -> None:
    assert "seen 0 = listed 0 (parsed 0) + skipped 0;" in SheetStats().summary()
