"""The summaries' read path: the store's index (records already checked, each record's term
bag) changes nothing a reader sees: the summary channel equals a plain BM25 over the
summary texts, and ranking and render are the same from the JSON, from the index and
from summaries given by hand. A stale, foreign or broken index is ignored; the store's own
safety (surrogate repair, a bad file set aside) holds on the fast parse. The store is
filled by hand (no model) in a real repository."""

from __future__ import annotations

import json
import math
import warnings
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import RepoFactory
from tinygen.repo.git import state_dir
from tinygen.sheet import Sheet, build_sheet, render_sheet
from tinygen.sheet.rank import WEIGHTS, _query_counts, rank_sheet, summary_scores
from tinygen.sheet.summaries import (
    INDEX_NAME,
    ROOT,
    SHAS_NAME,
    STORE_NAME,
    Summaries,
    SummaryRecord,
    SummaryStore,
    SummaryStoreWarning,
    folder_shas,
    load_summaries,
    term_bag,
)
from tinygen.sheet.words import query_terms

FILES: dict[str, str | bytes] = {
    "billing/__init__.py": "",
    "billing/ledger.py": "def apply_rows(rows, seen):\n    return [r for r in rows if r]\n",
    "billing/export.py": "def write_csv(rows):\n    return ','.join(map(str, rows))\n",
    "billing/export_copy.py": "def write_csv(rows):\n    return ','.join(map(str, rows))\n",
    "core/engine.py": "from core.util import helper\n\nclass Engine:\n    pass\n",
    "core/util.py": "def helper():\n    return 1\n",
    "web/views.py": "from core.engine import Engine\n\ndef index():\n    return Engine()\n",
    "web/forms/invoice.py": "class InvoiceForm:\n    fields = ['amount']\n",
}
SUMMARIES = {
    "billing/ledger.py": "Reconciles invoices with bank statements: matches ledger rows to "
    "payments and reports the differences. Invoices, invoices, invoices.",
    # export.py and export_copy.py are the same blob: one record, two documents
    "billing/export.py": "Writes invoices as CSV rows for the bank's import.",
    "core/engine.py": "The task engine: runs queued tasks in order.",
    "core/util.py": "Small helpers for the engine.",
    "web/views.py": "The web front end's views: the invoice list and the engine status.",
    "web/forms/invoice.py": "The invoice form: amount, bank account and due date.",
}
ENTRY_POINTS = {"billing/ledger.py": ("apply_rows", "ReconcileStatement"), "core/util.py": ()}
FOLDERS = {
    "billing": "Invoices and their export to the bank.",
    "web": "The web front end.",
    "web/forms": "Forms of the web front end, for invoices.",
    "core": "The engine that runs tasks, and its helpers.",
}
QUERIES = [
    "Reconcile invoices with the bank statements",
    "invoice form due date",
    "the engine runs tasks out of order",
    "ReconcileStatement breaks",
    "nothing here matches zzz",
]


def fill_store(root: Path) -> None:
    sheet = build_sheet(root)
    blobs = {f.path: f.blob for f in sheet.files}
    shas = folder_shas(sheet)
    store = SummaryStore.load(state_dir(root))
    for path, text in SUMMARIES.items():
        points = ENTRY_POINTS.get(path, ("main",))
        store.put(blobs[path], SummaryRecord("file", text, "m", "1", points, 10, 5, path))
    for folder, text in FOLDERS.items():
        store.put(shas[folder], SummaryRecord("folder", text, "m", "1", path=folder))
    store.put(shas[ROOT], SummaryRecord("overview", "An invoicing application.", "m", "1"))
    store.save()


@pytest.fixture
def repo(make_repo: RepoFactory) -> Path:
    root = make_repo(FILES)
    fill_store(root)
    return root


def plain_bm25(docs: dict[str, str], counts: dict[str, float]) -> dict[str, float]:
    """BM25 as the summary channel defines it, over the texts themselves (every document
    tokenized here, document frequencies counted over all of them)."""
    bags = {key: Counter(query_terms(text)) for key, text in docs.items()}
    n = len(bags) or 1
    avg = sum(sum(b.values()) for b in bags.values()) / n or 1.0
    df: Counter[str] = Counter()
    for bag in bags.values():
        df.update(bag.keys())
    k1, b = WEIGHTS.k1, WEIGHTS.b
    out: dict[str, float] = {}
    for key in sorted(bags):
        bag = bags[key]
        norm = k1 * (1 - b + b * sum(bag.values()) / avg)
        s = 0.0
        for term in sorted(counts.keys() & bag.keys()):
            idf = math.log(1 + (n - df[term] + 0.5) / (df[term] + 0.5))
            s += idf * (1 + math.log(counts[term])) * bag[term] * (k1 + 1) / (bag[term] + norm)
        if s > 0:
            out[key] = s
    return out


def scaled(scores: dict[str, float]) -> dict[str, float]:
    best = max(scores.values(), default=0.0)
    return {k: s / best for k, s in scores.items()} if best > 0 else {}


def expected_channel(paths: list[str], found: Summaries, query: str) -> dict[int, float]:
    counts = _query_counts(query, WEIGHTS)
    if not counts:
        return {}
    docs = {p: " ".join((r.text, *r.entry_points)) for p, r in found.files.items()}
    files = scaled(plain_bm25(docs, counts))
    folders = scaled(plain_bm25({p: r.text for p, r in found.folders.items()}, counts))
    out: dict[int, float] = {}
    for d, path in enumerate(paths):
        s = WEIGHTS.summary * files.get(path, 0.0)
        parts = path.split("/")[:-1]
        lift = sum(folders.get("/".join(parts[: i + 1]), 0.0) for i in range(len(parts)))
        s += WEIGHTS.folder_summary * lift if folders else 0.0
        if s:
            out[d] = s
    return out


def test_the_summary_channel_equals_a_plain_bm25_of_the_texts(repo: Path) -> None:
    for attempt in ("from the JSON", "from the index"):
        sheet = build_sheet(repo)
        found = load_summaries(sheet)
        assert (state_dir(repo) / INDEX_NAME).is_file(), attempt
        assert found.file_text("billing/export_copy.py") == SUMMARIES["billing/export.py"]
        paths = [f.path for f in sheet.files]
        for query in QUERIES:
            got = summary_scores(paths, found, query)
            assert got == expected_channel(paths, found, query), (attempt, query)
        assert summary_scores(paths, found, QUERIES[0])  # something scored at all


def outcome(sheet: Sheet) -> tuple[list[str], list[float], str]:
    return [f.path for f in sheet.files], [f.score for f in sheet.files], render_sheet(sheet, 600)


def test_ranking_and_render_are_the_same_from_json_index_and_hand(repo: Path) -> None:
    index = state_dir(repo) / INDEX_NAME
    index.unlink(missing_ok=True)
    for query in QUERIES:
        from_json = build_sheet(repo, query=query, summaries=True)
        assert index.is_file()  # the first reader that needed the term bags wrote it
        from_index = build_sheet(repo, query=query, summaries=True)
        by_hand = build_sheet(repo, query=query)
        assert from_json.summaries is not None
        by_hand.summaries = Summaries(
            files=dict(from_json.summaries.files),
            folders=dict(from_json.summaries.folders),
            overview=from_json.summaries.overview,
        )
        rank_sheet(by_hand)
        assert outcome(from_index) == outcome(from_json) == outcome(by_hand), query
        index.unlink()
    without = build_sheet(repo, query=QUERIES[0])
    with_them = build_sheet(repo, query=QUERIES[0], summaries=True)
    assert outcome(with_them)[1] != outcome(without)[1]  # the summaries did count


def test_the_index_holds_the_records_the_json_gives(repo: Path) -> None:
    folder = state_dir(repo)
    (folder / INDEX_NAME).unlink(missing_ok=True)
    parsed = SummaryStore.load(folder)
    bags = parsed.term_bags()
    indexed = SummaryStore.load(folder)  # now from the index
    assert indexed.records == parsed.records and len(parsed.records) == 11
    assert indexed.term_bags() == bags
    for key, record in parsed.records.items():
        if record.kind == "file":  # its entry points are part of its document
            assert bags[key] == term_bag(" ".join((record.text, *record.entry_points)))
        else:
            assert bags[key] == term_bag(record.text)
    ledger = next(k for k, r in parsed.records.items() if r.path == "billing/ledger.py")
    assert bags[ledger][query_terms("invoices")[0]] == 4


def test_a_store_another_writer_changed_misses_the_index(repo: Path) -> None:
    sheet = build_sheet(repo)
    blob = sheet.by_path()["core/util.py"].blob
    load_summaries(sheet)  # the index is written
    other = SummaryStore.load(state_dir(repo))
    other.put(blob, SummaryRecord("file", "Parses invoice numbers.", "m2", "1"))
    other.save()
    found = load_summaries(build_sheet(repo), model="m2")
    assert found.file_text("core/util.py") == "Parses invoice numbers."
    assert found.file_bags()["core/util.py"] == term_bag("Parses invoice numbers.")
    assert found.file_bags()["core/util.py"] != term_bag(SUMMARIES["core/util.py"])


@pytest.mark.parametrize(
    "index_bytes",
    [
        b"garbage",
        b"tinygen summaries index 0.0 " + b"0" * 40 + b"\n",
        b"",
    ],
    ids=["garbage", "another version", "empty"],
)
def test_a_broken_or_foreign_index_is_ignored(repo: Path, index_bytes: bytes) -> None:
    expected = outcome(build_sheet(repo, query=QUERIES[0], summaries=True))
    index = state_dir(repo) / INDEX_NAME
    index.write_bytes(index_bytes)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a cache: no warning for it
        again = build_sheet(repo, query=QUERIES[0], summaries=True)
    assert outcome(again) == expected
    assert index.read_bytes() != index_bytes  # written again


def test_an_index_whose_store_is_gone_is_not_used(repo: Path) -> None:
    load_summaries(build_sheet(repo))
    (state_dir(repo) / STORE_NAME).unlink()
    assert not load_summaries(build_sheet(repo))


def test_a_surrogate_escape_is_still_repaired(tmp_path: Path) -> None:
    record = SummaryRecord("file", "x", "m", "1").to_json()
    text = json.dumps({"format": 1, "records": {"file:" + "a" * 40 + ":m:1": record}})
    (tmp_path / STORE_NAME).write_text(text.replace('"x"', '"bad \\ud800 half"'))
    store = SummaryStore.load(tmp_path)
    assert store.records["file:" + "a" * 40 + ":m:1"].text == "bad \ufffd half"


def test_a_store_nested_too_deep_is_set_aside(tmp_path: Path) -> None:
    (tmp_path / STORE_NAME).write_text(
        '{"format": 1, "records": ' + "[" * 200_000 + "]" * 200_000 + "}"
    )
    with pytest.warns(SummaryStoreWarning):
        store = SummaryStore.load(tmp_path)
    assert store.records == {}
    assert not (tmp_path / "summaries.json.bad").exists()  # readers leave it alone
    store.put("a" * 40, SummaryRecord("file", "fresh", "m", "1"))
    with pytest.warns(SummaryStoreWarning):
        store.save()  # the writer sets it aside
    assert (tmp_path / "summaries.json.bad").exists()


def test_kept_tree_shas_are_those_computed_and_follow_changes(repo: Path) -> None:
    state = state_dir(repo)
    kept = state / SHAS_NAME
    sheet = build_sheet(repo)
    computed = folder_shas(sheet)
    assert folder_shas(sheet, state) == computed and kept.is_file()
    assert folder_shas(sheet, state) == computed  # read back
    (repo / "web/forms/invoice.py").write_text("class InvoiceForm:\n    fields = []\n")
    changed = build_sheet(repo)
    again = folder_shas(changed, state)
    assert again == folder_shas(changed) and again["web/forms"] != computed["web/forms"]
    assert again["core"] == computed["core"]


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_damaged_kept_tree_shas_are_computed_again(repo: Path, damage: str) -> None:
    state = state_dir(repo)
    sheet = build_sheet(repo)
    computed = folder_shas(sheet, state)
    kept = state / SHAS_NAME
    data = kept.read_bytes()
    kept.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"\x00" * 64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert folder_shas(sheet, state) == computed
    assert kept.read_bytes() == data
