"""Brainstorm: request + reference sheet (+ the files the request names) → a Plan.

Before planning, the model may look things up, for up to ``lookup_rounds`` rounds: each
answer may list ``lookups`` — ``search`` (a query over the sheet's own index: the best
files with their matching lines), ``outline`` (a file's symbols), ``read`` (a file or one
symbol's body) — and ``read_files`` (up to ``MAX_READ`` whole files). They are answered
in the next turn of the same conversation (as the tool call's result, or as text where
the provider answers in JSON), so a file the sheet shows only as a path can still be
found and read. The lookups are requested through the plan tool itself rather than as
separate tools, so they work in every structured mode a provider offers (tool, JSON
schema, plain JSON). Bounds: ``lookups_per_round`` per round, ``lookup_tokens``
(estimated) for all results together; past either the model is told to plan. Every lookup
is recorded in the run record (``lookups``). Every planned path passes the path policy.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from tinygen.errors import LLMOutputError
from tinygen.llm import Message, TextBlock, ToolResultBlock, ToolUseBlock
from tinygen.models import Plan, PlanAnswer, PlanItem
from tinygen.passes.common import PLAN_TOOL, BrainstormAnswer, Lookup, RunContext, render
from tinygen.sheet import build_sheet, estimate_tokens, tools
from tinygen.validate import check_path

if TYPE_CHECKING:
    from tinygen.llm import Completion
    from tinygen.sheet import Sheet
    from tinygen.validate import PathPolicy

MAX_READ = 8  # whole files the model may ask to read before planning
MAX_NAMED = 5  # files named by the request, shown in full up front
MAX_FILE_CHARS = 40_000  # one file's text in a prompt; longer ones are cut with a note
MAX_PLAN_FILES = 60
GUIDE_TOP_FILES = 10  # the folders around this many top-ranked files go in the guide block
GUIDE_CHARS = 6000  # the guide block's text at most (about 1,600 tokens)

LOOKUP_FIRST = (
    "Before planning you may look things up, in up to {rounds} rounds of at most {per} "
    "lookups each: answer with only `lookups` (and leave `files` empty) — "
    '{{"tool": "search", "query": "words, names or an error message"}} for the files that '
    'match best with their matching lines, {{"tool": "outline", "path": "..."}} for a '
    'file\'s symbols, {{"tool": "read", "path": "...", "symbol": "Class.method"}} for one '
    "symbol's text (without `symbol`: the whole file) — or with `read_files` (at most {n} "
    "whole files). Look up what the sheet shows only as a path or not at all before "
    "you plan a change to it. If you have what you need, give the plan now."
)
READ_FIRST = (
    "If you must read more files in full before you can plan (at most {n}), answer with only "
    "`read_files` (their paths) and leave `files` empty; you will get them and then plan. "
    "Otherwise give the plan now."
)
LOOKUPS_LEFT = "You may look up more ({left} round(s) left) or give the plan now."
READ_DONE = "You have now read the files you asked for: give the plan (`read_files` is ignored)."
PLAN_NOW = "No more lookups: give the plan now (`lookups` and `read_files` are ignored)."


def file_section(path: str, text: str) -> str:
    if len(text) > MAX_FILE_CHARS:
        text = text[:MAX_FILE_CHARS] + f"\n[... cut: the file has {len(text)} characters ...]"
    return f'<file path="{path}">\n{text}\n</file>'


def guide_block(sheet: Sheet | None) -> str:
    """The repository's overview and the summaries of the folders around the files that
    rank highest (``tinygen summarize``), when there are any; within ``GUIDE_CHARS``."""
    summaries = sheet.summaries if sheet is not None else None
    if not summaries:
        return ""
    assert sheet is not None
    parts = []
    if summaries.overview is not None:
        parts.append("Overview:\n" + summaries.overview.text)
    folders = summaries.along([f.path for f in sheet.files[:GUIDE_TOP_FILES]])
    if folders:
        lines = "\n".join(f"- {path}/ — {text}" for path, text in folders)
        parts.append("The folders around the files that rank highest:\n" + lines)
    if not parts:
        return ""
    text = "\n\n".join(parts)
    if len(text) > GUIDE_CHARS:
        text = text[:GUIDE_CHARS] + " [...]"
    return (
        "A guide to the repository, from summaries written earlier (the code is the "
        f"authority where they disagree):\n{text}\n\n"
    )


def files_block(ctx: RunContext, paths: list[str], heading: str) -> str:
    sections = [file_section(p, text) for p in paths if (text := ctx.read(p)) is not None]
    return f"{heading}\n" + "\n".join(sections) + "\n" if sections else ""


class _Lookups:
    """Runs the model's lookups within the pass's bounds and records each one."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.tokens_left = ctx.settings.lookup_tokens
        self.records: list[dict[str, Any]] = []
        self._sheet: Sheet | None = ctx.sheet

    def sheet(self) -> Sheet:
        if self._sheet is None:
            self._sheet = build_sheet(
                self.ctx.root, max_file_bytes=self.ctx.settings.max_file_bytes, ranking=True
            )
        return self._sheet

    def run(self, lookups: list[Lookup]) -> str:
        per = self.ctx.settings.lookups_per_round
        out: list[str] = []
        for k, item in enumerate(lookups):
            if k >= per:
                out.append(f"({len(lookups) - per} more lookup(s) not run: at most {per} a round)")
                break
            if self.tokens_left <= 0:
                out.append("(lookup budget used up: no more lookups were run)")
                break
            started = time.monotonic()
            max_chars = int(self.tokens_left * 3)
            if item.tool == "search":
                text = tools.search(self.sheet(), item.query, self.ctx.read, min(max_chars, 4000))
            elif item.tool == "outline":
                text = tools.outline(self.sheet(), item.path, min(max_chars, 6000))
            else:
                text = tools.read(
                    self.sheet(), item.path, self.ctx.read, item.symbol, min(max_chars, 12000)
                )
            cost = estimate_tokens(text)
            self.tokens_left -= cost
            self.records.append(
                {
                    "tool": item.tool,
                    "query": item.query,
                    "path": item.path,
                    "symbol": item.symbol,
                    "result_tokens": cost,
                    "seconds": round(time.monotonic() - started, 4),
                }
            )
            out.append(text)
        self.ctx.record.update(lookups=list(self.records))
        return "\n".join(out)


def _turn(
    completion: Completion, result: str
) -> tuple[Message, tuple[TextBlock | ToolResultBlock, ...]]:
    """The model's answer as an assistant turn, and the reply that carries ``result``: the
    tool call's result when it called the tool, else text (providers answering in JSON)."""
    if completion.tool_use_id is not None:
        said = (TextBlock(completion.text),) if completion.text else ()
        call = ToolUseBlock(completion.tool_use_id, PLAN_TOOL, completion.tool_input or {})
        return Message("assistant", (*said, call)), (
            ToolResultBlock(completion.tool_use_id, result),
        )
    return Message("assistant", (TextBlock(completion.text or "(lookups)"),)), (TextBlock(result),)


def _asks_more(answer: BrainstormAnswer, rounds: int) -> bool:
    return not answer.files and bool(answer.read_files or (answer.lookups and rounds))


def brainstorm(ctx: RunContext, mentioned: list[str], policy: PathPolicy) -> Plan:
    named = [p for p in mentioned if p in ctx.repo_paths][:MAX_NAMED]
    shown = files_block(ctx, named, "Files the request names, in full:")
    rounds = ctx.settings.lookup_rounds
    instruction = (
        LOOKUP_FIRST.format(rounds=rounds, per=ctx.settings.lookups_per_round, n=MAX_READ)
        if rounds
        else READ_FIRST.format(n=MAX_READ)
    )
    prompt = render(
        "brainstorm",
        guide_block=guide_block(ctx.sheet),
        files_block=shown,
        read_instruction=instruction,
    )
    blocks: tuple[TextBlock | ToolResultBlock, ...] = (TextBlock(prompt),)
    history: tuple[Message, ...] = ()
    answer, completion = ctx.ask_turn("brainstorm", PLAN_TOOL, BrainstormAnswer, blocks)
    lookups = _Lookups(ctx)
    files_read: list[str] = []
    done = 0
    last = False
    while _asks_more(answer, rounds):
        if last:
            # Not "no change needed": the model never planned at all.
            raise LLMOutputError(
                "brainstorm: the model asked to look up or read more files instead of planning",
                hint="try again, or name the relevant files in the request",
            )
        done += 1
        parts = []
        if answer.lookups and rounds:
            ctx.progress("brainstorm", f"running {len(answer.lookups)} lookup(s) before planning")
            parts.append(lookups.run(answer.lookups))
        if answer.read_files:
            wanted = [
                p
                for p in dict.fromkeys(answer.read_files)
                if p in ctx.repo_paths and p not in named and p not in files_read
            ][: MAX_READ - len(files_read)]
            files_read += wanted
            ctx.progress("brainstorm", f"reading {len(wanted)} more file(s) before planning")
            extra = files_block(ctx, wanted, "The files you asked to read, in full:")
            parts.append(
                extra
                or "None of the files you asked for exist in the repository; plan with what you have.\n"
            )
        # Whole files are read once; lookups go on while rounds and tokens last.
        last = not answer.lookups or done >= rounds or lookups.tokens_left <= 0
        if not rounds:
            parts.append(READ_DONE)
        else:
            parts.append(PLAN_NOW if last else LOOKUPS_LEFT.format(left=rounds - done))
        said, reply = _turn(completion, "\n".join(parts))
        history = (*history, Message("user", blocks), said)
        blocks = reply
        answer, completion = ctx.ask_turn(
            "brainstorm", PLAN_TOOL, BrainstormAnswer, blocks, history
        )
    return make_plan(ctx, answer, policy, tuple(files_read))


def make_plan(
    ctx: RunContext, answer: PlanAnswer, policy: PathPolicy, files_read: tuple[str, ...]
) -> Plan:
    """Normalize and check the model's plan; a path outside the repository refuses the run."""
    if len(answer.files) > MAX_PLAN_FILES:
        raise LLMOutputError(
            f"the plan names {len(answer.files)} files (at most {MAX_PLAN_FILES})",
            hint="split the request into smaller changes",
        )
    items: dict[str, PlanItem] = {}
    for item in answer.files:
        path = check_path(ctx.root, item.path, policy)
        exists = path in ctx.repo_paths
        action = item.action
        # The model's verb is a hint; the repository decides whether a file exists.
        if action == "create" and exists:
            action = "modify"
        elif action == "modify" and not exists:
            action = "create"
        elif action == "delete" and not exists:
            continue
        see_also = [p for p in item.see_also if p in ctx.repo_paths and p != path][:5]
        if path in items:  # merge duplicate entries for one file
            prev = items[path]
            items[path] = PlanItem(
                path, prev.action, f"{prev.intent}\n{item.intent}", prev.see_also + see_also
            )
        else:
            items[path] = PlanItem(path, action, item.intent.strip(), see_also)
    title = " ".join(answer.title.split())[:100] or "tinygen change"
    return Plan(
        summary=answer.summary.strip(),
        title=title,
        files=tuple(items.values()),
        files_read=files_read,
    )


def render_plan(plan: Plan) -> str:
    lines = [f"Title: {plan.title}", f"Summary: {plan.summary}", "Files:"]
    for item in plan.files:
        lines.append(f"- {item.action} {item.path}: {item.intent}")
        if item.see_also:
            lines.append(f"  (see also: {', '.join(item.see_also)})")
    return "\n".join(lines)
