"""Syntax delta: tree-sitter ERROR/MISSING nodes before and after a change.

Only *new* problems count, so a file that already failed to parse can still be edited.
tree-sitter is imported lazily (through tinygen.sheet.languages).
"""

from __future__ import annotations

from tinygen.sheet.languages import get_parser, is_parsed, language_for_path


def syntax_problems(language: str, text: str) -> list[tuple[int, str]]:
    """(1-based line, "ERROR"|"MISSING <kind>") for every problem node, in order."""
    tree = get_parser(language).parse(text.encode("utf-8"))
    out: list[tuple[int, str]] = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.is_missing:
            out.append((node.start_point[0] + 1, f"MISSING {node.type}"))
        elif node.is_error:
            out.append((node.start_point[0] + 1, "ERROR"))
        if node.has_error:
            stack.extend(reversed(node.children))
    return sorted(out)


def new_syntax_problems(path: str, before: str | None, after: str | None) -> list[str]:
    """Messages for problems ``after`` has beyond those of ``before`` (empty: none, or the
    language is not parsed)."""
    language = language_for_path(path)
    if after is None or language is None or not is_parsed(language):
        return []
    old = syntax_problems(language, before or "")
    new = syntax_problems(language, after)
    if len(new) <= len(old):
        return []
    old_kinds = [k for _, k in old]
    fresh = []
    for line, kind in new:
        if kind in old_kinds:
            old_kinds.remove(kind)
        else:
            fresh.append(f"{path}:{line}: {kind}")
    if not fresh:
        fresh = [f"{path}: {len(new) - len(old)} more syntax error node(s) than before"]
    return fresh


__all__ = ["new_syntax_problems", "syntax_problems"]
