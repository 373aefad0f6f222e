"""`tinygen map` through the real CLI group."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import RepoFactory
from tests.helpers import commit_all, init_repo
from tinygen.cli import cli
from tinygen.repo.git import state_dir
from tinygen.sheet import estimate_tokens
from tinygen.sheet.cache import CACHE_NAME

FILES = {
    "app/models.py": '"""Models."""\nclass User:\n    def name(self) -> str: ...\n',
    "app/views.py": "from app.models import User\n\ndef show(u: User) -> str:\n    return u.name()\n",
    "README.md": "# App\n",
}


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["map", *args])
    return result.exit_code, result.stdout, result.stderr


def test_text_output(make_repo: RepoFactory) -> None:
    code, out, _ = run(str(make_repo(FILES)))
    assert code == 0
    assert "## app/models.py (python, 3 lines) — Models.\n" in out
    assert "    def name(self) -> str  L3\n" in out
    assert "  imports: app/models.py\n" in out


def test_json_output_every_file_and_rank_order(make_repo: RepoFactory) -> None:
    root = make_repo(FILES)
    code, out, _ = run(str(root), "--json")
    data = json.loads(out)
    assert code == 0 and data["root"] == str(root.resolve())
    assert [f["path"] for f in data["files"]] == ["README.md", "app/models.py", "app/views.py"]
    views = data["files"][2]
    assert views["imports"] == ["app.models"] and views["resolved_imports"] == ["app/models.py"]
    assert views["symbols"] == [
        {
            "name": "show",
            "kind": "function",
            "line": 3,
            "end_line": 4,
            "signature": "def show(u: User) -> str",
        }
    ]
    assert data["stats"]["files_seen"] == 3
    code, out, _ = run(str(root), "--json", "--query", "change app/views.py")
    ranked = json.loads(out)
    assert ranked["files"][0]["path"] == "app/views.py"
    assert ranked["mentioned"] == ["app/views.py"]


def test_budget_and_stats(make_repo: RepoFactory) -> None:
    root = make_repo(FILES)
    code, out, err = run(str(root), "--budget", "40", "--stats")
    assert code == 0 and estimate_tokens(out.rstrip("\n")) <= 40
    assert "files seen 3 = listed 3 (parsed 2) + skipped 0" in err and "hits 0 + misses 3" in err
    code, out, _ = run(str(root), "--budget", "40", "--json")
    assert code == 0 and len(json.loads(out)["files"]) < 3


def test_not_a_repo_is_a_clear_error(tmp_path: Path) -> None:
    code, out, err = run(str(tmp_path))
    assert code == 8
    assert f"{tmp_path.resolve()} is not inside a git repository" in err
    assert "hint:" in err and "Traceback" not in err + out


def test_missing_path_and_bad_budget(tmp_path: Path) -> None:
    code, _, err = run(str(tmp_path / "nope"))
    assert code == 8 and "does not exist" in err
    code, _, err = run(str(tmp_path), "--budget", "0")
    assert code == 2 and "budget" in err.lower()


def test_empty_repo_exit_zero(tmp_path: Path) -> None:
    root = init_repo(tmp_path / "empty")
    code, out, _ = run(str(root), "--json")
    assert code == 0 and json.loads(out)["files"] == []
    code, out, _ = run(str(root))
    assert code == 0 and out.startswith("# reference sheet: 0 files")


def test_corrupt_cache_warning_on_stderr(make_repo: RepoFactory) -> None:
    root = make_repo(FILES)
    assert run(str(root))[0] == 0
    (state_dir(root) / CACHE_NAME).write_bytes(b"garbage")
    code, out, err = run(str(root))
    assert code == 0 and "## app/models.py" in out
    assert "tinygen: warning: the sheet cache" in err and "rebuilding it" in err


def test_subprocess_entry_point_and_max_file_bytes(make_repo: RepoFactory) -> None:
    root = make_repo(FILES)
    proc = subprocess.run(
        [sys.executable, "-m", "tinygen", "map", str(root), "--max-file-bytes", "20", "--stats"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "too-large 2" in proc.stderr
    assert "## README.md" in proc.stdout and "## app/models.py" not in proc.stdout


def test_budget_below_the_header_is_a_usage_error(make_repo: RepoFactory) -> None:
    from tinygen.sheet import build_sheet
    from tinygen.sheet.render import min_budget

    root = make_repo(FILES)
    least = min_budget(build_sheet(root))
    code, out, err = run(str(root), "--budget", "5")
    assert code == 2 and out == ""
    assert "--budget 5 is too small" in err and f"at least {least} tokens" in err
    code, out, _ = run(str(root), "--budget", str(least))
    assert code == 0 and out.startswith("# reference sheet: 3 files")


def test_repository_git_refuses_names_the_reason_and_safe_directory(
    make_repo: RepoFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_repo(FILES)
    # git's own switch for its test suite: treat the repository as owned by someone else.
    monkeypatch.setenv("GIT_TEST_ASSUME_DIFFERENT_OWNER", "1")
    code, out, err = run(str(root))
    assert code == 8 and out == ""
    assert "dubious ownership" in err and "not inside a git repository" not in err
    assert f"git config --global --add safe.directory {root.resolve()}" in err
    assert "git init" not in err


def test_odd_file_names_stay_valid_utf8_and_one_line(make_repo: RepoFactory) -> None:
    root = make_repo({"ok.py": "def ok(): pass\n"}, commit=False)
    (root / os.fsdecode(b"caf\xe9.py")).write_text("def latin(): pass\n")
    (root / "two\nlines.py").write_text("def nl(): pass\n")
    commit_all(root)
    proc = subprocess.run(
        [sys.executable, "-m", "tinygen", "map", str(root), "--json"], capture_output=True
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout.decode("utf-8"))  # strict: valid UTF-8
    paths = [f["path"] for f in data["files"]]
    assert paths == ["caf\udce9.py", "ok.py", "two\nlines.py"]
    proc = subprocess.run([sys.executable, "-m", "tinygen", "map", str(root)], capture_output=True)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout.decode("utf-8")
    assert "## caf\\xe9.py (python, 1 lines)\n" in text
    assert "## two\\nlines.py (python, 1 lines)\n" in text
    assert not [line for line in text.splitlines() if line.startswith("lines.py")]


def test_json_with_budget_gives_each_files_detail_level(make_repo: RepoFactory) -> None:
    files = {f"pkg/m{i:02}.py": f"def func_{i}(a: int) -> int:\n    return a\n" for i in range(60)}
    files["pkg/core.py"] = "".join(
        f"def step_{k}(x: int) -> int:\n    return x\n" for k in range(40)
    )
    root = make_repo(files)
    code, out, _ = run(str(root), "--json", "--budget", "500", "--query", "pkg/core.py step_3")
    data = json.loads(out)
    levels = [f["detail"] for f in data["files"]]
    assert code == 0 and data["files"][0]["path"] == "pkg/core.py"
    assert set(levels) <= {"full", "part", "signatures", "path"} and "path" in levels
    # The top five with their symbols, before any file shown as a path only.
    assert all(x != "path" for x in levels[:5])
    assert levels.index("path") >= 5
    only_paths = [f for f in data["files"] if f["detail"] == "path"]
    assert all("symbols" not in f for f in only_paths)
    assert all("symbols" in f for f in data["files"] if f["detail"] != "path")
