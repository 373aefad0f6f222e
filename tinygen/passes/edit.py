"""Edit: one call per planned file. The model writes a unified diff (whole content for a new
file); the patch engine places it by content, and when it cannot, its feedback goes back to
the model for up to ``MAX_TRIES - 1`` more tries.

With the ``vote`` setting (k), each file is sampled instead: the same prompt, answered
several times in parallel (``jobs`` calls at once across all files; the prompt is a cached
block the samples share), each sample judged by the red flags (``redflags``: discarded,
never repaired) and keyed by its outcome, until one outcome leads by k or
``max_samples`` are drawn (``tinygen.llm.vote``).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from tinygen.errors import BudgetExceeded, LLMOutputError, PatchError
from tinygen.llm import TextBlock
from tinygen.llm.vote import RedFlag, Sample, run_vote
from tinygen.models import EditAnswer, FileEdit, Plan, PlanItem
from tinygen.passes.brainstorm import file_section, render_plan
from tinygen.passes.common import EDIT_TOOL, RunContext, numbered, render
from tinygen.passes.redflags import Candidate, judge_edit
from tinygen.patch import apply_patch

MAX_TRIES = 3
MAX_FILE_THREADS = 64  # with voting, files wait on their samples in threads of their own
Submit = Callable[[Callable[[], Any]], "Future[Any]"]


def plan_block(plan: Plan) -> TextBlock:
    """The plan as a cached block: identical for every per-file call of a round."""
    return TextBlock(render("plan_block", plan=render_plan(plan)), cache=True)


def edit_files(
    ctx: RunContext,
    plan: Plan,
    items: list[PlanItem],
    previous: dict[str, FileEdit],
    feedback: dict[str, str],
) -> dict[str, FileEdit]:
    """Edit ``items`` concurrently (``settings.jobs`` calls at once); results by path, in plan
    order. A file the cost limit left unedited keeps its earlier text, with an error."""
    if not items:
        return {}
    jobs = ctx.settings.jobs
    voting = ctx.settings.vote > 0
    workers = min(len(items), MAX_FILE_THREADS) if voting else max(1, min(jobs, len(items)))
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tinygen-edit")
    samples = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="tinygen-sample")

    def guarded(item: PlanItem) -> FileEdit:
        earlier, review = previous.get(item.path), feedback.get(item.path)
        try:
            if voting:
                return vote_file(ctx, plan, item, earlier, review, samples.submit)
            return edit_file(ctx, plan, item, earlier, review)
        except BudgetExceeded:
            return _unedited(ctx, item, earlier)  # the run stops; other files may finish
        except BaseException:
            # at once, in this worker: it must not start the next queued file meanwhile
            ctx.cancelled.set()
            raise

    futures = {item.path: pool.submit(guarded, item) for item in items}
    try:
        results = {path: future.result() for path, future in futures.items()}
    except BaseException:
        # An error or Ctrl-C: no new calls anywhere, queued files dropped, and no waiting
        # for answers already in flight (they are discarded).
        ctx.cancelled.set()
        pool.shutdown(wait=False, cancel_futures=True)
        samples.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    samples.shutdown()
    return results


def _unedited(ctx: RunContext, item: PlanItem, previous: FileEdit | None) -> FileEdit:
    before = ctx.read(item.path)
    edit = FileEdit(item.path, item.action, before, previous.after if previous else before)
    edit.error = "not edited: the cost limit (`max_cost`) was reached first"
    return edit


def edit_file(
    ctx: RunContext, plan: Plan, item: PlanItem, previous: FileEdit | None, review: str | None
) -> FileEdit:
    """Produce the new text of one file. ``previous`` and ``review`` are set on a revision."""
    before = ctx.read(item.path)
    edit = FileEdit(item.path, item.action, before, previous.after if previous else before)
    if item.action == "delete":
        edit.after, edit.notes = None, "deleted as planned"
        return edit
    current = edit.after  # what the model edits: the original, or our previous version of it
    ctx.progress("edit", f"{item.path}: writing" + (" (revision)" if review else ""))
    notes: list[str] = []
    if review:
        notes.append(f"A reviewer asked for this revision of `{item.path}`:\n{review}")
    for attempt in range(1, MAX_TRIES + 1):
        edit.attempts = attempt
        prompt = _prompt(ctx, item, current, previous is not None, notes)
        answer = ctx.ask(
            f"edit:{item.path}", EDIT_TOOL, EditAnswer, (plan_block(plan), TextBlock(prompt))
        )
        after, problem = _place(item.path, current, answer)
        if problem is None:
            edit.after, edit.notes, edit.error = after, answer.notes.strip(), None
            edit.no_change = answer.no_change
            return edit
        ctx.progress("edit", f"{item.path}: try {attempt} could not be placed")
        edit.error = problem
        notes.append(
            f"Your previous answer (try {attempt}) could not be applied:\n{problem}\n"
            "Answer again with a corrected change for this file."
        )
    return edit


def vote_file(
    ctx: RunContext,
    plan: Plan,
    item: PlanItem,
    previous: FileEdit | None,
    review: str | None,
    submit: Submit,
) -> FileEdit:
    """Sample the file's edit until one outcome leads by ``vote`` (see the module docstring).
    An undecided vote keeps its plurality winner and its runner-up (for the checks to choose
    between); a vote whose every sample was red-flagged leaves the file unedited."""
    before = ctx.read(item.path)
    edit = FileEdit(item.path, item.action, before, previous.after if previous else before)
    if item.action == "delete":
        edit.after, edit.notes = None, "deleted as planned"
        return edit
    current = edit.after
    ctx.progress("edit", f"{item.path}: sampling" + (" (revision)" if review else ""))
    notes = [f"A reviewer asked for this revision of `{item.path}`:\n{review}"] if review else []
    # cached: every sample of this file reads the same prompt back
    blocks = (
        plan_block(plan),
        TextBlock(_prompt(ctx, item, current, previous is not None, notes), cache=True),
    )

    def draw() -> Sample[Candidate] | RedFlag:
        try:
            answer = ctx.ask(f"edit:{item.path}", EDIT_TOOL, EditAnswer, blocks, repair=False)
        except LLMOutputError as exc:
            return RedFlag("unparsed", exc.message)
        return judge_edit(item.path, current, answer)

    vote = run_vote(draw, k=ctx.settings.vote, max_samples=ctx.settings.max_samples, submit=submit)
    edit.vote, edit.attempts = vote.summary, vote.summary.samples
    winner = vote.winner
    if winner is None:
        flags = ", ".join(f"{reason} {n}" for reason, n in vote.summary.red_flags.items())
        last = vote.last_flag.detail if vote.last_flag is not None else ""
        edit.error = f"every sample was red-flagged ({flags})" + (
            f"; the last: {last}" if last else ""
        )
        return edit
    edit.after, edit.notes = winner.after, winner.notes
    edit.no_change = winner.after == current
    if not vote.summary.decided and len(vote.ranked) > 1:
        edit.runner_up = vote.ranked[1].after
    return edit


def _prompt(
    ctx: RunContext, item: PlanItem, current: str | None, revised: bool, notes: list[str]
) -> str:
    """The per-file prompt: the file (or what to create), its intent, and ``notes`` (a
    reviewer's revision, what went wrong with earlier tries)."""
    context = [file_section(p, t) for p in item.see_also if (t := ctx.read(p)) is not None]
    context_block = ("Other files you may need:\n" + "\n".join(context) + "\n") if context else ""
    if current is None:
        file_block, instruction = "", render("edit_create", path=item.path)
    else:
        label = "Its current text" + (" (with your earlier changes)" if revised else "")
        file_block = f'{label}, with line numbers:\n<file path="{item.path}">\n{numbered(current)}\n</file>\n'
        instruction = render("edit_modify", path=item.path)
    return render(
        "edit",
        context_block=context_block,
        path=item.path,
        action="create" if current is None else "modify",
        intent=item.intent,
        file_block=file_block,
        instruction=instruction,
        feedback_block="\n\n".join(notes),
    )


def _place(path: str, current: str | None, answer: EditAnswer) -> tuple[str | None, str | None]:
    """(new text, None) or (None, feedback for the model). The diff may change ``path``
    only; an explicit ``no_change`` answer keeps the text as it is."""
    if answer.no_change:
        if answer.diff.strip() or answer.content is not None:
            return None, (
                "Your answer says `no_change` but also gives a change: either leave `diff` "
                "and `content` empty, or set `no_change` to false."
            )
        if current is None:
            return None, f"`{path}` does not exist yet: give its whole text in `content`."
        return current, None
    if current is None:
        if answer.content is not None:
            return _with_final_newline(answer.content), None
        if answer.diff.strip():
            try:
                result = apply_patch({}, answer.diff, known_paths=[path], only=path)
            except PatchError as exc:
                return None, getattr(exc, "feedback", "") or str(exc)
            created = result.after.get(path)
            if created is not None:
                return created, None
        return None, f"`{path}` is a new file: give its whole text in `content`."
    if not answer.diff.strip():
        # Whole-file rewrites of existing files are refused: models elide ("... rest unchanged").
        return None, (
            f"`{path}` exists: give a unified diff of it in `diff`, not its whole text; if it "
            "needs no change, answer with `no_change` set to true (and say why in `notes`)."
        )
    try:
        result = apply_patch({path: current}, answer.diff, known_paths=[path], only=path)
    except PatchError as exc:
        return None, getattr(exc, "feedback", "") or str(exc)
    return result.after.get(path, current), None


def _with_final_newline(text: str) -> str:
    return text if not text or text.endswith("\n") else text + "\n"
