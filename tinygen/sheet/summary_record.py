"""One summary as the store keeps it (:class:`SummaryRecord`) and the rules every writer
and reader of records shares: :func:`plain_text` (a model's text made safe to print, store
and prompt with), :func:`record_key` (kind, content SHA, model, prompt version: a record
is never stale) and :func:`term_bag` of :func:`ranked_text` (what the ranking's summary
channel counts). Apart from the store so that the builder (:mod:`tinygen.summarize`), the
store, its index and the readers share one definition.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Literal

from tinygen.sheet.words import query_terms

MAX_SUMMARY_CHARS = 4000  # a record's text is cut here when read (a model may ramble)

Kind = Literal["file", "folder", "overview"]


@dataclass(frozen=True)
class SummaryRecord:
    """One summary as the model gave it, with what it cost."""

    kind: Kind
    text: str  # what the file or folder is for; the overview's paragraphs
    model: str
    prompt: str  # the prompt version that asked for it
    entry_points: tuple[str, ...] = ()  # a file's main names, as the model named them
    input_tokens: int = 0
    output_tokens: int = 0
    path: str = ""  # where it was when made (for people reading the store; not a key)

    def to_json(self) -> dict[str, object]:
        out = asdict(self)
        out["entry_points"] = list(self.entry_points)
        return out

    @classmethod
    def from_json(cls, value: object) -> SummaryRecord | None:
        if not isinstance(value, dict):
            return None
        try:
            kind = value["kind"]
            if kind not in ("file", "folder", "overview"):
                return None
            points = value.get("entry_points", [])
            return cls(
                kind=kind,
                text=plain_text(str(value["text"]), paragraphs=kind == "overview"),
                model=str(value["model"]),
                prompt=str(value["prompt"]),
                entry_points=tuple(
                    plain_text(p, 100) for p in points[:20] if isinstance(p, str) and p.strip()
                ),
                input_tokens=int(value.get("input_tokens", 0)),
                output_tokens=int(value.get("output_tokens", 0)),
                path=str(value.get("path", "")),
            )
        except (KeyError, TypeError, ValueError):
            return None


def _preference(record: SummaryRecord, model: str | None) -> tuple[bool, int, str, str]:
    version = int(record.prompt) if record.prompt.isdigit() else -1
    return (record.model == model, version, record.prompt, record.model)


def plain_text(text: str, limit: int = MAX_SUMMARY_CHARS, *, paragraphs: bool = False) -> str:
    """A model's text made safe to print, store and put in a prompt or a Markdown file: no
    control, format (zero-width, direction, tag) or private-use characters, runs of
    whitespace as one space (blank-line paragraph breaks kept when asked), cut at
    ``limit``."""
    if text.isprintable() and len(text) <= limit and "  " not in text:
        return text.strip()  # the common case, at C speed
    text = text.replace("\r\n", "\n")
    chunks = re.split(r"\n\s*\n", text) if paragraphs else [text]
    kept = [" ".join(_visible(c).split()) for c in chunks]
    return "\n\n".join(k for k in kept if k)[:limit].strip()


_SPACES = frozenset({"Cc", "Zs", "Zl", "Zp"})  # line breaks, tabs, odd spaces: a space


def _visible(text: str) -> str:
    return "".join(
        c if c.isprintable() else (" " if unicodedata.category(c) in _SPACES else "") for c in text
    )


def record_key(kind: Kind, sha: str, model: str, prompt: str) -> str:
    return f"{kind}:{sha}:{model}:{prompt}"


def term_bag(text: str) -> dict[str, int]:
    """The terms of a summary as the ranking counts them (its BM25 document)."""
    return dict(Counter(query_terms(text)))


def ranked_text(kind: str, record: SummaryRecord) -> str:
    """What the ranking reads of a record looked up as ``kind`` (its key's, which a
    hand-edited store may make differ from ``record.kind``): a file's summary with its
    entry points, a folder's (or the overview's) summary alone."""
    if kind == "file":
        return " ".join((record.text, *record.entry_points))
    return record.text
