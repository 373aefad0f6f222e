"""What the summaries are asked for: the answer shapes and the prompt text of each kind.

``PROMPT_VERSION`` is part of every record's key: change the wording or the shapes and
bump it, and every summary is made again with the new prompt (old records stay readable).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tinygen.sheet.model import FileEntry
from tinygen.sheet.render import estimate_tokens, render_full, shown

PROMPT_VERSION = "1"

# A file up to this many tokens is sent whole; a larger one by its outline (the sheet's
# full entry: imports, importers, every symbol's signature and docstring line) and head.
FILE_TEXT_TOKENS = 6000
FILE_HEAD_CHARS = 3000  # the head of a large file: module docstring, imports
OUTLINE_CHARS = 24_000  # the outline of a very large file is cut here
FOLDER_CHILDREN = 300  # children listed in a folder's prompt (the rest are counted)
CHILD_CHARS = 400  # one child's summary in a folder's prompt
README_CHARS = 2000  # the start of the README given with the overview's question

# Answers are short; the caps keep a rambling model cheap (and the budget's worst case low).
MAX_TOKENS = {"file": 500, "folder": 600, "overview": 1500}

SYSTEM = (
    "You write short, factual summaries of a software repository for engineers and for "
    "a code-modification bot that must find where a change belongs. Describe what the "
    "code is for and how it is used, in plain words; name real identifiers; never guess "
    "beyond what you are shown; no marketing, no filler. Answer only through the tool."
)


@dataclass
class FileSummary:
    """Submit the summary of one source file."""

    purpose: str  # 1-3 sentences: what the file is for and what it provides
    entry_points: list[str]  # its main classes/functions/commands, most important first


@dataclass
class FolderSummary:
    """Submit the summary of one folder."""

    purpose: str  # 1-3 sentences: what the folder holds and how its parts relate


@dataclass
class Overview:
    """Submit the overview of the repository."""

    overview: str  # 1-3 short paragraphs: what the project is, its main parts, where things live


ANSWERS: dict[str, type] = {"file": FileSummary, "folder": FolderSummary, "overview": Overview}


def file_prompt(entry: FileEntry, text: str, imported_by: Sequence[str]) -> str:
    """The question about one file: its sheet entry, and its text (or head, when large).
    Paths are written as the sheet prints them (control characters and bytes that are
    not UTF-8 escaped), so any file name makes a valid request."""
    outline = render_full(entry, imported_by)
    if len(outline) > OUTLINE_CHARS:
        outline = outline[:OUTLINE_CHARS] + "\n[outline cut]\n"
    if estimate_tokens(text) <= FILE_TEXT_TOKENS:
        body = f"Its text:\n<file>\n{text}\n</file>"
    else:
        body = (
            f"The file is large ({entry.lines} lines); its first {FILE_HEAD_CHARS} "
            f"characters:\n<file-head>\n{text[:FILE_HEAD_CHARS]}\n</file-head>"
        )
    return (
        f"Summarize the file `{shown(entry.path)}`.\n\n"
        f"Its entry in the repository's reference sheet:\n{outline}\n{body}\n\n"
        "Say what the file is for and what it provides (1-3 sentences), and list its main "
        "entry points (the names other code or users call), most important first, at most 8."
    )


def child_lines(children: Sequence[tuple[str, str, bool]]) -> str:
    """``- name/ — summary`` lines for (name, summary, is_folder) children."""
    lines = []
    for name, summary, folder in children[:FOLDER_CHILDREN]:
        text = " ".join(summary.split())[:CHILD_CHARS] or "(no summary)"
        lines.append(f"- {shown(name)}{'/' if folder else ''} — {text}")
    if len(children) > FOLDER_CHILDREN:
        lines.append(f"- (+{len(children) - FOLDER_CHILDREN} more)")
    return "\n".join(lines)


def folder_prompt(path: str, children: Sequence[tuple[str, str, bool]]) -> str:
    return (
        f"Summarize the folder `{shown(path)}/` from the summaries of what it holds:\n"
        f"{child_lines(children)}\n\n"
        "Say what the folder is for and how its parts relate (1-3 sentences)."
    )


def overview_prompt(name: str, children: Sequence[tuple[str, str, bool]], readme: str) -> str:
    about = f"\nThe start of its README:\n<readme>\n{readme}\n</readme>\n" if readme else ""
    return (
        f"Write an overview of the repository `{shown(name)}` from the summaries of its top-level "
        f"folders and files:\n{child_lines(children)}\n{about}\n"
        "Say what the project is, its main parts and where things live (1-3 short "
        "paragraphs), for an engineer new to it."
    )


__all__ = [
    "MAX_TOKENS",
    "PROMPT_VERSION",
    "SYSTEM",
    "FileSummary",
    "FolderSummary",
    "Overview",
    "file_prompt",
    "folder_prompt",
    "overview_prompt",
]
