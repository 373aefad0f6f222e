"""Issue 12 item 11: `tinygen apply` runs the syntax delta `tinygen run`'s gate uses, and
refuses a change that adds syntax errors (or, with --force, writes it with a warning)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from tests.conftest import RepoFactory
from tests.helpers import status
from tinygen.cli import cli
from tinygen.errors import ExitCode

MOD = "import os\n\n\ndef f():\n    return os.getcwd()\n\n\ndef g():\n    return 2\n"
# The hunk lost its second context line ("    return os.getcwd()"): it still fits at one
# place, right after "def f():", and splits the function.
SPLITS_F = (
    "--- a/mod.py\n+++ b/mod.py\n@@ -4,1 +4,5 @@\n def f():\n+\n+def helper():\n+    return 3\n+\n"
)
FINE = "--- a/mod.py\n+++ b/mod.py\n@@ -8,2 +8,2 @@\n def g():\n-    return 2\n+    return 3\n"


def apply(root: Path, diff: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["apply", "--repo", str(root), "-", *args], input=diff)
    return result.exit_code, result.stdout, result.stderr


def test_a_change_that_splits_a_function_is_refused(make_repo: RepoFactory) -> None:
    root = make_repo({"mod.py": MOD})
    before = status(root)
    code, out, err = apply(root, SPLITS_F, "--json")
    assert code == ExitCode.PATCH, err
    report = json.loads(out)
    assert not report["written"] and "adds syntax errors to mod.py" in report["error"]
    assert report["syntax_problems"] and report["syntax_problems"][0]["path"] == "mod.py"
    assert "--force" in err  # the CLI words the setting the hint names
    assert (root / "mod.py").read_text() == MOD and status(root) == before


def test_force_writes_it_with_a_warning(make_repo: RepoFactory) -> None:
    root = make_repo({"mod.py": MOD})
    code, _, err = apply(root, SPLITS_F, "--force")
    assert code == 0, err
    assert "warning: mod.py: the change adds a syntax error" in err
    assert "def helper():" in (root / "mod.py").read_text()


def test_a_dry_run_warns(make_repo: RepoFactory) -> None:
    root = make_repo({"mod.py": MOD})
    code, out, err = apply(root, SPLITS_F, "--dry-run")
    assert code == 0 and "+def helper():" in out
    assert "applying would need --force (syntax errors)" in err
    assert (root / "mod.py").read_text() == MOD


def test_a_change_that_parses_is_written(make_repo: RepoFactory) -> None:
    root = make_repo({"mod.py": MOD, "broken.py": "def x(:\n"})
    code, out, err = apply(root, FINE, "--json")
    assert code == 0, err
    assert json.loads(out)["syntax_problems"] == []
    # a file that did not parse before may still be edited (only new errors count)
    code, _, err = apply(root, "--- a/broken.py\n+++ b/broken.py\n@@\n-def x(:\n+def y(:\n")
    assert code == 0, err


def test_the_gate_check_catches_what_tree_sitter_lets_pass() -> None:
    """The same delta guards `tinygen run`'s gate: tree-sitter's error recovery accepts the
    split function, the interpreter's compiler does not."""
    from tinygen.validate.syntax import new_syntax_problems

    split = MOD.replace("def f():\n", "def f():\n\ndef helper():\n    return 3\n\n")
    (problem,) = new_syntax_problems("mod.py", MOD, split)
    assert "expected an indented block" in problem
    assert new_syntax_problems("mod.py", None, MOD) == []


def test_syntax_newer_than_this_interpreter_is_not_called_an_error() -> None:
    """Only indentation errors come from the interpreter: PEP 695 syntax, say, is Python 3.12
    and tree-sitter's grammar knows it, whatever Python tinygen runs on."""
    from tinygen.validate.syntax import new_syntax_problems

    newer = (
        MOD
        + "\n\ntype Pair[T] = tuple[T, T]\n\n\ndef first[T](p: Pair[T]) -> T:\n    return p[0]\n"
    )
    assert new_syntax_problems("mod.py", MOD, newer) == []
