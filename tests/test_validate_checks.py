"""The checks runner: real processes in a real directory."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tinygen.validate import run_checks
from tinygen.validate.checks import TAIL_LINES


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


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    (result,) = run_checks(tmp_path, ["(sleep 2; touch late) & echo started; sleep 30"], timeout=1)
    assert result.timed_out and result.exit_code is None and not result.ok
    assert "started" in result.output_tail and "killed after 1 s" in result.output_tail
    time.sleep(2.5)  # the background child would have written by now had it survived
    assert not (tmp_path / "late").exists()


def test_environment_is_scrubbed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-secretvalue123456")
    monkeypatch.setenv("MY_TOKEN", "tok-1234567890")
    monkeypatch.setenv("HARMLESS", "visible")
    (result,) = run_checks(tmp_path, ["env"], timeout=60)
    assert "HARMLESS=visible" in result.output_tail
    assert "ANTHROPIC_API_KEY" not in result.output_tail and "MY_TOKEN" not in result.output_tail


def test_memory_limit(tmp_path: Path) -> None:
    code = "python3 -c \"b = bytearray(400 * 1024 * 1024); print('allocated')\""
    (limited,) = run_checks(tmp_path, [code], timeout=60, memory_mb=200)
    assert not limited.ok and "allocated" not in limited.output_tail
    (free,) = run_checks(tmp_path, [code], timeout=60)
    assert free.ok and "allocated" in free.output_tail


def test_runs_in_the_given_directory(tmp_path: Path) -> None:
    (result,) = run_checks(tmp_path, ["pwd"], timeout=60)
    assert os.path.realpath(result.output_tail.strip()) == os.path.realpath(tmp_path)
