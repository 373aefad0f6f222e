"""Rendering: full detail, signatures, paths; a budget is never exceeded by the estimate."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import RepoFactory
from tinygen.sheet import Sheet, build_sheet, estimate_tokens, render_sheet
from tinygen.sheet.render import layout

FIXTURES = Path(__file__).parent / "data" / "sheet"


@pytest.fixture(scope="module")
def sheet(tmp_path_factory: pytest.TempPathFactory) -> Sheet:
    import shutil

    from tests.helpers import commit_all, init_repo

    root = tmp_path_factory.mktemp("render") / "repo"
    shutil.copytree(FIXTURES, root)
    for i in range(40):
        (root / f"extra/mod{i:02}.py").parent.mkdir(exist_ok=True)
        (root / f"extra/mod{i:02}.py").write_text(
            f'"""Extra module {i}."""\nfrom py.pkg import core\n\n'
            + "".join(
                f"def func_{i}_{k}(a: int, b: str = 'x') -> bool:\n    return True\n"
                for k in range(8)
            )
        )
    init_repo(root)
    commit_all(root)
    return build_sheet(root, query="Engine label in py/pkg/core.py")


def test_unbudgeted_render_has_everything_in_full(sheet: Sheet) -> None:
    text = render_sheet(sheet, None)
    assert text.startswith(
        f"# reference sheet: {len(sheet.files)} files ({len(sheet.files)} in full"
    )
    assert "## py/pkg/core.py (python, 52 lines) — Core engine: runs things.\n" in text
    assert "  imports: py/pkg/helpers.py, py/pkg/sub/leaf.py\n" in text
    assert "  @property\n    def label(self) -> str  L26-28  # The label.\n" in text
    assert "      def validate(self)  L41\n" in text
    assert "imported by: extra/mod00.py" in text


def test_levels_in_rank_order(sheet: Sheet) -> None:
    lay = layout(sheet, 900)
    assert lay is not None
    assert lay.count("full") >= 1 and lay.count("signatures") >= 1 and lay.count("path") >= 1
    text = render_sheet(sheet, 900)
    # The named file is first and in full detail; signature-level files have no line spans.
    assert text.split("\n")[1].startswith("## py/pkg/core.py")
    sig_file = next(f for f, x in lay.shown() if x == "signatures" and f.symbols)
    block = text[text.index(f"## {sig_file.path}") :]
    block = block[: block.index("\n## ") if "\n## " in block else len(block)]
    assert " L" not in block.split("\n", 1)[1]
    last_path = [f for f, x in lay.shown() if x == "path"][-1]
    assert text.endswith(f"- {last_path.path}\n")
    # Every detailed file comes before the first path line.
    assert text.rindex("\n## ") < text.index("\n- ")
    if lay.omitted:
        assert f"- {lay.files[-1].path}\n" not in text
        assert f", {lay.omitted} not shown)\n" in text.split("\n", 1)[0] + "\n"


@settings(max_examples=60, deadline=None)
@given(budget=st.integers(min_value=1, max_value=12_000))
def test_budget_is_never_exceeded(sheet: Sheet, budget: int) -> None:
    text = render_sheet(sheet, budget)
    assert estimate_tokens(text) <= budget
    full = estimate_tokens(render_sheet(sheet, None))
    if budget >= full + 50:
        assert text.count("\n## ") + text.startswith("## ") == len(sheet.files)


def test_budget_monotone_more_budget_more_detail(sheet: Sheet) -> None:
    sizes = [len(render_sheet(sheet, b)) for b in (50, 200, 800, 3000, 20000)]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1]


def test_tiny_budget_lists_top_paths_or_nothing(sheet: Sheet) -> None:
    assert render_sheet(sheet, 5) == ""
    text = render_sheet(sheet, 40)
    assert "not shown" in text and "- py/pkg/core.py\n" in text


def test_budget_without_query_puts_central_files_first(make_repo: RepoFactory) -> None:
    files = {"hub.py": "class Hub:\n    pass\n"}
    files.update(
        {f"user{i}.py": "from hub import Hub\n\ndef use(h: Hub): ...\n" for i in range(10)}
    )
    sheet = build_sheet(make_repo(files))
    assert not sheet.ranked
    for budget in (60, 150):
        first = render_sheet(sheet, budget).split("\n")[1]
        assert first in ("- hub.py", "## hub.py (python, 2 lines)"), first


def test_estimate_tokens() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abc") == 1
    assert estimate_tokens("abcd") == 2
    # Outside ASCII, one token per character (a BPE tokenizer often needs one or more).
    assert estimate_tokens("日本語のコメント") == 8
    assert estimate_tokens("café") == 2
    assert estimate_tokens("# 注释: 计算总和\n") == 2 + 6  # "# : \n" and six characters


def test_small_budget_shows_the_top_file_in_full_when_it_fits_its_share(sheet: Sheet) -> None:
    from tinygen.sheet.render import (
        FILE_SHARE,
        header_tokens,
        imported_by_map,
        render_full,
    )

    top = sheet.files[0]
    n = len(sheet.files)
    header = header_tokens(n)
    top_full = estimate_tokens(render_full(top, imported_by_map(sheet.files).get(top.path, [])))
    budget = header + int(top_full / FILE_SHARE) + 5
    lay = layout(sheet, budget)
    assert lay is not None and lay.levels[0] == "full"
    assert sum(estimate_tokens(render_full(f, [])) for f in sheet.files) > budget
    text = render_sheet(sheet, budget)
    assert estimate_tokens(text) <= budget
    assert text.split("\n")[1].startswith("## py/pkg/core.py (python, 52 lines) — Core engine")
    assert "    def label(self) -> str  L26-28  # The label.\n" in text


@pytest.mark.parametrize("budget", [300, 600, 900])
def test_no_file_over_its_share_and_the_top_files_with_symbols(sheet: Sheet, budget: int) -> None:
    from tinygen.sheet.render import (
        FILE_SHARE,
        FULL_SHARE,
        TOP_K,
        header_tokens,
        render_full,
        render_signatures,
    )

    lay = layout(sheet, budget)
    assert lay is not None and lay.omitted > 0  # the budget cuts the tail at these sizes
    room = budget - header_tokens(len(sheet.files))
    rev = lay.imported_by
    cost = {
        "full": lambda f: estimate_tokens(render_full(f, rev.get(f.path, []))),
        "signatures": lambda f: estimate_tokens(render_signatures(f)),
    }
    detailed = [(f, x) for f, x in lay.shown() if x in cost]
    # No single file over its share of the room.
    assert all(cost[x](f) <= FILE_SHARE * room for f, x in detailed)
    # The top files are shown with their symbols, whatever their size.
    assert all(x in ("full", "part", "signatures") for x in lay.levels[:TOP_K])
    full = sum(cost["full"](f) for f, x in detailed if x == "full")
    sigs = sum(cost["signatures"](f) for f, x in detailed if x == "signatures")
    assert full <= FULL_SHARE * room or full + sigs <= room
    assert estimate_tokens(render_sheet(sheet, budget)) <= budget


@given(st.text(), st.text())
def test_estimates_of_parts_add_up_to_at_least_the_whole(a: str, b: str) -> None:
    assert estimate_tokens(a + b) <= estimate_tokens(a) + estimate_tokens(b)


def test_non_ascii_sheet_stays_within_budget(make_repo: RepoFactory) -> None:
    files = {
        f"m{i}.py": f'"""模块 {i}: 计算与验证。"""\n'
        + "".join(f'def 函数_{i}_{k}(参数: int) -> str:\n    """返回 {k}。"""\n' for k in range(6))
        for i in range(30)
    }
    sheet = build_sheet(make_repo(files))
    for budget in (80, 200, 500, 1200):
        text = render_sheet(sheet, budget)
        assert text and estimate_tokens(text) <= budget
    # Characters / 3 would have counted this text a fifth lighter.
    assert estimate_tokens(text) > 1.2 * len(text) / 3


def test_a_top_file_too_large_for_any_level_is_shown_in_part(make_repo: RepoFactory) -> None:
    methods = "".join(
        f"    def method_number_{k}(self, argument_{k}: int = {k}) -> int:\n"
        f'        """Does thing {k}."""\n        return {k}\n'
        for k in range(300)
    )
    big = (
        '"""The query set."""\n\nclass QuerySet:\n    """Lazy rows."""\n'
        + methods
        + "    def bulk_create(self, objs, batch_size=None):\n        return objs\n"
        + "\nclass Other:\n    def unrelated(self): ...\n"
    )
    files = {"db/query.py": big}
    files.update({f"app/m{i}.py": f"from db.query import QuerySet\nX{i} = 1\n" for i in range(20)})
    sheet = build_sheet(make_repo(files), query="QuerySet bulk_create")
    assert sheet.files[0].path == "db/query.py"
    lay = layout(sheet, 2000)
    assert lay is not None and lay.levels[0] == "part"
    text = render_sheet(sheet, 2000)
    assert estimate_tokens(text) <= 2000
    assert ", 1 in part" in text.split("\n")[0]
    # The part stays within the file's share: the next files are shown too.
    from tinygen.sheet.render import FILE_SHARE, TOP_K

    assert estimate_tokens(lay.parts[0]) <= FILE_SHARE * 2000
    assert all(x in ("full", "signatures") for x in lay.levels[1:TOP_K])
    body = text.split("\n", 1)[1]
    assert body.startswith("## db/query.py (python, 909 lines) — The query set.\n")
    # The named method with its class, in file order, then how many were left out.
    cls = body.index("  class QuerySet  L3-906  # Lazy rows.\n")
    assert cls < body.index("    def bulk_create(self, objs, batch_size=None)  L905-906\n")
    assert "more symbols not shown\n" in body
    assert lay.detailed()[0] == sheet.files[0]
