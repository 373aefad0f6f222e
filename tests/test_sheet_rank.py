"""Ranking: the files a request names come first; the graph pulls in their neighbours;
the same input always gives the same order."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import RepoFactory
from tinygen.sheet import build_sheet
from tinygen.sheet.rank import pagerank


@pytest.fixture
def shop(make_repo: RepoFactory) -> Path:
    files = {
        "shop/__init__.py": "",
        "shop/models.py": "class Order:\n    def total(self): ...\n\nclass Customer:\n    pass\n",
        "shop/billing.py": "from shop.models import Order\n\ndef invoice(order: Order): ...\n",
        "shop/views.py": "from .billing import invoice\nfrom .models import Customer\n\ndef checkout(): ...\n",
        "shop/utils/text.py": "def slugify(s): ...\n",
        "docs/guide.md": "# Guide\n",
        "README.md": "# Shop\n",
    }
    for i in range(30):  # filler so that rank order is not trivially path order
        files[f"misc/m{i:02}.py"] = f"from shop.utils.text import slugify\n\ndef helper{i}(): ...\n"
    return make_repo(files)


def test_no_query_is_path_order(shop: Path) -> None:
    sheet = build_sheet(shop)
    assert [f.path for f in sheet.files] == sorted(f.path for f in sheet.files)
    assert not sheet.ranked and sheet.mentioned == []


@pytest.mark.parametrize(
    ("query", "first"),
    [
        ("fix the rounding in shop/billing.py please", ["shop/billing.py"]),
        ("billing.py rounds wrong", ["shop/billing.py"]),
        ("see shop.views and then docs/guide.md", ["docs/guide.md", "shop/views.py"]),
        ("utils/text.py: slugify drops accents", ["shop/utils/text.py"]),
        ("`README.md` typo", ["README.md"]),
    ],
)
def test_named_files_rank_first(shop: Path, query: str, first: list[str]) -> None:
    sheet = build_sheet(shop, query=query)
    assert sheet.ranked
    assert sheet.mentioned == first
    assert [f.path for f in sheet.files[: len(first)]] == first


def test_identifiers_pull_their_definitions_and_imports_follow(shop: Path) -> None:
    sheet = build_sheet(shop, query="Order total is wrong when a Customer checks out")
    order = [f.path for f in sheet.files]
    assert sheet.mentioned == []
    # models.py defines both names; the files depending on it come next.
    assert order[0] == "shop/models.py"
    assert order.index("shop/billing.py") < order.index("misc/m00.py")


def test_ranking_is_deterministic(shop: Path) -> None:
    runs = [
        [(f.path, f.score) for f in build_sheet(shop, query="invoice for an Order").files]
        for _ in range(3)
    ]
    assert runs[0] == runs[1] == runs[2]


def test_pagerank_basics() -> None:
    # 0 -> 1 -> 2, 3 -> 2: node 2 collects the most, scores sum to 1.
    scores = pagerank([{1: 1.0}, {2: 1.0}, {}, {2: 1.0}], [1.0, 1.0, 1.0, 1.0])
    assert abs(sum(scores) - 1.0) < 1e-9
    assert max(range(4), key=lambda i: scores[i]) == 2
    # Personalization on node 3 favours it over node 0, which has the same shape.
    personal = pagerank([{1: 1.0}, {2: 1.0}, {}, {2: 1.0}], [0.0, 0.0, 0.0, 1.0])
    assert personal[3] > personal[0]
    assert pagerank([], []) == []
