"""Issue 12 items 1, 2 and 5: every input has a size cap and a clear error before it is
read whole; JSON is read with depth and size limits and decoded safely; what a run record
keeps per call is capped; no traceback reaches a user.

The commands run as a user runs them (the installed `tinygen` in a subprocess) where a
stream without end (/dev/zero) or the real standard streams matter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import loose_diff
from tinygen import safejson
from tinygen.errors import ExitCode, InputError
from tinygen.inputs import MAX_EVENT_BYTES, MAX_PATCH_BYTES, MAX_REQUEST_BYTES
from tinygen.runs import MAX_CALL_CHARS, RunRecorder, list_runs, load_run

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "tests" / "data" / "events"
TINYGEN = [sys.executable, "-m", "tinygen"]


def tinygen(
    *args: str, cwd: Path, env: dict[str, str] | None = None, stdin: Any = subprocess.DEVNULL
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*TINYGEN, *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdin=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        timeout=300,
    )


def no_traceback(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr[-2000:]


# --- item 1: size caps, before an input is read whole ---------------------------------------


def test_apply_refuses_a_file_without_end_at_its_cap(make_repo: Any) -> None:
    repo = make_repo({"a.py": "x = 1\n"})
    proc = tinygen("apply", "/dev/zero", cwd=repo)
    assert proc.returncode == ExitCode.USAGE, proc.stderr
    assert "/dev/zero is larger than 50 MB" in proc.stderr
    no_traceback(proc)
    assert MAX_PATCH_BYTES == 50_000_000  # the documented cap (docs/cli.md)


def test_apply_refuses_endless_stdin_at_its_cap(make_repo: Any) -> None:
    repo = make_repo({"a.py": "x = 1\n"})
    with open("/dev/zero", "rb") as zero:
        proc = tinygen("apply", "-", "--json", cwd=repo, stdin=zero)
    assert proc.returncode == ExitCode.USAGE, proc.stderr
    report = json.loads(proc.stdout)
    assert "standard input is larger than 50 MB" in report["error"]
    no_traceback(proc)


def test_apply_still_reads_a_diff_from_stdin(make_repo: Any) -> None:
    repo = make_repo({"a.py": "x = 1\n"})
    diff = loose_diff("a.py", "x = 1\n", "x = 1", "x = 2")
    proc = subprocess.run(
        [*TINYGEN, "apply", "-"], cwd=repo, input=diff, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert (repo / "a.py").read_text() == "x = 2\n"


@pytest.mark.parametrize("source", ["-", "@/dev/zero"])
def test_run_refuses_an_endless_request_before_any_model_call(make_repo: Any, source: str) -> None:
    repo = make_repo({"a.py": "x = 1\n"})
    # a key that would be refused: the run must stop before it is ever used
    env = {
        "ANTHROPIC_API_KEY": "sk-ant-test-never-used",
        "ANTHROPIC_BASE_URL": "http://127.0.0.1:9",
    }
    with open("/dev/zero", "rb") as zero:
        proc = tinygen("run", source, "--repo", str(repo), cwd=repo, env=env, stdin=zero)
    assert proc.returncode == ExitCode.USAGE, proc.stderr
    assert f"larger than {MAX_REQUEST_BYTES // 1000:g} kB" in proc.stderr
    assert "REQUEST" in proc.stderr
    no_traceback(proc)


def action_env(path: Path | str) -> dict[str, str]:
    return {
        "GITHUB_EVENT_NAME": "issues",
        "GITHUB_EVENT_PATH": str(path),
        "GITHUB_REPOSITORY": "octo/demo",
    }


def test_action_refuses_an_endless_event_file(tmp_path: Path) -> None:
    proc = tinygen("action", "--dry-run", cwd=tmp_path, env=action_env("/dev/zero"))
    assert proc.returncode == ExitCode.USAGE, proc.stderr
    assert "larger than 25 MB" in proc.stderr
    assert MAX_EVENT_BYTES == 25_000_000
    no_traceback(proc)


# --- item 5: JSON with limits, decoded safely --------------------------------------------------


def labeled_event(body: str) -> str:
    data = json.loads((EVENTS / "issues-labeled.json").read_text())
    text = json.dumps(data)
    return text.replace('"body": "', f'"body": "{body}', 1)


def test_a_lone_surrogate_in_an_event_is_no_crash(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(labeled_event("\\ud800 and \\udfff "), "utf-8")
    out = tmp_path / "output.txt"
    env = {**action_env(event), "GITHUB_OUTPUT": str(out)}
    proc = tinygen("action", "--dry-run", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    no_traceback(proc)
    decision = json.loads(proc.stdout.splitlines()[0])
    assert decision["would"] == "open_pr"
    assert "\ud800" not in decision["request"]  # replaced (U+FFFD) then hidden by sanitize
    assert "decision<<" in out.read_text("utf-8")


def test_an_event_nested_50000_deep_is_a_clear_error(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text("[" * 50_000 + "]" * 50_000)
    proc = tinygen("action", "--dry-run", cwd=tmp_path, env=action_env(event))
    assert proc.returncode == ExitCode.USAGE, proc.stderr
    assert "nests deeper than 100 levels" in proc.stderr
    no_traceback(proc)


def test_safejson_limits_and_decoding() -> None:
    with pytest.raises(InputError, match="nests deeper than 5"):
        safejson.loads('{"a": [[[[["x"]]]]]}', "doc", max_depth=5)
    assert safejson.loads('{"a": [[[["x"]]]]}', "doc", max_depth=5) == {"a": [[[["x"]]]]}
    with pytest.raises(InputError, match="larger than 10 bytes"):
        safejson.loads(b'{"a": "0123456789"}', "doc", max_bytes=10)
    with pytest.raises(InputError):  # the parser's own recursion limit, same refusal
        safejson.loads("[" * 100_000 + "]" * 100_000, "doc")
    value = safejson.loads(r'{"k\udc00": ["\ud800", "\ud83d\ude00", {"n": "\udbff!"}]}', "doc")
    assert value == {"k\ufffd": ["\ufffd", "\U0001f600", {"n": "\ufffd!"}]}
    json.dumps(value, ensure_ascii=False).encode("utf-8")  # writable
    with pytest.raises(ValueError):
        safejson.loads("{not json", "doc")
    with pytest.raises(ValueError):
        safejson.loads(b"\xff\xfe{}", "doc")


# --- item 2 (records) and item 5 (records read back) -------------------------------------------


def test_a_call_record_is_capped_and_says_what_was_cut(tmp_path: Path) -> None:
    recorder = RunRecorder(tmp_path / "tinygen" / "runs")
    huge = "x" * (3 * MAX_CALL_CHARS)
    recorder.call("edit a.py", {"prompt": huge, "small": "kept"}, {"text": "ok\ud800"}, 1.0)
    recorder.finish(status="approved")
    line = (recorder.dir / "calls.jsonl").read_text("utf-8")
    assert len(line) <= MAX_CALL_CHARS
    (call,) = load_run(tmp_path / "tinygen", recorder.run_id)["calls"]
    assert call["cut_from_chars"] > 3 * MAX_CALL_CHARS
    assert call["request"]["small"] == "kept"
    assert "more characters not recorded" in call["request"]["prompt"]
    assert call["response"]["text"] == "ok\ufffd"  # a lone surrogate written, read back safely


def test_a_record_nested_too_deep_is_listed_as_unreadable(tmp_path: Path) -> None:
    state = tmp_path / "tinygen"
    good = RunRecorder(state / "runs")
    good.finish(status="approved")
    bad = state / "runs" / "20200101-000000-badbad"
    bad.mkdir()
    (bad / "run.json").write_text("[" * 50_000 + "]" * 50_000)
    runs = {r.run_id: r for r in list_runs(state)}
    assert runs[good.run_id].status == "approved"
    problem = runs["20200101-000000-badbad"].problem
    assert runs["20200101-000000-badbad"].status == "unreadable"
    assert problem is not None and "nests deeper" in problem


# --- no traceback reaches a user ---------------------------------------------------------------


def test_an_unexpected_error_is_one_line_and_the_traceback_a_file(tmp_path: Path) -> None:
    """A bug (any exception not ours) ends with exit 1, a line naming it and the file holding
    the traceback; TINYGEN_DEBUG=1 shows the traceback instead."""
    script = (
        "import click, tinygen.cli as cli\n"
        "@cli.cli.command('boom')\n"
        "def boom():\n"
        "    raise RuntimeError('kaboom')\n"
        "cli.main()\n"
    )
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-c", script, "boom"], capture_output=True, text=True, env=env
    )
    assert proc.returncode == ExitCode.INTERNAL
    assert "tinygen: internal error: RuntimeError: kaboom" in proc.stderr
    assert "Traceback" not in proc.stderr
    (crash,) = tmp_path.glob("tinygen-crash-*.txt")
    assert "Traceback" in crash.read_text() and crash.name in proc.stderr
    debug = subprocess.run(
        [sys.executable, "-c", script, "boom"],
        capture_output=True,
        text=True,
        env={**env, "TINYGEN_DEBUG": "1"},
    )
    assert "Traceback" in debug.stderr and "kaboom" in debug.stderr


def test_the_syntax_check_of_a_deeply_nested_file_is_no_crash() -> None:
    from tinygen.validate.syntax import new_syntax_problems

    deep = "[" * 50_000 + "]" * 50_000
    assert new_syntax_problems("data.json", "{}", deep) == []
    assert new_syntax_problems("data.toml", "", f"a = {deep}") == []
    assert new_syntax_problems("data.json", "{}", "{oops") != []


def test_a_prices_file_nested_too_deep_is_a_configuration_error(tmp_path: Path) -> None:
    from tinygen.errors import ConfigError
    from tinygen.llm.usage import load_prices

    prices = tmp_path / "prices.json"
    prices.write_text('{"m": ' + "[" * 50_000 + "]" * 50_000 + "}")
    with pytest.raises(ConfigError, match="nests deeper"):
        load_prices({"TINYGEN_PRICES_FILE": str(prices)})


def test_a_huge_config_file_is_refused_at_its_cap(make_repo: Any) -> None:
    from tinygen.config import load_settings

    repo = make_repo({"a.py": "x = 1\n"})
    (repo / "pyproject.toml").write_text("# padding\n" * 200_000)
    with pytest.raises(InputError, match=r"pyproject\.toml is larger than 1 MB"):
        load_settings(repo)
