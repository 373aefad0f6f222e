"""Words for a delivered change: the commit message, its trailers, the pull request's title
and body. Pure functions of a :class:`~tinygen.models.RunResult`; no I/O.

Everything here ends up on GitHub or in git history, so every piece of text that came from
a model, a check's output or the environment passes through :func:`tinygen.redact.redact`,
and what these functions return holds no control character (:func:`tinygen.redact.printable`:
an escape sequence in a plan's title would replay on every terminal showing ``git log``).
A run that did not succeed says so in the commit and at the top of the pull request.

A pull request that later runs add commits to (a follow-up on an issue, a re-run) describes
the whole change against its base: its title and first summary stay, every later step is
listed under "Follow-ups", and the files the whole change touches are listed. The steps
travel as data in a hidden block of the body (:func:`steps_block`, read back by
:func:`read_steps`), never parsed back out of its sentences.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tinygen import safejson
from tinygen.errors import InputError
from tinygen.models import RunResult
from tinygen.redact import printable, redact

if TYPE_CHECKING:
    from tinygen.validate.checks import CheckResult
    from tinygen.validate.gate import GateReport

TITLE_MAX = 72  # git's customary subject length; GitHub shows about as much
BODY_MAX = 60_000  # GitHub refuses pull request bodies over 65,536 characters
NOTE_MAX = 1_500  # per file
CHECK_TAIL_LINES = 20
BOT_EMAIL = "tinygen@users.noreply.github.com"
MARKER = "<!-- tinygen -->"  # lets tools recognise a body written by tinygen


STEPS_MARK = "<!-- tinygen-steps "  # the hidden block of a body: the steps so far, as JSON
MAX_STEPS = 20  # kept in the block: the first and the latest ones
STEP_SUMMARY_MAX = 1_500


@dataclass(frozen=True)
class Step:
    """One run that delivered to a pull request: what it was for and how it ended."""

    run_id: str
    title: str
    summary: str
    status: str

    @classmethod
    def of(cls, result: RunResult) -> Step:
        plan = result.plan
        summary = _one_line(redact(plan.summary)) if plan else ""
        return cls(result.run_id, plain_title(result), summary, str(result.status))


@dataclass(frozen=True)
class FileChange:
    """A file of the whole change against the pull request's base (``None``: binary)."""

    path: str
    added: int | None
    removed: int | None


_STEP_FIELDS = dataclasses.fields(Step)


def steps_block(steps: list[Step]) -> str:
    """The hidden block that carries ``steps`` in a body (an HTML comment GitHub does not
    show; ``<`` and ``>`` escaped so nothing in it can end the comment)."""
    kept = steps if len(steps) <= MAX_STEPS else [steps[0], *steps[-(MAX_STEPS - 1) :]]
    data = [
        {
            "run_id": s.run_id,
            "title": _clip(s.title, 200),
            "summary": _clip(s.summary, STEP_SUMMARY_MAX),
            "status": s.status,
        }
        for s in kept
    ]
    text = json.dumps(data, ensure_ascii=True).replace("<", "\\u003c").replace(">", "\\u003e")
    return f"{STEPS_MARK}{text} -->"


def read_steps(body: str) -> list[Step]:
    """The steps a body's hidden block carries; [] when it has none or it is not ours (a
    body anyone with write access may have edited: read with limits, every field checked)."""
    start = body.rfind(STEPS_MARK)
    if start < 0:
        return []
    end = body.find(" -->", start)
    try:
        data: Any = safejson.loads(
            body[start + len(STEPS_MARK) : end], "the pull request's steps", max_bytes=200_000
        )
    except (ValueError, InputError):
        return []
    steps = []
    for item in data if isinstance(data, list) else []:
        fields = [item.get(f.name) if isinstance(item, dict) else None for f in _STEP_FIELDS]
        if all(isinstance(v, str) for v in fields):
            clean = [_one_line(printable(redact(str(v)))) for v in fields]
            steps.append(Step(clean[0], clean[1], _clip(clean[2], STEP_SUMMARY_MAX), clean[3]))
    return steps[:MAX_STEPS]


def succeeded(result: RunResult) -> bool:
    """A maintainer can take it as it is; anything else is delivered as a stated failure."""
    return result.status.succeeded


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def plain_title(result: RunResult) -> str:
    """The plan's title, else its summary's first line; no failure tag (branch names)."""
    plan = result.plan
    raw = (plan.title if plan else "") or (
        plan.summary.strip().splitlines()[0] if plan and plan.summary.strip() else ""
    )
    return _one_line(printable(redact(raw))) or "Change by tinygen"


def title(result: RunResult, earlier: list[Step] | None = None) -> str:
    """The commit subject and PR title: :func:`plain_title`, tagged ``[status]`` when the
    run did not succeed. With ``earlier`` steps on the same pull request, the title of the
    whole change: the first step's, then this one's (or the number of follow-ups, when
    both do not fit)."""
    text = plain_title(result)
    status = "" if succeeded(result) else f"[{result.status}] "
    if earlier and text != earlier[0].title:  # (the same request again: its title says it)
        first, follow_ups = earlier[0].title, len(earlier)
        both = f"{first}; {text}"
        tag = f"{first} (+{follow_ups} follow-up{'s' if follow_ups > 1 else ''})"
        text = both if follow_ups == 1 and len(status + both) <= TITLE_MAX else tag
    return _clip(status + text, TITLE_MAX)


def failure_line(result: RunResult) -> str | None:
    """One sentence saying the run did not succeed, or None when it did."""
    if succeeded(result):
        return None
    return _one_line(
        redact(f"tinygen run {result.run_id} did not succeed ({result.status}): {result.message}")
    )


def commit_message(result: RunResult) -> tuple[str, dict[str, str]]:
    """(message, trailers) for :func:`tinygen.delivery.commits.build_message`.

    The body has the plan's summary, the reviewer's verdict and the files with their intents;
    trailers name tinygen with the model (a ``Co-authored-by`` line GitHub understands) and
    the run id, so the commit can be traced back to its run record.
    """
    parts = [title(result)]
    failure = failure_line(result)
    if failure:
        parts.append(f"NOT APPROVED: {failure}")
    plan = result.plan
    if plan and plan.summary.strip():
        parts.append(redact(plan.summary.strip()))
    if result.verdict is not None and result.verdict.summary.strip():
        state = "approved" if result.verdict.approved else "not approved"
        parts.append(f"Review ({state}): {redact(result.verdict.summary.strip())}")
    if plan and plan.files:
        parts.append(
            "\n".join(
                f"- {f.path} ({f.action}): {_clip(_one_line(redact(f.intent)), 200)}"
                for f in plan.files
            )
        )
    model = _one_line(result.model).replace("<", "").replace(">", "")
    who = f"tinygen ({model})" if model else "tinygen"
    trailers = {
        "Co-authored-by": f"{who} <{BOT_EMAIL}>",
        "Tinygen-Run": result.run_id,
    }
    if failure:
        trailers["Tinygen-Status"] = str(result.status)
    return printable("\n\n".join(parts)), trailers


def _checks_section(checks: list[CheckResult]) -> list[str]:
    if not checks:
        return ["No repository checks are configured."]
    lines = []
    for c in checks:
        command = _one_line(redact(c.command))
        if c.timed_out:
            state = "⏱ timed out"
        elif c.ok:
            state = "✅ passed"
        else:
            state = f"❌ exit {c.exit_code}"
        lines.append(f"- `{command}`: {state} ({c.seconds:.1f} s)")
        tail = c.output_tail.splitlines()[-CHECK_TAIL_LINES:]
        if tail and not c.ok:
            lines += ["  ```", *("  " + redact(t) for t in tail), "  ```"]
    return lines


def _validation_section(validation: GateReport | None) -> list[str]:
    if validation is None:
        return ["Not validated."]
    if validation.ok:
        run = ", ".join(validation.checks_run)
        return [f"✅ passed ({run})" if run else "✅ passed"]
    out = ["❌ failed:"]
    for p in validation.problems:
        out.append(f"- [{p.check}] {_one_line(redact(p.message))}")
    return out


def _votes_section(result: RunResult) -> list[str]:
    """One line per vote (a file's edit, the review): samples, margin, agreement, red flags."""
    rows = [(f"`{e.path}`", e.vote) for e in result.edits if e.vote is not None]
    if result.verdict is not None and result.verdict.vote is not None:
        rows.append(("review", result.verdict.vote))
    lines = []
    for what, vote in rows:
        how = {"votes": "decided", "checks": "chosen by the checks", "plurality": "low agreement"}
        flags = ", ".join(f"{reason} {n}" for reason, n in vote.red_flags.items())
        lines.append(
            f"- {what}: {vote.samples} sample(s), margin {vote.margin} of k={vote.k} "
            f"({vote.confidence:.0%} agreed), {how[vote.settled_by]}"
            + (f"; red-flagged: {flags}" if flags else "")
        )
    return lines


def _usage_line(result: RunResult) -> str:
    u = result.usage
    tokens = ", ".join(
        f"{n:,} {label}"
        for n, label in (
            (u.input_tokens, "input"),
            (u.output_tokens, "output"),
            (u.cache_read_tokens, "cache read"),
            (u.cache_write_tokens, "cache write"),
        )
        if n
    )
    cost = f"${result.cost_usd:.4f}" if result.cost_usd is not None else "cost unknown"
    if result.estimate is not None and result.estimate.cost_usd is not None:
        cost += f" (estimated ${result.estimate.cost_usd:.4f})"
    if result.max_cost is not None:
        cost += f"; limit ${result.max_cost:.4f}"
    return f"{result.model or 'unknown model'}: {result.calls} call(s), {tokens or 'no tokens'}; {cost}"


def _whole_change(
    earlier: list[Step], result: RunResult, changes: list[FileChange], base: str | None
) -> list[str]:
    """The first step's summary, the follow-ups (this run last) and the files of the whole
    change against ``base``."""
    out = ["## Summary", "", earlier[0].summary or earlier[0].title, "", "## Follow-ups", ""]
    for k, step in enumerate([*earlier[1:], Step.of(result)], start=1):
        state = "" if step.status in ("approved", "unverified") else f" [{step.status}]"
        run = f" (run `{step.run_id}`)" if step.run_id else ""
        text = f" — {step.summary}" if step.summary and step.summary != step.title else ""
        out.append(f"{k}. **{step.title}**{state}{text}{run}")
    out.append("")
    if changes:
        out += [f"## Changes against `{base}`" if base else "## Changes", ""]
        for c in changes[:200]:
            counts = f"+{c.added} −{c.removed}" if c.added is not None else "binary"
            out.append(f"- `{_one_line(redact(c.path))}` ({counts})")
        if len(changes) > 200:
            out.append(f"- … and {len(changes) - 200} more")
        out.append("")
    return [*out, "## This step", ""]


def pr_body(
    result: RunResult,
    *,
    issue: int | None = None,
    earlier: list[Step] | None = None,
    changes: list[FileChange] | None = None,
    base: str | None = None,
) -> str:
    """The pull request description (Markdown), at most :data:`BODY_MAX` characters.

    ``earlier``: the steps already on this pull request (:func:`read_steps` of its body);
    with them the body describes the whole change (``changes``: its files against ``base``)
    and this run as its latest step. The body always ends with the hidden steps block."""
    earlier = earlier or []
    out: list[str] = [MARKER]
    failure = failure_line(result)
    if failure:
        out += [
            f"> [!WARNING]\n> **{failure}**\n> This draft keeps the work; review it with care.",
            "",
        ]
    if result.low_agreement:
        out += [
            "> [!CAUTION]\n> **Low agreement:** a vote of sampled answers ended without a lead "
            "and no check could choose; the most frequent answer was taken. Review it with care.",
            "",
        ]
    plan = result.plan
    if earlier:
        out += _whole_change(earlier, result, changes or [], base)
    else:
        out += ["## Summary", "", redact(plan.summary.strip()) if plan else "", ""]
    if result.verdict is not None:
        state = "approved" if result.verdict.approved else "not approved"
        out += [f"**Review:** {state} — {redact(result.verdict.summary.strip())}", ""]
    if plan and plan.files:
        out += ["## Plan", ""]
        out += [f"- `{f.path}` ({f.action}): {_one_line(redact(f.intent))}" for f in plan.files]
        out.append("")
    notes = [e for e in result.edits if e.notes.strip() or e.error]
    if notes:
        out += ["## Notes per file", ""]
        for e in notes:
            text = _clip(_one_line(redact(e.notes)), NOTE_MAX) if e.notes.strip() else ""
            if e.error:
                text = (text + " " if text else "") + (
                    f"**Not edited:** {_clip(_one_line(redact(e.error)), NOTE_MAX)}"
                )
            out.append(f"- `{e.path}`: {text}")
        out.append("")
    votes = _votes_section(result)
    if votes:
        out += ["## Votes", "", *votes, ""]
    out += ["## Validation", "", *_validation_section(result.validation), ""]
    out += ["## Checks", "", *_checks_section(result.checks), ""]
    out += ["## Usage", "", _usage_line(result), ""]
    if issue is not None:
        out += [f"Closes #{issue}", ""]
    footer = f"<sub>tinygen run `{result.run_id}` on `{result.base_commit[:12]}`</sub>\n"
    footer += steps_block([*earlier, Step.of(result)])
    body = "\n".join(out).rstrip() + "\n"
    if len(body) + len(footer) + 2 > BODY_MAX:
        keep = BODY_MAX - len(footer) - 80
        closes = f"\n\nCloses #{issue}" if issue is not None else ""
        body = body[:keep].rstrip() + "\n\n…(cut: see the run record)" + closes + "\n"
    return printable(body + "\n" + footer + "\n")
