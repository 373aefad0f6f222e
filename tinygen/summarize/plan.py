"""Which summaries a repository needs, which of them are cached, and what the rest cost.

The hierarchy: every source file of the sheet (code, not docs or data), every folder that
holds one (at any depth), and the repository's overview (its root folder). A file is made
from its own text, a folder from its children's summaries, the overview from the
top-level ones, so a folder waits for its children.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tinygen.estimate import CHARS_PER_TOKEN
from tinygen.llm.budget import REQUEST_OVERHEAD_TOKENS, request_chars
from tinygen.llm.provider import CompletionRequest, Message, TextBlock
from tinygen.llm.structured import tool_for
from tinygen.llm.usage import Price, Usage, cost_usd
from tinygen.sheet.model import FileEntry, Sheet
from tinygen.sheet.render import imported_by_map
from tinygen.sheet.scan import read_file
from tinygen.sheet.summary_record import Kind, SummaryRecord
from tinygen.sheet.summary_store import SummaryStore
from tinygen.sheet.tree_shas import ROOT, folder_shas
from tinygen.summarize.prompts import (
    ANSWERS,
    MAX_TOKENS,
    PROMPT_VERSION,
    README_CHARS,
    SYSTEM,
    file_prompt,
    folder_prompt,
    overview_prompt,
)

# Languages that are documentation, markup or data rather than source code: not summarized.
NOT_SOURCE = frozenset(
    {"markdown", "rst", "text", "toml", "yaml", "json", "html", "css", "scss", "xml", "ini"}
)

# Expected answer sizes (tokens) when the store has too few records to measure them.
EXPECTED_OUTPUT = {"file": 90, "folder": 80, "overview": 300}
# Records of a kind in the store before their mean replaces the default: a tree has
# one overview, so one earlier overview is the best guess there is.
MEASURE_FROM = {"file": 20, "folder": 20, "overview": 1}
MAX_FILE_READ = 4_000_000  # bytes of one file read for its summary (a larger one: its head)
README_NAMES = ("README.md", "README.rst", "README.txt", "README")


@dataclass(frozen=True)
class Node:
    kind: Kind
    path: str  # the file or folder; "" for the overview
    sha: str  # blob SHA (file) or tree SHA (folder, overview)
    children: tuple[str, ...] = ()  # folders and files it is made from (node paths)

    @property
    def name(self) -> str:
        return self.path.rpartition("/")[2] if self.path else ""


@dataclass
class Plan:
    """Every node, bottom-up (children before their folder), and the ones cached."""

    nodes: dict[str, Node]  # path -> node; files and folders never share a path
    order: list[str]  # bottom-up
    cached: dict[str, SummaryRecord]  # path -> record, for the model and prompt version
    model: str
    root: Path
    entries: dict[str, FileEntry] = field(default_factory=dict)
    imported_by: dict[str, list[str]] = field(default_factory=dict)
    readme: str = ""  # the start of the README, given with the overview's question
    name: str = ""  # the repository's name, as the overview's question gives it

    @property
    def total(self) -> int:
        return len(self.nodes)

    def missing(self) -> list[Node]:
        return [self.nodes[p] for p in self.order if p not in self.cached]


def is_source(entry: FileEntry) -> bool:
    return (
        entry.language is not None
        and entry.language not in NOT_SOURCE
        and "symlink" not in entry.flags
        and entry.lines > 0
    )


def make_plan(
    sheet: Sheet,
    store: SummaryStore,
    model: str,
    shas: Mapping[str, str] | None = None,
    name: str = "",
) -> Plan:
    """The summaries ``sheet`` needs; ``shas`` the folders' tree SHAs (computed if None);
    ``name`` the repository's name (default: its folder's)."""
    shas = shas if shas is not None else folder_shas(sheet)
    nodes: dict[str, Node] = {}
    kids: dict[str, list[str]] = {ROOT: []}
    entries = {}
    for f in sorted(sheet.files, key=lambda e: e.path):
        if not is_source(f) or f.path not in sheet.tracked:
            continue  # untracked files have no place in a tree SHA
        entries[f.path] = f
        nodes[f.path] = Node("file", f.path, f.blob)
        child, parent = f.path, f.path.rpartition("/")[0]
        while True:
            known = parent in kids
            kids.setdefault(parent, []).append(child)
            if known or parent == ROOT:
                break
            child, parent = parent, parent.rpartition("/")[0]
    if not nodes:
        kids.clear()  # no source file: nothing to summarize, not even an overview
    for folder, children in kids.items():
        kind: Kind = "overview" if folder == ROOT else "folder"
        nodes[folder] = Node(kind, folder, shas[folder], tuple(sorted(children)))
    # bottom-up: deeper paths first, files before the folder holding them
    order = sorted(nodes, key=lambda p: (-(p.count("/") + (p != ROOT)), nodes[p].kind != "file", p))
    cached = {}
    for path, node in nodes.items():
        record = store.get(node.kind, node.sha, model, PROMPT_VERSION)
        if record is not None:
            cached[path] = record
    return Plan(
        nodes,
        order,
        cached,
        model,
        sheet.root,
        entries,
        imported_by_map(sheet.files),
        readme(sheet.root, sheet.tracked),
        name or sheet.root.name,
    )


# ---------------------------------------------------------------------------------------
# The estimate


@dataclass(frozen=True)
class Estimate:
    model: str
    to_make: dict[str, int]  # kind -> count
    cached: int
    total: int
    usage: Usage  # expected tokens of the calls to make
    cost_usd: float | None  # None: the price table does not know the model

    @property
    def calls(self) -> int:
        return sum(self.to_make.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "summaries": self.total,
            "cached": self.cached,
            "to_make": dict(self.to_make),
            "calls": self.calls,
            "input_tokens": self.usage.input_tokens,
            "output_tokens": self.usage.output_tokens,
            "cost_usd": None if self.cost_usd is None else round(self.cost_usd, 6),
        }


def _tokens(chars: float) -> int:
    return math.ceil(chars / CHARS_PER_TOKEN)


def expected_output(store: SummaryStore) -> dict[str, float]:
    """Tokens an answer of each kind is expected to take: the store's mean when it has
    enough records of that kind, else the default."""
    sums: dict[str, list[int]] = {}
    for record in store.records.values():
        if record.output_tokens:
            sums.setdefault(record.kind, []).append(record.output_tokens)
    out: dict[str, float] = dict(EXPECTED_OUTPUT)
    for kind, values in sums.items():
        if len(values) >= MEASURE_FROM.get(kind, 20):
            out[kind] = sum(values) / len(values)
    return out


def file_text(root: Path, path: str) -> str:
    data, _why = read_file(str(root), path, MAX_FILE_READ)
    return (data or b"").decode("utf-8", "replace")


def readme(root: Path, tracked: Mapping[str, object]) -> str:
    """The start of the repository's README (for the overview), or ''."""
    for name in README_NAMES:
        if name in tracked:
            text = file_text(root, name)
            if text:
                return text[:README_CHARS]
    return ""


def node_prompt(plan: Plan, node: Node, texts: Mapping[str, str]) -> str:
    """The question that makes ``node``'s summary; ``texts`` the children's summaries."""
    if node.kind == "file":
        text = file_text(plan.root, node.path)
        entry = plan.entries[node.path]
        return file_prompt(entry, text, plan.imported_by.get(node.path, ()))
    children = [
        (c.rpartition("/")[2], texts.get(c, ""), plan.nodes[c].kind != "file")
        for c in node.children
    ]
    if node.kind == "folder":
        return folder_prompt(node.path, children)
    return overview_prompt(plan.name or plan.root.name, children, plan.readme)


def node_request(kind: str, prompt: str, label: str = "") -> CompletionRequest:
    """The request that asks ``prompt`` for a summary of ``kind``."""
    return CompletionRequest(
        system=(TextBlock(SYSTEM),),
        messages=(Message("user", (TextBlock(prompt),)),),
        tool=tool_for(ANSWERS[kind]),
        max_tokens=MAX_TOKENS[kind],
        label=label,
    )


def estimate(
    plan: Plan,
    store: SummaryStore,
    prices: Mapping[str, Price] | None = None,
) -> Estimate:
    """What making the missing summaries will take: every question is built as it will
    be sent (a file's from its text, a folder's from its children's summaries, one still
    to make at the expected length) and counted at ``CHARS_PER_TOKEN``; answers by
    :func:`expected_output`."""
    out_tokens = expected_output(store)
    # a summary still to make stands in its folder's question at its expected length
    expected_text = {k: "x" * round(v * CHARS_PER_TOKEN) for k, v in out_tokens.items()}
    texts = {p: r.text for p, r in plan.cached.items()}
    to_make = {"file": 0, "folder": 0, "overview": 0}
    input_tokens = 0
    output_tokens = 0.0
    for node in plan.missing():
        to_make[node.kind] += 1
        output_tokens += out_tokens[node.kind]
        for child in node.children:
            texts.setdefault(child, expected_text[plan.nodes[child].kind])
        prompt = node_prompt(plan, node, texts)
        chars = request_chars(node_request(node.kind, prompt))
        input_tokens += _tokens(chars) + REQUEST_OVERHEAD_TOKENS
    usage = Usage(input_tokens=input_tokens, output_tokens=math.ceil(output_tokens))
    return Estimate(
        model=plan.model,
        to_make=to_make,
        cached=len(plan.cached),
        total=plan.total,
        usage=usage,
        cost_usd=cost_usd(plan.model, usage, prices) if plan.missing() else 0.0,
    )


__all__ = ["Estimate", "Node", "Plan", "estimate", "expected_output", "is_source", "make_plan"]
