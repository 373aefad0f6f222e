"""What a workflow step hands back: outputs in $GITHUB_OUTPUT, a Markdown job summary in
$GITHUB_STEP_SUMMARY, and log lines and ``::error::`` annotations on stdout.

Everything passes through :func:`tinygen.redact.redact` (and log lines, annotations and the
summary through :func:`tinygen.redact.printable`: no escape sequence reaches the log); text that cannot be encoded (a
lone surrogate) is written backslash-escaped rather than failing the step. Log lines carry untrusted text
(labels, logins, model output); each line is prefixed so none can start with ``::`` and be
read by the runner as a workflow command.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from tinygen.redact import printable, redact

OUTPUT_NAMES = (
    "status",
    "pr-url",
    "branch",
    "diff-path",
    "run-id",
    "decision",
    "ci",
    "summaries",
    "summaries-cache",  # action.yml's own: "changed" when its cache folder is worth saving
)


def _escape_data(text: str) -> str:
    # https://github.com/actions/toolkit/blob/main/packages/core/src/command.ts (escapeData)
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


class StepIO:
    """Outputs, summary and log of one step. Without GITHUB_OUTPUT / GITHUB_STEP_SUMMARY
    (a local run) outputs are only logged."""

    def __init__(self, env: Mapping[str, str], stream: TextIO | None = None) -> None:
        self.output_path = Path(env["GITHUB_OUTPUT"]) if env.get("GITHUB_OUTPUT") else None
        self.summary_path = (
            Path(env["GITHUB_STEP_SUMMARY"]) if env.get("GITHUB_STEP_SUMMARY") else None
        )
        self.stream = stream or sys.stderr
        self.values: dict[str, str] = {}

    def log(self, message: str) -> None:
        for line in printable(redact(message)).splitlines() or [""]:
            self.stream.write(f"tinygen: {line}\n")
        self.stream.flush()

    def annotate(self, level: str, message: str, title: str = "tinygen") -> None:
        """``::error title=...::message`` (level: error, warning or notice)."""
        assert level in ("error", "warning", "notice")
        title_text = _escape_data(redact(title)).replace(":", "%3A").replace(",", "%2C")
        text = _escape_data(printable(redact(message)))
        self.stream.write(f"::{level} title={title_text}::{text}\n")
        self.stream.flush()

    def set_output(self, name: str, value: str) -> None:
        assert name in OUTPUT_NAMES, name
        value = redact(value)
        self.values[name] = value
        if self.output_path is None:
            return
        delimiter = f"ghadelimiter_{secrets.token_hex(12)}"
        with self.output_path.open("a", encoding="utf-8", errors="backslashreplace") as fh:
            fh.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")

    def summary(self, markdown: str) -> None:
        if self.summary_path is None:
            return
        with self.summary_path.open("a", encoding="utf-8", errors="backslashreplace") as fh:
            fh.write(printable(redact(markdown)).rstrip("\n") + "\n")


def read_outputs(path: Path) -> dict[str, str]:
    """Parse a $GITHUB_OUTPUT file (the ``name<<DELIM`` form) — for tests and the self-test."""
    values: dict[str, str] = {}
    lines = path.read_text("utf-8").split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line:
            name, delimiter = line.split("<<", 1)
            end = lines.index(delimiter, i + 1)
            values[name] = "\n".join(lines[i + 1 : end])
            i = end + 1
        elif "=" in line:
            name, value = line.split("=", 1)
            values[name] = value
            i += 1
        else:
            i += 1
    return values


__all__ = ["OUTPUT_NAMES", "StepIO", "read_outputs"]
