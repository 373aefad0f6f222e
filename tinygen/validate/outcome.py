"""Outcome keys: when two edited versions of a file are the same change.

Votes compare what a sample *does*, not how it is written, so comments and formatting do
not split them:

- Python: ``ast.dump`` of the parsed text (comments, blank lines, spacing, line breaks
  and the quoting of strings are gone; docstrings, being code, stay);
- other languages with a tree-sitter grammar: the token stream — every leaf's text, in
  order, without comments and whitespace;
- anything else (or text that does not parse): the words of the text, whitespace
  collapsed.

A key is a SHA-256 of that canonical form; ``None`` (a deleted file) has its own key.
"""

from __future__ import annotations

import ast
import hashlib

from tinygen.sheet.languages import get_parser, is_parsed, language_for_path

DELETED = "deleted"


def canonical_form(path: str, text: str) -> str:
    """The text as votes compare it (see the module docstring)."""
    language = language_for_path(path)
    if language == "python":
        try:
            return "python-ast\0" + ast.dump(ast.parse(text))
        except (SyntaxError, ValueError):  # ValueError: a NUL byte in the source
            pass
    elif is_parsed(language):
        assert language is not None
        return f"{language}-tokens\0" + "\0".join(_tokens(language, text))
    return "words\0" + " ".join(text.split())


def outcome_key(path: str, text: str | None) -> str:
    """A key equal for two texts of ``path`` exactly when their canonical forms are."""
    if text is None:
        return DELETED
    return hashlib.sha256(canonical_form(path, text).encode("utf-8", "replace")).hexdigest()


def _tokens(language: str, text: str) -> list[str]:
    """Every leaf of the syntax tree but comments, in order (whitespace is never a leaf)."""
    source = text.encode("utf-8")
    out: list[str] = []
    stack = [get_parser(language).parse(source).root_node]
    while stack:
        node = stack.pop()
        if "comment" in node.type:
            continue
        if node.child_count == 0:
            out.append(source[node.start_byte : node.end_byte].decode("utf-8", "replace"))
        else:
            stack.extend(reversed(node.children))
    return out


__all__ = ["DELETED", "canonical_form", "outcome_key"]
