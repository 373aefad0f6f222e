"""The checks runner: real processes in a real directory."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tinygen.validate import run_checks
from tinygen.validate.checks import MAX_LINE, TAIL_BYTES, TAIL_LINES


def test_results_exit_codes_and_tail(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("hello\n")
    ok, bad, long = run_checks(
        tmp_path,
        ["cat f.txt", "echo oops >&2; exit 3", f"seq 1 {TAIL_LINES + 50}"],
        timeout=60,
    )
    assert ok.ok and ok.exit_code == 0 and ok.output_tail == "hello\n"
    assert not bad.ok and bad.exit_code == 3 and "oops" in bad.output_tail
    lines = long.output_tail.splitlines()
    assert len(lines) == TAIL_LINES and lines[-1] == str(TAIL_LINES + 50)
    assert ok.to_dict()["command"] == "cat f.txt"


def _alive(pid: int) -> bool:
    """Running: a zombie (dead, waiting to be reaped by whoever adopted it) is not."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    # A background child that would outlive the shell unless the whole group is killed;
    # the shell says "started" once the child has written its pid.
    command = (
        "sh -c 'echo $$ > child.pid; exec sleep 60' & "
        "while [ ! -s child.pid ]; do sleep 0.01; done; echo started; sleep 60"
    )
    (result,) = run_checks(tmp_path, [command], timeout=1)
    assert result.timed_out and result.exit_code is None and not result.ok
    assert "started" in result.output_tail and "killed after 1 s" in result.output_tail
    child = int((tmp_path / "child.pid").read_text())
    deadline = time.monotonic() + 30  # a safety limit: SIGKILL lands asynchronously
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not _alive(child)


def test_environment_is_an_allow_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-secretvalue123456")
    monkeypatch.setenv("MY_TOKEN", "tok-1234567890")
    monkeypatch.setenv("GH_PAT", "ghp_" + "a" * 36)
    monkeypatch.setenv("DATABASE_URL", "postgres://u:pw@db.example/x")
    monkeypatch.setenv("SSH_AUTH_SOCK", "/tmp/agent.sock")
    monkeypatch.setenv("HARMLESS", "visible")
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    monkeypatch.setenv("CI", "true")
    (result,) = run_checks(tmp_path, ["env"], timeout=60)
    names = {ln.split("=", 1)[0] for ln in result.output_tail.splitlines() if "=" in ln}
    assert {"PATH", "HOME", "LC_ALL", "CI"} <= names
    for secret in ("ANTHROPIC_API_KEY", "MY_TOKEN", "GH_PAT", "DATABASE_URL", "SSH_AUTH_SOCK"):
        assert secret not in names
    assert "HARMLESS" not in names  # not named in check-env
    monkeypatch.setenv("PYTHONHASHSEED", "0")
    monkeypatch.setenv("PYTHON_TOKEN", "tok-0987654321")
    (passed,) = run_checks(
        tmp_path, ["env"], timeout=60, pass_env=["HARMLESS", "PYTHON*", "DATABASE_URL"]
    )
    names = {ln.split("=", 1)[0] for ln in passed.output_tail.splitlines() if "=" in ln}
    assert {"HARMLESS", "PYTHONHASHSEED", "DATABASE_URL"} <= names
    assert "PYTHON_TOKEN" not in names  # a glob never passes a secret-looking name
    assert "pw@" not in passed.output_tail  # and a passed URL's password is redacted


def test_output_is_capped_in_bytes(tmp_path: Path) -> None:
    (result,) = run_checks(
        tmp_path, ["head -c 3000000 /dev/zero | tr '\\0' x; echo; echo end"], timeout=60
    )
    lines = result.output_tail.splitlines()
    assert lines[-1] == "end" and len(result.output_tail) < TAIL_BYTES
    assert lines[0].startswith("x" * MAX_LINE) and "bytes cut]" in lines[0]
    (many,) = run_checks(
        tmp_path,
        ["for i in $(seq 150); do head -c 1500 /dev/zero | tr '\\0' y; echo; done"],
        timeout=60,
    )
    assert len(many.output_tail.encode()) <= TAIL_BYTES


def test_memory_limit(tmp_path: Path) -> None:
    code = "python3 -c \"b = bytearray(400 * 1024 * 1024); print('allocated')\""
    (limited,) = run_checks(tmp_path, [code], timeout=60, memory_mb=200)
    assert not limited.ok and "allocated" not in limited.output_tail
    (free,) = run_checks(tmp_path, [code], timeout=60)
    assert free.ok and "allocated" in free.output_tail
    # The limit is set by the check's own shell: the command still gets its arguments.
    (quoted,) = run_checks(tmp_path, ["echo \"$0\" 'a  b'; ulimit -v"], timeout=60, memory_mb=300)
    assert quoted.ok and quoted.output_tail == f"bash a  b\n{300 * 1024}\n"


def test_runs_in_the_given_directory(tmp_path: Path) -> None:
    (result,) = run_checks(tmp_path, ["pwd"], timeout=60)
    assert os.path.realpath(result.output_tail.strip()) == os.path.realpath(tmp_path)
