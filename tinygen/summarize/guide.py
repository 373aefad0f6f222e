"""``tinygen summarize --out GUIDE.md``: the summaries as a Markdown guide a person reads —
the overview, then the folders as an outline, then the files folder by folder."""

from __future__ import annotations

import re

from tinygen.sheet.render import shown
from tinygen.sheet.summary_record import SummaryRecord
from tinygen.summarize.plan import Plan

MISSING = "*(no summary yet)*"


def _code(text: str) -> str:
    """A path or name as inline code, whatever backticks or control characters it holds."""
    text = shown(text)
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


_MARKUP = re.compile(r"([\\`*_\[\]|~])")
_BLOCK_START = re.compile(r"^(#|>|[-+=]|\d+[.)])")


def _md(text: str) -> str:
    """A model's prose as Markdown text, never as markup: no HTML, links, emphasis,
    code or tables from it, and a paragraph cannot open a heading, quote or list."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MARKUP.sub(r"\\\1", text)
    # "1." opens a list: escape its dot; "#", ">", "-", "+", "=" themselves
    return _BLOCK_START.sub(
        lambda m: m[1][:-1] + "\\" + m[1][-1] if m[1][0].isdigit() else "\\" + m[1], text
    )


def _one_line(text: str) -> str:
    return _md(" ".join(text.split()))


def _paragraphs(text: str) -> str:
    return "\n\n".join(_md(" ".join(p.split())) for p in text.split("\n\n") if p.strip())


def render_guide(plan: Plan, records: dict[str, SummaryRecord], title: str, tree: str) -> str:
    """The guide of ``plan``'s hierarchy with ``records`` (path -> record)."""
    overview = records.get("")
    models = ", ".join(sorted({r.model for r in records.values()})) or plan.model
    lines = [
        f"# {_one_line(shown(title))}: a guide to the repository",
        "",
        f"Written by `tinygen summarize` with {_one_line(models)} from tree {tree[:12]}; "
        f"{sum(1 for p in plan.nodes if p in records):,} of {plan.total:,} summaries.",
        "",
        "## Overview",
        "",
        _paragraphs(overview.text) if overview is not None else MISSING,
        "",
        "## Folders",
        "",
    ]
    folders = sorted(p for p, n in plan.nodes.items() if n.kind == "folder")
    for folder in folders:
        depth = folder.count("/")
        record = records.get(folder)
        text = _one_line(record.text) if record is not None else MISSING
        lines.append(f"{'  ' * depth}- {_code(folder + '/')} — {text}")
    lines += ["", "## Files", ""]
    by_folder: dict[str, list[str]] = {}
    for path, node in plan.nodes.items():
        if node.kind == "file":
            by_folder.setdefault(path.rpartition("/")[0], []).append(path)
    for folder in sorted(by_folder):
        lines += [f"### {_code((folder or '.') + '/')}", ""]
        for path in sorted(by_folder[folder]):
            record = records.get(path)
            if record is None:
                lines.append(f"- {_code(path.rpartition('/')[2])} — {MISSING}")
                continue
            entry = f"- {_code(path.rpartition('/')[2])} — {_one_line(record.text)}"
            if record.entry_points:
                entry += " Entry points: " + ", ".join(_code(p) for p in record.entry_points) + "."
            lines.append(entry)
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


__all__ = ["render_guide"]
