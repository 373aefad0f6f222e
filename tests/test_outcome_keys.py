"""Outcome keys (tinygen.validate.outcome): comments and formatting never split votes;
any change to what the code does does."""

from __future__ import annotations

import pytest

from tinygen.validate.outcome import DELETED, canonical_form, outcome_key

PY = 'def area(w: int, h: int) -> int:\n    """Width times height."""\n    return w * h\n'
PY_SAME = (
    "# the area of a rectangle\n"
    "def area(w: int,\n         h: int) -> int:   # typed\n"
    "    '''Width times height.'''\n\n    return (w * h)\n"
)
PY_OTHER = 'def area(w: int, h: int) -> int:\n    """Width times height."""\n    return h * w\n'

JS = "function add(a, b) {\n  return a + b;\n}\n"
JS_SAME = "// sum\nfunction add(a,b){ /* fast */ return a + b; }\n"
JS_OTHER = "function add(a, b) {\n  return a - b;\n}\n"

GO = "package m\n\nfunc Add(a int, b int) int {\n\treturn a + b\n}\n"
GO_SAME = "package m\n// Add adds.\nfunc Add(a int, b int) int { return a + b }\n"
GO_OTHER = "package m\n\nfunc Add(a int, b int) int {\n\treturn a * b\n}\n"


@pytest.mark.parametrize(
    ("path", "text", "same", "other"),
    [
        ("m/geometry.py", PY, PY_SAME, PY_OTHER),
        ("web/add.js", JS, JS_SAME, JS_OTHER),
        ("web/add.ts", JS, JS_SAME, JS_OTHER),
        ("m/add.go", GO, GO_SAME, GO_OTHER),
        ("docs/notes.md", "Use  the\tflag.\n", "Use the flag.", "Use the option.\n"),
    ],
)
def test_same_change_same_key_and_another_change_another(
    path: str, text: str, same: str, other: str
) -> None:
    assert outcome_key(path, text) == outcome_key(path, same)
    assert outcome_key(path, text) != outcome_key(path, other)


def test_python_keys_come_from_the_syntax_tree() -> None:
    assert canonical_form("a.py", PY).startswith("python-ast\0")
    # a string's content is code: a changed message is a changed outcome
    assert outcome_key("a.py", "x = 'hi'\n") != outcome_key("a.py", "x = 'ho'\n")


def test_python_that_does_not_parse_falls_back_to_its_words() -> None:
    broken = "def f(:\n    pass\n"
    assert canonical_form("a.py", broken).startswith("words\0")
    assert outcome_key("a.py", broken) == outcome_key("a.py", "def  f(:\n pass")


def test_other_languages_use_the_token_stream_without_comments() -> None:
    form = canonical_form("web/add.js", JS_SAME)
    assert form.startswith("javascript-tokens\0")
    assert "sum" not in form and "fast" not in form and "add" in form


def test_a_deleted_file_has_its_own_key() -> None:
    assert outcome_key("a.py", None) == DELETED
    assert outcome_key("a.py", "") != DELETED
