"""Extraction checked against Python's own parser on the whole standard library.

The oracle, precisely: for every ``.py`` file under the running interpreter's stdlib
directory (``sysconfig.get_paths()["stdlib"]``, site-packages excluded) that ``ast.parse``
accepts, the set of ``(name, line)`` pairs of

* every ``def``/``async def``/``class`` at module level, where "module level" also covers
  the bodies of module-level compound statements (``if``/``elif``/``else``, ``try``/
  ``except``/``else``/``finally``, ``with``, ``for``/``while`` + ``else``, ``match`` cases)
  — ast calls these top-level too: they bind module names;
* every ``def``/``async def``/``class`` in the body of such a class (methods and nested
  classes), recursively for nested classes, through the same compound statements;

and nothing inside function bodies. ``line`` is ``lineno`` (the ``def``/``class`` line,
not a decorator's). The sheet's symbols of kind class/function/method must give exactly
the same set per file: recall and precision are both printed and must be 100 %.

Files where tree-sitter's grammar reports an error go through the ``ast`` fallback
(see extract_python_ast); the test prints how many did, so that path stays visible.
"""

from __future__ import annotations

import ast
import sysconfig
import warnings
from pathlib import Path

import pytest

from tinygen.sheet.scan import extract

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_BLOCKS = ("body", "orelse", "finalbody", "handlers", "cases")


def oracle(tree: ast.Module) -> set[tuple[str, int]]:
    out: set[tuple[str, int]] = set()

    def walk(stmts: list[ast.AST]) -> None:
        for node in stmts:
            if isinstance(node, _SCOPES):
                out.add((node.name, node.lineno))
                if isinstance(node, ast.ClassDef):
                    walk(list(node.body))
                continue  # function bodies: not part of the oracle
            for field in _BLOCKS:  # compound statements, except handlers, match cases
                walk(list(getattr(node, field, None) or []))

    walk(list(tree.body))
    return out


def stdlib_files() -> list[Path]:
    std = Path(sysconfig.get_paths()["stdlib"])
    return sorted(p for p in std.rglob("*.py") if "site-packages" not in p.parts)


# The library is checked in shards (every SHARDS-th file) so that parallel test workers
# share the work; together they cover every file, and each shard's floor is its share of
# the whole library's (over 1000 files and 40000 definitions).
SHARDS = 6


@pytest.mark.parametrize("shard", range(SHARDS))
def test_stdlib_definitions_match_ast_exactly(shard: int) -> None:
    expected_total = found_total = true_pos = files = fallback = 0
    mismatches: list[str] = []
    for path in stdlib_files()[shard::SHARDS]:
        data = path.read_bytes()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tree = ast.parse(data)
        except (SyntaxError, ValueError):
            continue  # the oracle only covers files ast parses (lib2to3 test data etc.)
        files += 1
        expected = oracle(tree)
        record = extract(data, "python")
        fallback += "ast-fallback" in record.flags
        got = {(s[0], s[2]) for s in record.symbols if s[1] in ("class", "function", "method")}
        expected_total += len(expected)
        found_total += len(got)
        true_pos += len(expected & got)
        if expected != got and len(mismatches) < 10:
            mismatches.append(
                f"{path}: missing {sorted(expected - got)[:3]} extra {sorted(got - expected)[:3]}"
            )
    recall = true_pos / expected_total
    precision = true_pos / found_total
    print(
        f"\nstdlib oracle, shard {shard + 1}/{SHARDS}: {files} files, {expected_total} definitions; "
        f"recall {recall:.4%}, precision {precision:.4%}; "
        f"{fallback} files extracted with ast after a tree-sitter syntax error"
    )
    assert files * SHARDS > 1000 and expected_total * SHARDS > 40000
    assert not mismatches, "\n".join(mismatches)
    assert recall == 1.0 and precision == 1.0
