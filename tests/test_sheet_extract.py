"""Per-language extraction and import resolution on the fixtures in tests/data/sheet."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.helpers import commit_all, init_repo
from tinygen.sheet import FileEntry, Sheet, build_sheet

FIXTURES = Path(__file__).parent / "data" / "sheet"


@pytest.fixture(scope="module")
def sheet(tmp_path_factory: pytest.TempPathFactory) -> Sheet:
    root = tmp_path_factory.mktemp("fixtures") / "repo"
    shutil.copytree(FIXTURES, root)
    init_repo(root)
    commit_all(root, "fixtures")
    return build_sheet(root)


def entry(sheet: Sheet, path: str) -> FileEntry:
    return sheet.by_path()[path]


def sym(f: FileEntry, name: str, parent: str = "") -> tuple[str, int, int, str]:
    for s in f.symbols:
        if s.name == name and s.parent == parent:
            return s.kind, s.line, s.end_line, s.signature
    raise AssertionError(
        f"{name!r} (parent {parent!r}) not in {f.path}: {[s.name for s in f.symbols]}"
    )


def test_python_definitions_signatures_and_docstrings(sheet: Sheet) -> None:
    f = entry(sheet, "py/pkg/core.py")
    assert f.language == "python"
    assert f.doc == "Core engine: runs things."
    assert f.lines == 52
    assert len(f.blob) == 40
    assert sym(f, "MAX_SIZE") == ("constant", 12, 12, "MAX_SIZE: int = 10")
    assert sym(f, "Engine") == ("class", 17, 41, "class Engine(Base, metaclass=Meta)")
    engine = next(s for s in f.symbols if s.name == "Engine")
    assert engine.decorators == ("@dataclass",) and engine.doc == "An engine."
    assert sym(f, "__init__", "Engine")[3] == (
        "def __init__(self, name: str = DEFAULT_NAME, *, size: int = MAX_SIZE) -> None"
    )
    assert sym(f, "label", "Engine")[:2] == ("method", 26)
    kind, line, end, sig = sym(f, "run", "Engine")
    assert (kind, line, end) == ("method", 30, 38)
    assert sig == "async def run(self, steps: list[int], **options: object) -> dict[str, int]"
    assert sig.endswith("-> dict[str, int]")
    assert sym(f, "validate", "Engine.Config")[:2] == ("method", 41)
    assert sym(f, "make_engine")[3] == 'def make_engine(name="e") -> Engine'
    # Both branches of a module-level `if` define the function, as ast sees it.
    assert [s.line for s in f.symbols if s.name == "platform_path"] == [49, 51]
    # Nested functions are not part of the sheet.
    assert all(s.name != "inner" for s in f.symbols)


def test_python_imports_raw_and_resolved(sheet: Sheet) -> None:
    f = entry(sheet, "py/pkg/core.py")
    assert f.imports == ("os", ".", ".sub.leaf", "pkg.sub")  # __future__ is not a module import
    # `from . import helpers` -> the submodule; `from pkg.sub import leaf` (absolute,
    # package root below a non-package folder) -> the submodule too.
    assert f.resolved == ("py/pkg/helpers.py", "py/pkg/sub/leaf.py")
    assert entry(sheet, "py/pkg/__init__.py").resolved == ("py/pkg/core.py",)


def test_javascript(sheet: Sheet) -> None:
    f = entry(sheet, "js/src/app.js")
    assert f.doc == "The app module."
    assert f.imports == ("./util", "react", "../config.json")
    assert f.resolved == ("js/src/util.js", "js/config.json")
    assert sym(f, "start") == ("function", 7, 9, "export function start(port = 80)")
    assert next(s for s in f.symbols if s.name == "start").doc == "Starts the app."
    assert sym(f, "App")[:2] == ("class", 11)
    assert {s.name for s in f.symbols if s.parent == "App"} == {"constructor", "create", "render"}
    assert sym(f, "VERSION")[0] == "constant"
    assert sym(f, "handler")[0] == "function"


def test_typescript_and_tsx(sheet: Sheet) -> None:
    f = entry(sheet, "ts/index.ts")
    assert f.language == "typescript"
    # "./shapes.js" written for the TypeScript source shapes.ts, and "./shapes".
    assert f.resolved == ("ts/shapes.ts",)
    assert sym(f, "Named")[0] == "interface"
    assert sym(f, "greet", "Named")[0] == "method"
    assert sym(f, "Id")[0] == "type"
    assert sym(f, "Color")[0] == "enum"
    assert sym(f, "Base")[:2] == ("class", 13)
    assert sym(f, "size", "Base")[0] == "method"
    assert sym(f, "total")[3] == "export function total(shapes: Shape[]): number"
    assert sym(f, "origin", "Geometry")[0] == "function"
    view = entry(sheet, "ts/view.tsx")
    assert view.language == "tsx"
    assert view.resolved == ("ts/index.ts",)
    assert sym(view, "View")[:2] == ("function", 3)
    assert sym(view, "Small")[0] == "function"


def test_go(sheet: Sheet) -> None:
    f = entry(sheet, "go/main.go")
    assert f.doc == "Package main runs the demo."
    assert f.imports == ("fmt", "example.com/demo/internal/util")
    assert f.resolved == ("go/internal/util/util.go",)
    assert sym(f, "Answer")[0] == "constant"
    assert sym(f, "Server")[:3] == ("struct", 12, 14)
    assert sym(f, "Handler")[0] == "interface"
    assert sym(f, "Serve", "Server") == ("method", 21, 23, "func (s *Server) Serve() error")
    assert sym(f, "main")[0] == "function"


def test_rust(sheet: Sheet) -> None:
    f = entry(sheet, "rust/src/lib.rs")
    assert f.doc == "The demo crate."
    assert "crate::net::client::Client" in f.imports
    assert set(f.resolved) == {"rust/src/net.rs", "rust/src/net/client.rs"}
    assert sym(f, "Point")[0] == "struct"
    assert sym(f, "Shape")[0] == "enum"
    assert sym(f, "Area")[0] == "trait"
    assert sym(f, "area", "Area")[0] == "method"
    assert sym(f, "new", "Point") == ("method", 25, 25, "pub fn new(x: i32) -> Self")
    assert sym(f, "run")[3] == "pub fn run(points: &[Point]) -> usize"
    assert sym(f, "LIMIT")[0] == "constant"
    assert sym(f, "square")[0] == "macro"
    assert entry(sheet, "rust/src/net.rs").resolved == ("rust/src/net/client.rs",)


def test_unparsed_files_have_path_size_and_language_only(sheet: Sheet) -> None:
    f = entry(sheet, "js/config.json")
    assert (f.language, f.size, f.lines, f.symbols, f.imports) == ("json", 3, 1, (), ())
    assert entry(sheet, "go/go.mod").language is None


def test_json_form(sheet: Sheet) -> None:
    import json

    data = json.loads(sheet.to_json())
    assert data["root"] == str(sheet.root)
    files = {f["path"]: f for f in data["files"]}
    core = files["py/pkg/core.py"]
    assert set(core) >= {"path", "language", "lines", "blob", "imports", "symbols"}
    assert {"name": "Engine", "kind": "class", "line": 17, "end_line": 41}.items() <= core[
        "symbols"
    ][2].items()
    assert data["stats"]["files_seen"] == len(sheet.paths)


def test_python_imports_inside_functions(tmp_path: Path) -> None:
    root = init_repo(tmp_path / "lazy")
    (root / "pkg").mkdir()
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "b.py").write_text("C = 1\n")
    (root / "pkg" / "a.py").write_text(
        "import sys\n\ndef f():\n    from .b import C  # lazy\n    import os.path, json\n    return C\n"
        "\nclass K:\n    def m(self):\n        from pkg import b as bee\n"
    )
    commit_all(root)
    f = build_sheet(root).by_path()["pkg/a.py"]
    assert f.imports == ("sys", ".b", "os.path", "json", "pkg")
    assert f.resolved == ("pkg/b.py",)


SIGNATURES = b'''def f(x):
    # explain: tree-sitter puts this comment before the body
    return x


def h(a,  # first
      b,  # second
      c="( x )  y",
      ) -> int:  # trailing
    pass


class A(B,  # base
        C):
    # comment
    x = 1


def g(s='#not', t="a  #  b", u=[1,  # one
       2]): ...


@route("/a  b",   x = 1)
def k(d="""two
lines"""): pass


async def   m( self ,
     y :  int ) -> "Foo  Bar" :  # why
    pass


LONG = "a   b"  # note
'''


def test_python_signatures_stop_at_the_colon_and_keep_strings_as_written() -> None:
    from tinygen.sheet.scan import extract

    got = {s[0]: (s[4], s[7]) for s in extract(SIGNATURES, "python").symbols}
    assert got == {
        "f": ("def f(x)", ()),
        "h": ('def h(a, b, c="( x )  y") -> int', ()),
        "A": ("class A(B, C)", ()),
        "g": ("def g(s='#not', t=\"a  #  b\", u=[1, 2])", ()),
        "k": ('def k(d="""two\\nlines""")', ('@route("/a  b", x = 1)',)),
        "m": ('async def m(self , y : int) -> "Foo  Bar"', ()),
        "LONG": ('LONG = "a   b"', ()),
    }


def test_other_languages_keep_string_defaults_and_rust_lifetimes() -> None:
    from tinygen.sheet.scan import extract

    ts = b"export function f(a: string = \"( x )\",\n    b = 'y  z') {\n  return a;\n}\n"
    (sym,) = extract(ts, "typescript").symbols
    assert sym[4] == "export function f(a: string = \"( x )\", b = 'y  z')"
    rs = b"pub fn longest<'a>(x: &'a str,\n    y: &'a str) -> &'a str {\n    x\n}\n"
    (sym,) = extract(rs, "rust").symbols
    assert sym[4] == "pub fn longest<'a>(x: &'a str, y: &'a str) -> &'a str"


def test_python_absolute_imports_resolve_only_where_python_would_look(tmp_path: Path) -> None:
    from tests.helpers import write_files

    root = init_repo(tmp_path / "roots")
    write_files(
        root,
        {
            "app/main.py": "import logging\nimport helpers\nimport mypkg.a\nimport tool\n",
            "examples/logging.py": "X = 1\n",
            "examples/helpers.py": "Y = 1\n",
            "examples/run.py": "import helpers\nimport logging\n",
            "src/mypkg/__init__.py": "",
            "src/mypkg/a.py": "import json\n",
            "src/tool.py": "Z = 1\n",
            "backend/app2/__init__.py": "",
            "backend/app2/models.py": "from app2 import views\n",
            "backend/app2/views.py": "",
            "json.py": "",
        },
    )
    commit_all(root)
    files = build_sheet(root).by_path()
    # The stdlib's logging, not examples/logging.py; a folder of scripts is not a root.
    assert files["app/main.py"].resolved == ("src/mypkg/a.py", "src/tool.py")
    # From a script's own folder, as Python runs it (but still not the stdlib's names).
    assert files["examples/run.py"].resolved == ("examples/helpers.py",)
    # A top-level package's folder is a root; the repository root is, for stdlib names too.
    assert files["backend/app2/models.py"].resolved == ("backend/app2/views.py",)
    assert files["src/mypkg/a.py"].resolved == ("json.py",)
