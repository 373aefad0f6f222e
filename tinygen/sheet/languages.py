"""Which language a file is in, and tree-sitter parsers for the languages we understand.

Grammars come from the separate grammar wheels (tree-sitter-python, -javascript,
-typescript, -go, -rust), which ship compiled grammars; nothing is downloaded at run time.
tree-sitter is imported only when a parser is first asked for.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tree_sitter import Language, Parser

# Languages with a tree-sitter grammar: definitions and imports are extracted for these.
PARSED_LANGUAGES = ("python", "javascript", "typescript", "tsx", "go", "rust")

_BY_SUFFIX = {
    ".py": "python",
    ".pyi": "python",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "javascript",
    ".ts": "typescript",
    ".mts": "typescript",
    ".cts": "typescript",
    ".tsx": "tsx",
    ".go": "go",
    ".rs": "rust",
    # Known but not parsed: listed with path, size and language only.
    ".c": "c",
    ".h": "c",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".hpp": "cpp",
    ".java": "java",
    ".kt": "kotlin",
    ".rb": "ruby",
    ".php": "php",
    ".cs": "csharp",
    ".swift": "swift",
    ".scala": "scala",
    ".sh": "shell",
    ".bash": "shell",
    ".md": "markdown",
    ".rst": "rst",
    ".txt": "text",
    ".toml": "toml",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".json": "json",
    ".html": "html",
    ".css": "css",
    ".scss": "scss",
    ".sql": "sql",
    ".xml": "xml",
    ".ini": "ini",
    ".cfg": "ini",
}
_BY_NAME = {
    "Makefile": "make",
    "Dockerfile": "dockerfile",
    "CMakeLists.txt": "cmake",
}


def language_for_path(path: str) -> str | None:
    """The language of a repository path, by file name or suffix; None when unknown."""
    # String operations rather than PurePosixPath: the walk calls this for every file on
    # every run, and pathlib's parsing dominated a warm `tinygen map` on large trees.
    name = path.rsplit("/", 1)[-1]
    by_name = _BY_NAME.get(name)
    if by_name is not None:
        return by_name
    dot = name.rfind(".")
    if dot <= 0 or dot == len(name) - 1:
        return None  # no suffix, a dot-file (".bashrc"), or a trailing dot: as PurePosixPath
    return _BY_SUFFIX.get(name[dot:].lower())


def is_parsed(language: str | None) -> bool:
    return language in PARSED_LANGUAGES


# language -> (grammar wheel module, function returning the grammar)
_GRAMMARS = {
    "python": ("tree_sitter_python", "language"),
    "javascript": ("tree_sitter_javascript", "language"),
    "typescript": ("tree_sitter_typescript", "language_typescript"),
    "tsx": ("tree_sitter_typescript", "language_tsx"),
    "go": ("tree_sitter_go", "language"),
    "rust": ("tree_sitter_rust", "language"),
}


@cache
def grammar_versions() -> str:
    """The installed versions of tree-sitter and the grammar wheels, e.g.
    "tree_sitter=0.26.1,tree_sitter_go=0.25.0,...": part of the sheet cache's version,
    since a grammar upgrade changes what is extracted. Read from the ``.dist-info``
    folder names on ``sys.path`` (first found wins, as imports do; "?" when none) rather
    than through importlib.metadata, whose import alone costs a warm run ~50 ms."""
    import os
    import sys

    wanted = {"tree_sitter", *(module for module, _ in _GRAMMARS.values())}
    found: dict[str, str] = {}
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            stem, dot, kind = name.rpartition(".")
            if not dot or kind not in ("dist-info", "egg-info"):
                continue
            project, _, version = stem.partition("-")
            key = project.replace("-", "_").replace(".", "_").lower()
            if key in wanted:
                found.setdefault(key, version.partition("-")[0])
    return ",".join(f"{key}={found.get(key, '?')}" for key in sorted(wanted))


@cache
def get_language(language: str) -> Language:
    """The tree-sitter Language object for one of PARSED_LANGUAGES."""
    import importlib

    from tree_sitter import Language

    if language not in _GRAMMARS:
        raise KeyError(f"no tree-sitter grammar for {language!r}")
    module, func = _GRAMMARS[language]
    return Language(getattr(importlib.import_module(module), func)())


_local = threading.local()


def get_parser(language: str) -> Parser:
    """A parser for ``language``; one per thread, since tree-sitter parsers are not thread-safe."""
    from tree_sitter import Parser

    parsers: dict[str, Parser] = _local.__dict__.setdefault("parsers", {})
    parser = parsers.get(language)
    if parser is None:
        parser = parsers[language] = Parser(get_language(language))
    return parser
