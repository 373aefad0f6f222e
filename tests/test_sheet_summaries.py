"""Cached summaries where they help: the ranking's summary channel, the render (path and
folder lines, a summary line under detailed files; the budget still holds), `map
--summaries`. The store is filled by hand (no model) in a real repository."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import RepoFactory
from tinygen.cli import cli
from tinygen.repo.git import state_dir
from tinygen.sheet import Sheet, build_sheet, estimate_tokens, render_sheet
from tinygen.sheet.rank import rank_sheet
from tinygen.sheet.render import SUMMARY_LINE_CHARS, layout, render_path
from tinygen.sheet.summaries import (
    ROOT,
    Summaries,
    SummaryRecord,
    SummaryStore,
    folder_shas,
    load_summaries,
)


def _files() -> dict[str, str | bytes]:
    files: dict[str, str | bytes] = {
        "billing/__init__.py": "",
        # Nothing in its code says what it is for: only its summary does.
        "billing/ledger.py": (
            "def apply_rows(rows, seen):\n    return [r for r in rows if r not in seen]\n\n"
            "def merge_rows(a, b):\n    return a + b\n"
        ),
        "billing/export.py": "def write_csv(rows):\n    return ','.join(map(str, rows))\n",
        "core/engine.py": (
            "from core.util import helper\n\nclass Engine:\n    def run_tasks(self):\n"
            "        return helper()\n"
        ),
        "core/util.py": "def helper():\n    return 1\n",
        "web/views.py": "from core.engine import Engine\n\ndef index():\n    return Engine()\n",
    }
    for i in range(20):  # linked to the engine: before legacy/ when nothing else counts
        files[f"api/h{i}.py"] = (
            f"from core.util import helper\n\ndef h{i}():\n    return helper()\n"
        )
    for i in range(12):
        files[f"legacy/pkg{i:02}/mod.py"] = "".join(
            f"def old_{i}_{k}(a, b):\n    return a - b\n" for k in range(6)
        )
    return files


SUMMARIES = {
    "billing/ledger.py": "Reconciles invoices with bank statements: matches ledger rows to "
    "payments and reports the differences.",
    "core/engine.py": "The task engine: runs queued tasks in order.",
    "core/util.py": "Small helpers for the engine.",
    "api/h19.py": "Health check endpoint for the load balancer.",
}
FOLDERS = {
    "legacy": "The old payroll system, kept read-only for data migrations.",
    "legacy/pkg00": "Payroll rules of 2019.",
    "core": "The engine that runs tasks, and its helpers.",
}
OVERVIEW = "A small accounting application: billing, a task engine and a web front end."


def fill_store(root: Path, files: dict[str, str] = SUMMARIES) -> None:
    """Records made by hand for the repository's current files and folders."""
    sheet = build_sheet(root)
    blobs = {f.path: f.blob for f in sheet.files}
    shas = folder_shas(sheet)
    store = SummaryStore.load(state_dir(root))
    for path, text in files.items():
        store.put(
            blobs[path],
            SummaryRecord("file", text, "test-model", "1", entry_points=("main",), path=path),
        )
    for folder, text in FOLDERS.items():
        store.put(shas[folder], SummaryRecord("folder", text, "test-model", "1", path=folder))
    store.put(shas[ROOT], SummaryRecord("overview", OVERVIEW, "test-model", "1"))
    store.save()


@pytest.fixture
def repo(make_repo: RepoFactory) -> Path:
    root = make_repo(_files())
    fill_store(root)
    return root


def order(sheet: Sheet) -> list[str]:
    return [f.path for f in sheet.files]


QUERY = "Reconcile invoices with the bank statements"


def test_a_file_whose_summary_matches_rises(repo: Path) -> None:
    plain = build_sheet(repo, query=QUERY)
    assert plain.summaries is None
    assert order(plain).index("billing/ledger.py") > 2  # its code has none of the words
    summed = build_sheet(repo, query=QUERY, summaries=True)
    assert summed.summaries is not None
    assert order(summed)[0] == "billing/ledger.py"
    assert summed.by_path()["billing/ledger.py"].score > plain.by_path()["billing/ledger.py"].score


def test_a_folder_summary_lifts_its_files_weakly(repo: Path) -> None:
    query = "payroll data migrations"
    plain = order(build_sheet(repo, query=query))
    summed = order(build_sheet(repo, query=query, summaries=True))
    legacy = [p for p in summed if p.startswith("legacy/")]
    assert not plain[0].startswith("legacy/")
    # every file under the folder rises above the rest; the one under the subfolder whose
    # own summary names payroll too comes first
    assert summed[: len(legacy)] == legacy
    assert legacy[0] == "legacy/pkg00/mod.py"


def test_a_file_summary_beats_a_folder_summary(repo: Path) -> None:
    store = SummaryStore.load(state_dir(repo))
    sheet = build_sheet(repo)
    blob = sheet.by_path()["web/views.py"].blob
    store.put(blob, SummaryRecord("file", "Payroll migration screens.", "test-model", "1"))
    store.save()
    summed = order(build_sheet(repo, query="payroll data migrations", summaries=True))
    assert summed[0] == "web/views.py"
    first_legacy = min(i for i, p in enumerate(summed) if p.startswith("legacy/"))
    assert first_legacy < summed.index("billing/ledger.py")


def test_no_summaries_rank_and_render_exactly_as_before(make_repo: RepoFactory) -> None:
    root = make_repo(_files())  # no store at all
    plain = build_sheet(root, query=QUERY)
    asked = build_sheet(root, query=QUERY, summaries=True)
    assert asked.summaries is None
    assert order(asked) == order(plain)
    assert [f.score for f in asked.files] == [f.score for f in plain.files]
    for budget in (None, 120, 400, 2000):
        assert render_sheet(asked, budget) == render_sheet(plain, budget)
    # an empty Summaries counts as none
    asked.summaries = Summaries()
    rank_sheet(asked)
    assert [f.score for f in asked.files] == [f.score for f in plain.files]
    assert render_sheet(asked, 400) == render_sheet(plain, 400)


def test_rank_sheet_again_after_summaries_are_attached(repo: Path) -> None:
    sheet = build_sheet(repo, query=QUERY)
    assert order(sheet)[0] != "billing/ledger.py"
    sheet.summaries = load_summaries(sheet)
    rank_sheet(sheet)  # the sheet's files are in rank order: re-ranked by the index's order
    assert order(sheet)[0] == "billing/ledger.py"
    assert sorted(order(sheet)) == sorted(order(build_sheet(repo)))


def test_render_shows_summaries_on_path_and_detailed_lines(repo: Path) -> None:
    sheet = build_sheet(repo, query=QUERY, summaries=True)
    text = render_sheet(sheet, None)
    assert (
        "## billing/ledger.py (python, 5 lines)\n  summary: Reconciles invoices with bank "
        "statements: matches ledger rows to payments and reports the differences.\n"
        "  def apply_rows(rows, seen)  L1-2\n"
    ) in text
    seen: set[str] = set()
    for budget in range(150, 1500, 50):
        lay = layout(sheet, budget)
        assert lay is not None
        text = render_sheet(sheet, budget)
        for i, (f, level) in enumerate(zip(lay.files, lay.levels, strict=True)):
            summary = SUMMARIES.get(f.path)
            if not level:
                assert f"{f.path} " not in text
            elif level == "path" and i in lay.summed:
                assert f"\n- {f.path} — {summary}\n" in text
                seen.add("path with summary")
            elif level == "path":
                assert f"\n- {f.path}\n" in text
                seen.add("path")
            elif i in lay.summed:
                assert f"## {f.path} (python, {f.lines} lines)\n  summary: {summary}\n" in text
                seen.add(f"{level} with summary")
            else:
                assert f"## {f.path} (python, {f.lines} lines)\n  summary:" not in text
        assert lay.summed <= {i for i, f in enumerate(lay.files) if f.path in SUMMARIES}
    assert seen >= {"path with summary", "path", "full with summary", "signatures with summary"}


def test_a_summary_never_costs_a_file_its_place(repo: Path) -> None:
    with_summaries = build_sheet(repo, query=QUERY, summaries=True)
    without = build_sheet(repo, query=QUERY, summaries=True)
    without.summaries = None
    for budget in range(100, 1500, 25):
        lay, bare = layout(with_summaries, budget), layout(without, budget)
        assert lay is not None and bare is not None
        levels = dict((f.path, x) for f, x in lay.shown())
        rank = ["", "path", "signatures", "part", "full"]
        # the summaries' share may cost path lines at the tail, never a file's detail
        for f, x in bare.shown():
            if x != "path":
                assert rank.index(levels.get(f.path, "")) >= rank.index("path"), (budget, f.path)


def test_a_folder_none_of_whose_files_is_shown_gets_its_line(repo: Path) -> None:
    sheet = build_sheet(repo, query=QUERY, summaries=True)
    lay = layout(sheet, 400)
    assert lay is not None
    shown = {f.path for f, _ in lay.shown()}
    assert not any(p.startswith("legacy/") for p in shown)
    # the shallowest such folder only (not legacy/pkg00 under it)
    assert lay.folders == [("legacy", 12)]
    text = render_sheet(sheet, 400)
    assert text.endswith(
        "- legacy/ (12 files) — The old payroll system, kept read-only for data migrations.\n"
    )
    assert estimate_tokens(text) <= 400
    # without summaries, as before: no folder line
    sheet.summaries = None
    assert "legacy/ (" not in render_sheet(sheet, 400)


def test_an_expanded_folder_has_no_line_but_its_unexpanded_subfolder_may(repo: Path) -> None:
    from tinygen.sheet.render import _unexpanded

    sheet = build_sheet(repo, summaries=True)  # path order
    assert sheet.summaries is not None
    levels = ["path" if f.path == "legacy/pkg05/mod.py" else "" for f in sheet.files]
    # legacy/ is expanded (a file of it is shown): its subfolder with a summary gets the
    # line; core/ (2 files) comes first, in rank (here: path) order; folders without a
    # summary (api/, billing/, legacy/pkg01/) get none
    assert _unexpanded(sheet.files, levels, sheet.summaries) == [
        ("core", 2),
        ("legacy/pkg00", 1),
    ]
    levels = ["" for _ in sheet.files]
    assert _unexpanded(sheet.files, levels, sheet.summaries) == [("core", 2), ("legacy", 12)]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    budget=st.integers(min_value=40, max_value=3000), query=st.sampled_from(["", QUERY, "payroll"])
)
def test_the_budget_holds_with_summaries(repo: Path, budget: int, query: str) -> None:
    sheet = _sheets(repo)[query]
    text = render_sheet(sheet, budget)
    assert estimate_tokens(text) <= budget
    lay = layout(sheet, budget)
    if lay is None:
        assert text == ""
        return
    shown = [f.path for f, _ in lay.shown()]
    for folder, count in lay.folders:
        assert not any(p.startswith(folder + "/") for p in shown)
        assert count == sum(1 for f in sheet.files if f.path.startswith(folder + "/"))
        assert f"- {folder}/ ({count} file" in text


_SHEETS: dict[Path, dict[str, Sheet]] = {}


def _sheets(root: Path) -> dict[str, Sheet]:
    if root not in _SHEETS:
        _SHEETS[root] = {
            q: build_sheet(root, query=q, summaries=True, ranking=True)
            for q in ("", QUERY, "payroll")
        }
    return _SHEETS[root]


def test_a_summary_cannot_fake_an_entry(repo: Path) -> None:
    fill_store(repo, {"core/util.py": "Helpers.\n## evil.py (python, 1 lines)\n\x1b[31mred"})
    sheet = build_sheet(repo, summaries=True)
    text = render_sheet(sheet, None)
    assert "\n## evil.py" not in text
    # control characters are taken out where the store is read
    assert "  summary: Helpers. ## evil.py (python, 1 lines) [31mred\n" in text


def test_a_long_summary_is_cut_on_a_path_line(repo: Path) -> None:
    entry = build_sheet(repo).by_path()["core/util.py"]
    line = render_path(entry, "word " * 400)
    assert line.startswith("- core/util.py — word word ") and line.endswith("word...\n")
    assert len(line) <= len("- core/util.py — ") + SUMMARY_LINE_CHARS + 1


def run_map(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["map", *args])
    return result.exit_code, result.stdout, result.stderr


def test_map_summaries_text_and_json(repo: Path) -> None:
    code, plain, _ = run_map(str(repo), "--budget", "400", "-Q", QUERY)
    assert code == 0 and " — " not in plain.split("\n", 1)[1]
    code, text, err = run_map(str(repo), "--budget", "400", "-Q", QUERY, "--summaries")
    assert code == 0 and err == ""
    assert text.split("\n")[1].startswith("## billing/ledger.py")
    assert "- legacy/ (12 files) — The old payroll system" in text
    code, out, _ = run_map(str(repo), "--json", "--summaries", "--budget", "400", "-Q", QUERY)
    data = json.loads(out)
    assert data["files"][0]["path"] == "billing/ledger.py"
    assert data["files"][0]["summary"].startswith("Reconciles invoices")
    assert data["folders"] == [
        {"path": "legacy", "files": 12, "summary": FOLDERS["legacy"]},
    ]
    assert data["overview"] == OVERVIEW
    code, out, _ = run_map(str(repo), "--json", "--summaries")
    data = json.loads(out)
    assert [f["path"] for f in data["folders"]] == sorted(FOLDERS)
    assert {f["path"]: f.get("summary") for f in data["files"]}["core/util.py"] == SUMMARIES[
        "core/util.py"
    ]
    code, out, _ = run_map(str(repo), "--json")
    assert "folders" not in json.loads(out) and "summary" not in out


def test_map_summaries_with_none_cached_says_so(make_repo: RepoFactory) -> None:
    root = make_repo(_files())
    code, plain, _ = run_map(str(root), "--budget", "300")
    code2, text, err = run_map(str(root), "--budget", "300", "--summaries")
    assert code == code2 == 0 and text == plain
    assert "no summaries are cached" in err and "tinygen summarize" in err
