"""Ranking: the files a request names come first; the graph pulls in their neighbours;
the same input always gives the same order."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import RepoFactory
from tinygen.sheet import build_sheet


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


# -- lexical matching: words of the request against path components and symbol-name parts


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small service: a hub every module imports (errors, config), and packages whose
    folder names, plural-able class names and snake_case parts are what requests say."""
    from tests.helpers import commit_all, init_repo, write_files

    files = {
        "app/__init__.py": "",
        "app/errors.py": "class AppError(Exception): ...\nclass NotFound(AppError): ...\n",
        "app/config.py": "from app.errors import AppError\n\nclass Settings:\n    debug = False\n",
        "app/scheduler/__init__.py": "",
        "app/scheduler/loop.py": (
            "from app.errors import AppError\nfrom app.config import Settings\n\n"
            "def run_forever(settings: Settings) -> None: ...\n"
        ),
        "app/scheduler/backoff.py": (
            "from app.errors import AppError\n\ndef next_delay(attempt: int) -> float: ...\n"
        ),
        "app/diffing/__init__.py": "",
        "app/diffing/model.py": (
            "from app.errors import AppError\n\n"
            "class Hunk:\n    def lines(self) -> list[str]: ...\n\n"
            "class FilePatch:\n    hunks: list[Hunk]\n"
        ),
        "app/diffing/engine.py": (
            "from app.diffing.model import Hunk\nfrom app.errors import AppError\n\n"
            "def place_hunk(text: str, hunk: Hunk) -> str: ...\n"
        ),
        "app/text/__init__.py": "",
        "app/text/clean.py": (
            "from app.errors import AppError\n\n"
            "def normalize_unicode_text(s: str) -> str: ...\n"
            "def collapse_spaces(s: str) -> str: ...\n"
        ),
        "app/web/views.py": (
            "from app.errors import NotFound\nfrom app.config import Settings\n\n"
            "def index(request): ...\n"
        ),
        "README.md": "# Service\n",
    }
    for i in range(30):  # callers of the hub: plain PageRank puts errors/config first
        files[f"app/jobs/job{i:02}.py"] = (
            "from app.errors import AppError\nfrom app.config import Settings\n\n"
            f"def job_{i}(settings: Settings) -> None: ...\n"
        )
    root = init_repo(tmp_path_factory.mktemp("lexical") / "repo")
    write_files(root, files)
    commit_all(root)
    return root


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # a folder name: no file is called "scheduler"
        ("the scheduler spins at 100% CPU after midnight", "app/scheduler/loop.py"),
        # a plural of a class name ("hunks" vs Hunk) and a verb form of a snake_case part
        ("hunks are misplaced when the file has CRLF endings", "app/diffing/engine.py"),
        ("hunks are misplaced when the file has CRLF endings", "app/diffing/model.py"),
        # a part of a snake_case identifier
        ("unicode in titles comes out mangled", "app/text/clean.py"),
        # a camel/snake part and a plural: "delays" -> next_delay
        ("retry delays grow too fast", "app/scheduler/backoff.py"),
    ],
)
def test_request_words_bring_the_right_file_into_the_top_3(
    service: Path, query: str, expected: str
) -> None:
    sheet = build_sheet(service, query=query)
    top = [f.path for f in sheet.files[:3]]
    assert expected in top, top
    assert sheet.mentioned == []  # found by words, not by a named path


def test_named_path_still_beats_lexical_matches(service: Path) -> None:
    sheet = build_sheet(service, query="hunks are misplaced; see app/web/views.py")
    assert sheet.files[0].path == "app/web/views.py"
    assert sheet.mentioned == ["app/web/views.py"]
    assert {"app/diffing/engine.py", "app/diffing/model.py"} & {f.path for f in sheet.files[1:4]}


def test_stop_words_alone_do_not_personalize(service: Path) -> None:
    plain = [f.path for f in build_sheet(service).files]
    ranked = build_sheet(service, query="please fix the thing that is in there")
    assert ranked.ranked and ranked.mentioned == []
    # No query word survives: plain PageRank order, the hub first.
    assert ranked.files[0].path == "app/errors.py"
    assert sorted(f.path for f in ranked.files) == sorted(plain)


def test_this_repository_patch_engine_query(tmp_path: Path) -> None:
    """The request that used to rank tinygen/errors.py and tests/helpers.py first: on a
    copy of this repository's HEAD, a tinygen/patch/ module must be in the top 5."""
    from tests.helpers import commit_all, init_repo

    here = Path(__file__).resolve().parents[1]
    copy = init_repo(tmp_path / "tinygen-copy")
    archive = subprocess.run(
        ["git", "archive", "--format=tar", "HEAD"], cwd=here, check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(copy)], input=archive, check=True)
    commit_all(copy)
    sheet = build_sheet(copy, query="patch engine places hunks by content")
    top = [f.path for f in sheet.files[:5]]
    assert any(p.startswith("tinygen/patch/") for p in top), top


def test_a_huge_request_is_read_up_to_the_token_cap(shop: Path) -> None:
    """A pasted log of thousands of path-like tokens: each is looked up in an index of
    path endings (not compared with every path), and only the first MAX_TOKENS distinct
    tokens count as names."""
    from tinygen.sheet.mentions import MAX_TOKENS, find_mentions

    paths = [f.path for f in build_sheet(shop).files]
    junk = " ".join(f"nowhere/dir{i}/file{i}.py" for i in range(MAX_TOKENS + 500))
    query = f"utils/text.py {junk} models.py again utils/text.py"
    found = find_mentions(f"see shop/billing.py {query}", paths, {})
    assert found.ordered() == ["shop/billing.py", "shop/utils/text.py"]
    # models.py comes after the cap: not a mention; repeats do not use up the cap.
    late = find_mentions(" ".join(["x/y.py"] * 5000) + " " + junk + " models.py", paths, {})
    assert late.ordered() == []
    again = find_mentions(" ".join(["x/y.py"] * 5000) + " models.py", paths, {})
    assert again.ordered() == ["shop/models.py"]


# -- fusion rules (issue 11)


def test_code_like_tokens_only() -> None:
    from tinygen.sheet.rank import code_tokens

    query = (
        "If the index is empty, `name` is lost; QuerySet.bulk_create calls get_or_create() "
        "and HTTPServer fails.\n\n```python\nx = load(path)\n```\n"
    )
    tokens = code_tokens(query)
    for word in ("name", "QuerySet", "bulk_create", "get_or_create", "HTTPServer", "load", "path"):
        assert word in tokens
    assert "If" not in tokens and "index" not in tokens and "empty" not in tokens


def test_prose_words_that_are_top_level_names_earn_nothing(make_repo: RepoFactory) -> None:
    files = {
        "lib/index.py": "def index(): ...\n",
        "lib/name.py": "def name(): ...\n",
        "lib/search.py": '"""Search pages."""\ndef find_pages(words): ...\n',
    }
    root = make_repo(files)
    ranked = build_sheet(root, query="the index of search pages has a wrong name")
    assert ranked.files[0].path == "lib/search.py"
    quoted = build_sheet(root, query="`index` is wrong")
    assert quoted.files[0].path == "lib/index.py"


def test_test_files_are_demoted_unless_the_request_is_about_tests(make_repo: RepoFactory) -> None:
    from tinygen.sheet.rank import about_tests, is_test_path

    body = "def parse_header(line): ...\n# parse header line, header value\n"
    files = {
        "pkg/headers.py": body,
        "tests/test_headers.py": body * 3 + "def test_parse_header(): ...\n",
    }
    root = make_repo(files)
    query = "parse_header drops the header value"
    assert build_sheet(root, query=query).files[0].path == "pkg/headers.py"
    about = "Add tests for parse_header\n\nThe header value case has no test."
    assert about_tests(about) and not about_tests(query)
    assert build_sheet(root, query=about).files[0].path == "tests/test_headers.py"
    assert is_test_path("tests/test_headers.py") and is_test_path("pkg/conftest.py")
    assert is_test_path("src/app/foo_test.py") and is_test_path("web/a.spec.ts")
    assert not is_test_path("pkg/testament.py") and not is_test_path("pkg/contest.py")


def test_content_channel_finds_strings_and_comments(make_repo: RepoFactory) -> None:
    files = {f"pkg/mod{i}.py": f"def f{i}(x):\n    return x + {i}\n" for i in range(20)}
    files["pkg/loader.py"] = (
        "def load(path):\n"
        "    # a BOM at the start is not stripped\n"
        '    raise ValueError("unsupported encoding marker")\n'
    )
    root = make_repo(files)
    sheet = build_sheet(root, query="Loading fails with 'unsupported encoding marker'")
    assert sheet.files[0].path == "pkg/loader.py"


def test_a_wrong_mention_can_be_outranked(make_repo: RepoFactory) -> None:
    files = {
        "pkg/__init__.py": "from pkg.frames import DataFrame\n",
        "pkg/frames.py": "class DataFrame:\n    def to_csv(self, sep=','): ...\n",
        "pkg/csvio.py": (
            "def write_csv(frame, sep):\n    # the separator is quoted when it is a comma\n"
            "    quote_separator(sep)\n\ndef quote_separator(sep): ...\n"
        ),
    }
    files.update({f"pkg/other{i}.py": f"X{i} = {i}\n" for i in range(10)})
    root = make_repo(files)
    query = (
        "write_csv quotes the separator twice\n\n>>> from pkg import DataFrame\n"
        ">>> DataFrame().to_csv(sep=';')\n"
    )
    sheet = build_sheet(root, query=query)
    assert sheet.mentioned == ["pkg/__init__.py"]  # a package named by an import line: weak
    top = [f.path for f in sheet.files[:3]]
    assert top[0] != "pkg/__init__.py" and "pkg/csvio.py" in top, top


def test_the_rank_index_is_stored_and_rebuilt_when_a_file_changes(make_repo: RepoFactory) -> None:
    from tinygen.repo.git import state_dir
    from tinygen.sheet.index import INDEX_NAME

    root = make_repo({"a.py": "def alpha(): ...\n", "b.py": "def beta(): ...\n"})
    first = build_sheet(root, query="alpha")
    stored = state_dir(root) / INDEX_NAME
    assert stored.is_file() and first.index is not None
    before = stored.read_bytes()
    again = build_sheet(root, query="alpha")
    assert again.index is not None and again.index.digest == first.index.digest
    assert stored.read_bytes() == before  # loaded, not rewritten
    (root / "b.py").write_text("def beta(): ...\ndef alpha_helper(): ...\n")
    changed = build_sheet(root, query="alpha_helper")
    assert changed.index is not None and changed.index.digest != first.index.digest
    assert changed.files[0].path == "b.py"


def test_a_few_changed_files_patch_the_stored_index(make_repo: RepoFactory) -> None:
    """Edited files: the stored index is patched in memory (their terms and names
    replaced), ranking as a rebuilt index would; a new file rebuilds and stores it."""
    from tinygen.repo.git import state_dir
    from tinygen.sheet.index import INDEX_NAME, build_index
    from tinygen.sheet.rank import rank

    files = {f"pkg/m{i}.py": f"def helper_{i}(x):\n    return x + {i}\n" for i in range(12)}
    files["pkg/parse.py"] = "def parse_header(line):\n    return line.split(':')\n"
    root = make_repo(files)
    build_sheet(root, query="parse header")
    stored = state_dir(root) / INDEX_NAME
    before = stored.read_bytes()
    (root / "pkg/m3.py").write_text("def decode_cookie(raw):\n    # cookie values are quoted\n")
    (root / "pkg/parse.py").write_text("def split_line(line):\n    return line.split()\n")
    query = "cookie values lose their quotes in decode_cookie"
    sheet = build_sheet(root, query=query)
    assert stored.read_bytes() == before  # patched, not rebuilt
    assert sheet.files[0].path == "pkg/m3.py"
    fresh = build_index(sorted(sheet.files, key=lambda f: f.path), "")
    assert sheet.index is not None
    patched, rebuilt = rank(sheet.index, query), rank(fresh, query)
    assert patched.order[:5] == rebuilt.order[:5]
    assert sheet.index.names.get("parse_header") is None
    (root / "pkg/new.py").write_text("def brand_new(): ...\n")
    subprocess.run(["git", "add", "pkg/new.py"], cwd=root, check=True)
    build_sheet(root, query=query)
    assert stored.read_bytes() != before  # a new path: rebuilt and stored
