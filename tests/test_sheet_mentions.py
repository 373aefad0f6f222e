"""Mentions: the files a request names, from tracebacks, import lines, diff headers, URLs,
module names and file names, each with a strength (a boost, not a forced order)."""

from __future__ import annotations

import pytest

from tinygen.sheet.mentions import (
    EXACT,
    FILE_NAME,
    FRAME_LAST,
    MODULE,
    PACKAGE,
    find_mentions,
)
from tinygen.sheet.resolve import Resolver

PATHS = [
    "src/pkg/__init__.py",
    "src/pkg/core.py",
    "src/pkg/io/__init__.py",
    "src/pkg/io/readers.py",
    "src/pkg/io/writers.py",
    "src/pkg/ext/fast.py",
    "tests/test_core.py",
    "docs/conf.py",
    "README.md",
]


def modules() -> dict[str, str]:
    resolver = Resolver(PATHS)
    return {**resolver.rooted, **resolver.modules}


def strengths(query: str) -> dict[str, float]:
    return find_mentions(query, PATHS, modules()).strength


def test_traceback_frames_match_by_path_suffix_and_the_last_weighs_most() -> None:
    query = """Reading fails:
Traceback (most recent call last):
  File "/home/me/script.py", line 3, in <module>
    pkg.read("x.csv")
  File "/usr/lib/python3.12/site-packages/pkg/core.py", line 40, in read
    return readers.parse(path)
  File "/usr/lib/python3.12/site-packages/pkg/io/readers.py", line 7, in parse
    raise ValueError("bad header")
ValueError: bad header
"""
    found = find_mentions(query, PATHS, modules())
    assert found.strength["src/pkg/io/readers.py"] == FRAME_LAST
    assert found.strength["src/pkg/core.py"] < FRAME_LAST
    assert found.ordered()[:2] == ["src/pkg/io/readers.py", "src/pkg/core.py"]
    assert "src/pkg/__init__.py" not in found.strength  # script.py and stdlib frames: nothing


def test_pytest_style_frames() -> None:
    query = "src/pkg/core.py:12: in read\nsrc/pkg/io/writers.py:88: TypeError"
    got = strengths(query)
    assert got["src/pkg/io/writers.py"] == FRAME_LAST
    assert got["src/pkg/core.py"] < FRAME_LAST


def test_from_import_names_the_submodule_not_the_package() -> None:
    got = strengths("Reproduce:\n\n    >>> from pkg.io import readers\n    >>> readers.parse()\n")
    assert got["src/pkg/io/readers.py"] == MODULE
    assert "src/pkg/io/__init__.py" not in got


def test_from_package_import_a_name_is_a_weak_mention_of_the_package() -> None:
    got = strengths("```python\nfrom pkg import Reader\nReader().go()\n```")
    assert got == {"src/pkg/__init__.py": PACKAGE}


def test_dotted_names_in_a_src_layout() -> None:
    got = strengths("pkg.io.writers.Writer.flush loses data; see also pkg.core")
    assert got["src/pkg/io/writers.py"] == MODULE
    assert got["src/pkg/core.py"] == MODULE


def test_diff_headers_and_urls_are_exact() -> None:
    query = (
        "--- a/src/pkg/core.py\n+++ b/src/pkg/core.py\n"
        "see https://github.com/org/proj/blob/main/src/pkg/io/writers.py#L10-L20 and "
        "https://raw.githubusercontent.com/org/proj/v1.2/src/pkg/ext/fast.py"
    )
    got = strengths(query)
    assert got["src/pkg/core.py"] == EXACT
    assert got["src/pkg/io/writers.py"] == EXACT
    assert got["src/pkg/ext/fast.py"] == EXACT


def test_paths_file_names_and_non_matches() -> None:
    got = strengths("README.md is wrong, and readers.py too; nothing in lib/other/x.py")
    assert got == {"README.md": EXACT, "src/pkg/io/readers.py": FILE_NAME}


@pytest.mark.parametrize("query", ["", "   ", "fix the thing please"])
def test_nothing_named(query: str) -> None:
    assert strengths(query) == {}
