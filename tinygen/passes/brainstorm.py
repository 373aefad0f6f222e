"""Brainstorm: request + reference sheet (+ the files the request names) → a Plan.

The model may first ask to read up to ``MAX_READ`` more files in full; it gets them and
must then commit to a plan (one round only). Every planned path passes the path policy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinygen.errors import LLMOutputError
from tinygen.models import Plan, PlanAnswer, PlanItem
from tinygen.passes.common import PLAN_TOOL, RunContext, render

if TYPE_CHECKING:
    from tinygen.validate import PathPolicy

MAX_READ = 8  # files the model may ask to read before planning
MAX_NAMED = 5  # files named by the request, shown in full up front
MAX_FILE_CHARS = 40_000  # one file's text in a prompt; longer ones are cut with a note
MAX_PLAN_FILES = 60

READ_FIRST = (
    "If you must read more files in full before you can plan (at most {n}), answer with only "
    "`read_files` (their paths) and leave `files` empty; you will get them and then plan. "
    "Otherwise give the plan now."
)
READ_DONE = "You have now read the files you asked for: give the plan (`read_files` is ignored)."


def file_section(path: str, text: str) -> str:
    if len(text) > MAX_FILE_CHARS:
        text = text[:MAX_FILE_CHARS] + f"\n[... cut: the file has {len(text)} characters ...]"
    return f'<file path="{path}">\n{text}\n</file>'


def files_block(ctx: RunContext, paths: list[str], heading: str) -> str:
    sections = [file_section(p, text) for p in paths if (text := ctx.read(p)) is not None]
    return f"{heading}\n" + "\n".join(sections) + "\n" if sections else ""


def brainstorm(ctx: RunContext, mentioned: list[str], policy: PathPolicy) -> Plan:
    from tinygen.llm import TextBlock

    named = [p for p in mentioned if p in ctx.repo_paths][:MAX_NAMED]
    shown = files_block(ctx, named, "Files the request names, in full:")
    prompt = render("brainstorm", files_block=shown, read_instruction=READ_FIRST.format(n=MAX_READ))
    answer = ctx.ask("brainstorm", PLAN_TOOL, PlanAnswer, (TextBlock(prompt),))
    files_read: list[str] = []
    if answer.read_files and not answer.files:
        files_read = [
            p for p in dict.fromkeys(answer.read_files) if p in ctx.repo_paths and p not in named
        ][:MAX_READ]
        ctx.progress("brainstorm", f"reading {len(files_read)} more file(s) before planning")
        extra = files_block(ctx, files_read, "The files you asked to read, in full:")
        if not extra:
            extra = "None of the files you asked for exist in the repository; plan with what you have.\n"
        prompt = render("brainstorm", files_block=shown + extra, read_instruction=READ_DONE)
        answer = ctx.ask("brainstorm", PLAN_TOOL, PlanAnswer, (TextBlock(prompt),))
        if answer.read_files and not answer.files:
            # Not "no change needed": the model never planned at all.
            raise LLMOutputError(
                "brainstorm: the model asked to read more files a second time instead of planning",
                hint="try again, or name the relevant files in the request",
            )
    return make_plan(ctx, answer, policy, tuple(files_read))


def make_plan(
    ctx: RunContext, answer: PlanAnswer, policy: PathPolicy, files_read: tuple[str, ...]
) -> Plan:
    """Normalize and check the model's plan; a path outside the repository refuses the run."""
    from tinygen.validate import check_path

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
