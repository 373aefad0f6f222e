"""Step outputs, job summary and log lines: parseable, redacted, and never a workflow command."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from tinygen.action.outputs import StepIO, read_outputs


def step(tmp_path: Path) -> tuple[StepIO, io.StringIO]:
    stream = io.StringIO()
    env = {
        "GITHUB_OUTPUT": str(tmp_path / "out"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
    }
    return StepIO(env, stream), stream


def test_outputs_survive_multiple_lines_and_delimiter_lookalikes(tmp_path: Path) -> None:
    s, _ = step(tmp_path)
    s.set_output("status", "pr-opened")
    s.set_output("decision", '{"reason": "a\\nb"}\nsecond line\nEOF\nghadelimiter_x')
    values = read_outputs(tmp_path / "out")
    assert values == {
        "status": "pr-opened",
        "decision": '{"reason": "a\\nb"}\nsecond line\nEOF\nghadelimiter_x',
    }


def test_secrets_are_redacted_everywhere(tmp_path: Path) -> None:
    s, stream = step(tmp_path)
    token = "ghp_" + "A" * 36
    s.set_output("pr-url", f"https://x/{token}")
    s.summary(f"key sk-ant-api03-{'b' * 30}")
    s.log(f"token {token}")
    s.annotate("error", f"failed with {token}")
    written = (
        (tmp_path / "out").read_text() + (tmp_path / "summary").read_text() + stream.getvalue()
    )
    assert token not in written and "sk-ant-api03" not in written
    assert written.count("***") == 4


def test_log_lines_cannot_become_workflow_commands(tmp_path: Path) -> None:
    s, stream = step(tmp_path)
    s.log("title\n::add-mask::x\n::set-env name=A::b")
    assert all(line.startswith("tinygen: ") for line in stream.getvalue().splitlines())


def test_annotation_escapes_its_message(tmp_path: Path) -> None:
    s, stream = step(tmp_path)
    s.annotate("error", "line one\nline two 100%", title="a:b,c")
    assert stream.getvalue() == "::error title=a%3Ab%2Cc::line one%0Aline two 100%25\n"


def test_without_github_files_outputs_are_kept_in_memory(tmp_path: Path) -> None:
    s = StepIO({}, io.StringIO())
    s.set_output("status", "skipped")
    s.summary("nothing")
    assert s.values == {"status": "skipped"} and list(tmp_path.iterdir()) == []


def test_the_command_loads_no_heavy_library() -> None:
    code = (
        "import sys; import tinygen.cli, tinygen.commands.action, tinygen.action.run, "
        "tinygen.action.decide, tinygen.action.status; "
        "heavy = [m for m in ('github', 'anthropic', 'tree_sitter', 'httpx', 'pydantic', 'git') "
        "if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
