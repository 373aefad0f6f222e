"""Summaries kept beside the sheet cache: one per file (keyed by its blob SHA), per folder
(keyed by its git tree SHA) and one overview of the repository (the root tree's SHA).

This module is what a reader (map, ranking, the brainstorm pass) uses: the summaries of
one sheet's files and folders (:func:`load_summaries`). They are stored by
:mod:`tinygen.sheet.summary_store` (records: :mod:`tinygen.sheet.summary_record`; its
index: :mod:`tinygen.sheet.summary_index`), and folders' keys are computed by
:mod:`tinygen.sheet.tree_shas`; the names importers use are re-exported here. Making
summaries is :mod:`tinygen.summarize` (the sheet never calls a model).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from tinygen.sheet.model import Sheet
from tinygen.sheet.summary_index import INDEX_NAME
from tinygen.sheet.summary_record import (
    Kind,
    SummaryRecord,
    plain_text,
    ranked_text,
    record_key,
    term_bag,
)
from tinygen.sheet.summary_store import STORE_NAME, SummaryStore, SummaryStoreWarning
from tinygen.sheet.tree_shas import ROOT, SHAS_NAME, folder_shas, tree_shas


@dataclass
class Summaries:
    """The summaries found for one sheet: by file path, by folder path, the overview."""

    files: dict[str, SummaryRecord] = field(default_factory=dict)
    folders: dict[str, SummaryRecord] = field(default_factory=dict)
    overview: SummaryRecord | None = None
    # the term bags of ``files`` and ``folders`` when the store had them (see term_bags)
    file_terms: dict[str, dict[str, int]] = field(default_factory=dict, repr=False)
    folder_terms: dict[str, dict[str, int]] = field(default_factory=dict, repr=False)

    def __bool__(self) -> bool:
        return bool(self.files or self.folders or self.overview)

    def file_text(self, path: str) -> str:
        record = self.files.get(path)
        return record.text if record is not None else ""

    def folder_text(self, path: str) -> str:
        record = self.folders.get(path)
        return record.text if record is not None else ""

    def file_bags(self) -> dict[str, dict[str, int]]:
        """Each file's term bag (its summary and entry points), as the ranking reads it."""
        if self.file_terms.keys() == self.files.keys():
            return self.file_terms  # (all from the store)
        return {
            path: _bag(self.file_terms, path, "file", record) for path, record in self.files.items()
        }

    def folder_bags(self) -> dict[str, dict[str, int]]:
        """Each folder's term bag (its summary)."""
        if self.folder_terms.keys() == self.folders.keys():
            return self.folder_terms
        return {
            path: _bag(self.folder_terms, path, "folder", record)
            for path, record in self.folders.items()
        }

    def along(self, paths: Iterable[str], limit: int = 12) -> list[tuple[str, str]]:
        """(folder, summary) of the folders holding ``paths``, outermost first, each once,
        at most ``limit``: the context of the files a request is about."""
        out: dict[str, str] = {}
        for path in paths:
            parts = path.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                folder = "/".join(parts[:i])
                record = self.folders.get(folder)
                if record is not None and folder not in out:
                    out[folder] = record.text
                    if len(out) >= limit:
                        return list(out.items())
        return list(out.items())


def _bag(
    terms: dict[str, dict[str, int]], path: str, kind: str, record: SummaryRecord
) -> dict[str, int]:
    bag = terms.get(path)
    return bag if bag is not None else term_bag(ranked_text(kind, record))


def load_summaries(
    sheet: Sheet,
    store: SummaryStore | None = None,
    model: str | None = None,
    shas: Mapping[str, str] | None = None,
) -> Summaries:
    """What the store holds for this sheet's files and folders (``model``'s when it has
    them, else any model's)."""
    if store is None:
        store = SummaryStore.for_root(sheet.root)
    found = Summaries()
    if not store.records:
        return found
    records, bags = store.records, store.term_bags()
    for f in sheet.files:
        key = store.best_key("file", f.blob, model) if f.blob else None
        if key is not None:
            found.files[f.path] = records[key]
            found.file_terms[f.path] = bags[key]
    shas = shas if shas is not None else folder_shas(sheet, store.folder)
    for folder, sha in shas.items():
        if folder == ROOT:
            found.overview = store.best("overview", sha, model)
        else:
            key = store.best_key("folder", sha, model)
            if key is not None:
                found.folders[folder] = records[key]
                found.folder_terms[folder] = bags[key]
    return found


__all__ = [
    "INDEX_NAME",
    "ROOT",
    "SHAS_NAME",
    "STORE_NAME",
    "Kind",
    "Summaries",
    "SummaryRecord",
    "SummaryStore",
    "SummaryStoreWarning",
    "folder_shas",
    "load_summaries",
    "plain_text",
    "record_key",
    "term_bag",
    "tree_shas",
]
