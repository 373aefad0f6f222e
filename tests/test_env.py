"""One reader each for the environment variables several parts of tinygen share
(tinygen/env.py; the settings' TINYGEN_* variables: tinygen.config.read_env)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tinygen.env import workflow_repository

PACKAGE = Path(__file__).resolve().parent.parent / "tinygen"

# variable -> the one module that reads it
READERS = {
    "GITHUB_REPOSITORY": "env.py",
    "GITHUB_TOKEN": "env.py",
    "GH_TOKEN": "env.py",
    "GITHUB_SERVER_URL": "env.py",
    "GITHUB_API_URL": "env.py",
    "TINYGEN_APP_ID": "env.py",
    "TINYGEN_APP_PRIVATE_KEY": "env.py",
    # settings: read_env builds "TINYGEN_" + the setting's name, so no module spells them
    "TINYGEN_MODEL": None,
    "TINYGEN_SUMMARY_MODEL": None,
}


def reads(tree: ast.AST) -> list[tuple[int, str]]:
    """Where a module looks a variable up by a literal name: ``x.get("NAME")``,
    ``os.getenv("NAME")``, ``env["NAME"]``, ``"NAME" in env``. Messages naming a variable
    are not reads."""
    found = []
    for node in ast.walk(tree):
        key: ast.AST | None = None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in ("get", "getenv", "pop") and node.args:
                key = node.args[0]
        elif isinstance(node, ast.Subscript):
            key = node.slice
        elif isinstance(node, ast.Compare) and isinstance(node.ops[0], (ast.In, ast.NotIn)):
            key = node.left
        if isinstance(key, ast.Constant) and key.value in READERS:
            found.append((node.lineno, key.value))
    return found


def test_each_shared_variable_has_one_reader() -> None:
    stray = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = path.relative_to(PACKAGE).as_posix()
        for line, name in reads(ast.parse(path.read_text(encoding="utf-8"))):
            if READERS[name] != module:
                stray.append(f"tinygen/{module}:{line} reads {name}")
    assert not stray, "read it through tinygen/env.py (or load_settings):\n" + "\n".join(stray)


def test_the_scan_sees_each_way_of_reading() -> None:
    code = 'os.environ.get("GITHUB_TOKEN")\nenv["GH_TOKEN"]\n"TINYGEN_MODEL" in env\n'
    code += 'os.getenv("GITHUB_API_URL")\nraise X("set GITHUB_REPOSITORY")\n'
    assert [name for _, name in reads(ast.parse(code))] == [
        "GITHUB_TOKEN",
        "GH_TOKEN",
        "TINYGEN_MODEL",
        "GITHUB_API_URL",
    ]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"GITHUB_REPOSITORY": "octo/demo"}, "octo/demo"),
        ({"GITHUB_REPOSITORY": " octo/demo \n"}, "octo/demo"),
        ({"GITHUB_REPOSITORY": "  "}, None),
        ({}, None),
    ],
)
def test_the_workflow_repository(env: dict[str, str], expected: str | None) -> None:
    assert workflow_repository(env) == expected


def test_the_workflow_repository_defaults_to_the_process_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GITHUB_REPOSITORY", "octo/other")
    assert workflow_repository() == "octo/other"
