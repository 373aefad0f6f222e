"""What kind of file a path is, for ranking: a test, a supporting file, or code."""

from __future__ import annotations

import re

CODE, TEST, ASIDE = 0, 1, 2

_TEST_PART = re.compile(r"(?:^|/)(?:tests?|testing|test_?utils)/")
_TEST_NAME = re.compile(
    r"(?:^|/)(?:test_[^/]*|[^/]*_tests?\.[a-z]+|conftest\.py|[^/]*\.(?:spec|test)\.[jt]sx?)$"
)
# Folders whose files support the project rather than make it.
_ASIDE = re.compile(r"(?:docs?|examples?|benchmarks?|bench|scripts|tools|\.github)/")


def is_test_path(path: str) -> bool:
    """Whether a path is a test file: under a ``tests``/``test``/``testing`` folder, or
    named ``test_*``, ``*_test(s)``, ``conftest.py``, ``*.spec.js``/``*.test.ts``."""
    return bool(_TEST_PART.search(path) or _TEST_NAME.search(path))


def kind_of(path: str) -> int:
    if is_test_path(path):
        return TEST
    return ASIDE if _ASIDE.match(path) else CODE


__all__ = ["ASIDE", "CODE", "TEST", "is_test_path", "kind_of"]
