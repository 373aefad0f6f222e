"""Real history: diffs between released versions of PyPI packages, corrupted every way.

The sdists are downloaded once per machine (cached in the temp dir); a failed download
fails the test, it is never skipped.
"""

from __future__ import annotations

import pytest

from bench.patch_corpus import Case, build_cases, locations_unique
from tinygen.errors import PatchError
from tinygen.patch import apply_patch, canonical_diff
from tinygen.testing.corrupt import CORRUPTIONS


@pytest.fixture(scope="session")
def real_cases() -> list[Case]:
    cases = build_cases()
    assert len(cases) >= 50, "the corpus should hold at least 50 changed files"
    return cases


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
def test_real_diffs_corrupted(kind: str, real_cases: list[Case]) -> None:
    exact = refused = unique_total = unique_exact = 0
    for i, case in enumerate(real_cases):
        diff = canonical_diff({case.path: case.before}, {case.path: case.after})
        loose = CORRUPTIONS[kind](diff, i)
        try:
            got = apply_patch({case.path: case.before}, loose).after.get(case.path, case.before)
        except PatchError:
            got = None
        assert got is None or got == case.after, f"wrong result: {case.name} ({kind})"
        exact += got is not None
        refused += got is None
        if locations_unique(case.before, diff):
            unique_total += 1
            unique_exact += got is not None
    if kind == "misquoted-line":  # a misquoted line must never be "found": all refused
        assert exact == 0, (kind, exact)
        return
    if kind == "stacked":  # several mistakes at once: refusals are fine, wrong results not
        return
    assert unique_total and unique_exact / unique_total >= 0.99, (kind, unique_exact, unique_total)
    if kind == "none":
        assert refused == 0  # a pristine canonical diff always applies
