"""The one status comment tinygen keeps on the issue or pull request, edited in place:
started (with a link to the workflow run) → progress by stage → result or failure.

Every comment tinygen writes starts with :data:`~tinygen.action.decide.MARKER`, so a later
run recognizes it and never answers itself. Text is redacted before it is posted. A failure
to post or edit is logged and never stops the run: the work matters more than the report.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tinygen.action.decide import MARKER
from tinygen.action.outputs import StepIO
from tinygen.config import Settings
from tinygen.errors import TinygenError
from tinygen.redact import printable, redact

if TYPE_CHECKING:
    from tinygen.github import Forge
    from tinygen.models import RunResult

MAX_DIFF_IN_COMMENT = 40_000  # GitHub comments hold 65,536 characters

STAGE_TEXT = {
    "setup": "fetching the repository",
    "sheet": "mapping the repository",
    "brainstorm": "planning the change",
    "plan": "writing the change",
    "edit": "writing the change",
    "validate": "validating the diff",
    "checks": "running the repository's checks",
    "verify": "reviewing the change",
    "revise": "revising after review",
    "deliver": "pushing the branch",
}


# Settings and run inputs the Action sets through its own inputs (action.yml).
ACTION_INPUTS = {
    "model": "model",
    "max_rounds": "max-rounds",
    "vote": "vote",
    "max_cost": "max-cost",
    "checks": "checks",
    "allowed_paths": "allowed-paths",
    "protected_paths": "protected-paths",
    "summaries": "summaries",
    "summary_model": "summary-model",
    "ref": "base-branch",
}


def how_to_set(names: tuple[str, ...]) -> str:
    """How a workflow sets the settings a hint names (``TinygenError.settings``): the
    Action's input where it has one, else the repository's ``.tinygen.toml`` or a
    ``TINYGEN_*`` variable in the step's ``env``; never a command-line flag."""
    known = set(Settings.__dataclass_fields__)
    inputs = [f"`{ACTION_INPUTS[n]}`" for n in names if n in ACTION_INPUTS]
    others = [n for n in names if n in known and n not in ACTION_INPUTS]
    parts = []
    if inputs:
        plural = "s" if len(inputs) > 1 else ""
        parts.append(f"Use the Action's {' and '.join(inputs)} input{plural}.")
    if others:
        keys = " and ".join(f"`{n.replace('_', '-')}`" for n in others)
        envs = " and ".join(f"`TINYGEN_{n.upper()}`" for n in others)
        parts.append(f"Set {keys} in `.tinygen.toml`, or {envs} in the workflow step's `env`.")
    return " ".join(parts)


def remedy(exc: TinygenError) -> str | None:
    """The error's hint, followed by how a workflow sets the settings it names; None
    without a hint."""
    if not exc.hint:
        return None
    setting = how_to_set(exc.settings)
    return exc.hint.rstrip(".") + (f". {setting}" if setting else "")


def error_text(exc: TinygenError) -> str:
    """The error for the log, an ``::error`` annotation or the job summary: its message and
    the remedy as a workflow applies it (never a command-line flag)."""
    what = remedy(exc)
    return f"{exc.message}\n  hint: {what}" if what else exc.message


def compose(body: str) -> str:
    """Every comment tinygen writes: marked, redacted, without control characters."""
    return printable(redact(f"{MARKER}\n{body.strip()}\n"))


def reply(forge: Forge, full_name: str, number: int, text: str, io: StepIO) -> None:
    """A short answer (a refusal); failures are logged."""
    try:
        forge.comment(full_name, number, compose(text))
    except TinygenError as exc:
        io.annotate("warning", f"could not reply on #{number}: {exc}")


@dataclass
class StatusComment:
    forge: Forge
    full_name: str
    number: int | None
    run_url: str | None
    io: StepIO
    comment_id: int | None = None
    _stage: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _footer(self, run_id: str | None = None) -> str:
        parts = []
        if self.run_url:
            parts.append(f"[workflow run]({self.run_url})")
        if run_id:
            parts.append(f"run id `{run_id}`")
        return " · ".join(parts)

    def _write(self, text: str) -> None:
        if self.number is None:
            return
        body = compose(text)
        try:
            if self.comment_id is None:
                self.comment_id = self.forge.comment(self.full_name, self.number, body).id
            else:
                self.forge.edit_comment(self.full_name, self.comment_id, body)
        except TinygenError as exc:
            self.io.annotate("warning", f"could not update the status comment: {exc}")

    def start(self) -> None:
        self._write(f"⏳ **tinygen** is working on this. {self._footer()}")

    def progress(self, stage: str, message: str) -> None:
        """A pipeline progress callback: the comment changes once per new stage."""
        text = STAGE_TEXT.get(stage)
        self.io.log(f"{stage}: {message}")
        if text is None:
            return
        with self._lock:
            if text == self._stage:
                return
            self._stage = text
            self._write(f"⏳ **tinygen** is working on this: {text}… {self._footer()}")

    def finish(self, text: str, run_id: str | None = None) -> None:
        self._write(f"{text.strip()}\n\n{self._footer(run_id)}")


def result_lines(result: RunResult) -> list[str]:
    """Files, verdict, checks and cost of a run, as Markdown list items."""
    lines = []
    if result.edits:
        files = ", ".join(f"`{e.path}` ({e.action})" for e in result.edits if e.ok)
        if files:
            lines.append(f"- Files: {files}")
        failed = [e.path for e in result.edits if not e.ok]
        if failed:
            lines.append("- Could not edit: " + ", ".join(f"`{p}`" for p in failed))
    if result.verdict is not None:
        state = "approved" if result.verdict.approved else "not approved"
        lines.append(f"- Review: {state} — {result.verdict.summary}")
    if result.checks:
        checks = ", ".join(f"`{c.command}` {'passed' if c.ok else 'failed'}" for c in result.checks)
        lines.append(f"- Checks: {checks}")
    calls = result.calls
    cost = f"${result.cost_usd:.4f}" if result.cost_usd is not None else "unknown cost"
    lines.append(f"- Model: `{result.model}`, {calls} call(s), {cost}")
    return lines


def diff_block(diff: str) -> str:
    """The diff in a collapsed block, when it fits in a comment."""
    if not diff or len(diff) > MAX_DIFF_IN_COMMENT:
        return ""
    fence = "````" if "```" in diff else "```"
    return f"<details><summary>The diff</summary>\n\n{fence}diff\n{diff}{fence}\n</details>"


__all__ = [
    "ACTION_INPUTS",
    "MARKER",
    "StatusComment",
    "compose",
    "diff_block",
    "error_text",
    "how_to_set",
    "remedy",
    "reply",
    "result_lines",
]
