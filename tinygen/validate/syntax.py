"""Syntax delta: the syntax errors a change adds to a file.

Parsed languages (tree-sitter): every ERROR/MISSING node, keyed by its type and its source
text (whitespace collapsed); a key the file did not have before, or has more often now, is
a new problem. (Comparing counts alone would pass a change that fixes one error while
adding another.) JSON and TOML: the standard library's loaders; a file that loaded before
and no longer does. Python is also compiled by the running interpreter (``ast.parse``)
for indentation errors, which tree-sitter's error recovery accepts — a function whose body
a hunk split off (``def f():`` followed by code at its own level) — when the file had none
before (other syntax errors are left to tree-sitter, which knows syntax newer than the
running interpreter's). Only *new* problems count, so a file that already failed to parse can
still be edited. tree-sitter is imported lazily (through tinygen.sheet.languages).
"""

from __future__ import annotations

import ast
import json
import tomllib
import warnings
from collections import Counter
from pathlib import PurePosixPath

from tinygen.sheet.languages import get_parser, is_parsed, language_for_path

_KEY_TEXT = 80  # characters of an error node's text that identify it
_STDLIB = {".json": "json", ".toml": "toml"}


def syntax_problems(language: str, text: str) -> list[tuple[int, str]]:
    """(1-based line, "ERROR"|"MISSING <kind>") for every problem node, in order."""
    return [(line, kind) for line, kind, _ in _problem_nodes(language, text)]


def _problem_nodes(language: str, text: str) -> list[tuple[int, str, str]]:
    """(line, kind, key text) of every ERROR/MISSING node."""
    source = text.encode("utf-8")
    tree = get_parser(language).parse(source)
    out: list[tuple[int, str, str]] = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.is_missing:
            out.append((node.start_point[0] + 1, f"MISSING {node.type}", ""))
        elif node.is_error:
            snippet = source[node.start_byte : node.end_byte].decode("utf-8", "replace")
            out.append((node.start_point[0] + 1, "ERROR", " ".join(snippet.split())[:_KEY_TEXT]))
        if node.has_error:
            stack.extend(reversed(node.children))
    return sorted(out)


def has_syntax_check(path: str) -> bool:
    """Whether :func:`new_syntax_problems` can check files like ``path``."""
    if PurePosixPath(path).suffix.lower() in _STDLIB:
        return True
    language = language_for_path(path)
    return language is not None and is_parsed(language)


def _stdlib_error(kind: str, text: str) -> str | None:
    try:
        if kind == "json":
            json.loads(text)
        else:
            tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        return str(exc)
    except RecursionError:  # nested deeper than the parser goes: not known to be wrong
        return None
    return None


def new_syntax_problems(path: str, before: str | None, after: str | None) -> list[str]:
    """Messages for problems ``after`` has beyond those of ``before`` (empty: none, or the
    file's kind has no checker, see :func:`has_syntax_check`)."""
    if after is None:
        return []
    stdlib = _STDLIB.get(PurePosixPath(path).suffix.lower())
    if stdlib is not None:
        if before is not None and before.strip() and _stdlib_error(stdlib, before) is not None:
            return []  # it did not load before either
        if not after.strip() and stdlib == "json":
            return []  # an emptied JSON file is a choice, not a syntax error
        err = _stdlib_error(stdlib, after)
        return [f"{path}: not valid {stdlib.upper()} any more: {err}"] if err else []
    language = language_for_path(path)
    if language is None or not is_parsed(language):
        return []
    old = Counter((kind, key) for _, kind, key in _problem_nodes(language, before or ""))
    fresh = []
    for line, kind, key in _problem_nodes(language, after):
        if old[(kind, key)] > 0:
            old[(kind, key)] -= 1
        else:
            fresh.append(f"{path}:{line}: {kind}" + (f" at {key!r}" if key else ""))
    if not fresh and language == "python":  # what tree-sitter's error recovery let pass
        fresh = _python_problems(path, before, after)
    return fresh


def _python_problems(path: str, before: str | None, after: str) -> list[str]:
    """The interpreter's indentation error in ``after`` when ``before`` had none (or was
    new)."""
    if before is not None and _python_error(before) is not None:
        return []
    err = _python_error(after)
    return [f"{path}:{err[0]}: {err[1]}"] if err is not None else []


def _python_error(text: str) -> tuple[int, str] | None:
    """(line, message) of the interpreter's indentation error in ``text``, or None. Only
    indentation errors count: they mean the same in every Python version, while another
    syntax error may be syntax newer than the running interpreter (``type X = int`` on
    3.11), which tree-sitter's grammar knows."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarning: an invalid escape, say
            ast.parse(text)
    except IndentationError as exc:  # TabError too
        return exc.lineno or 0, exc.msg
    except SyntaxError:  # possibly syntax newer than this interpreter's: tree-sitter decides
        return None
    except (RecursionError, MemoryError, ValueError):  # ValueError: a NUL byte
        return None
    return None


__all__ = ["has_syntax_check", "new_syntax_problems", "syntax_problems"]
