"""The brainstorm pass's lookups: search, outline and read before planning, bounded by
the settings, answered in the same conversation, each recorded in the run record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import RepoFactory
from tinygen.config import Settings
from tinygen.errors import LLMOutputError
from tinygen.llm import ToolResultBlock, ToolUseBlock
from tinygen.models import Request
from tinygen.passes.brainstorm import brainstorm
from tinygen.passes.common import RunContext
from tinygen.runs import RunRecorder
from tinygen.sheet import build_sheet
from tinygen.testing.provider import Answer, ScriptedProvider
from tinygen.validate import PathPolicy

FILES = {
    "shop/__init__.py": "",
    "shop/billing.py": (
        '"""Invoices."""\n\n'
        "class Invoice:\n"
        "    def total(self) -> int:\n"
        "        return sum(self.lines)\n\n"
        "    def rounding_mode(self) -> str:\n"
        '        return "half-up"\n'
    ),
    "shop/views.py": "from shop.billing import Invoice\n\ndef checkout(): ...\n",
}
PLAN = {
    "summary": "Round half-even.",
    "title": "Round half-even",
    "files": [{"path": "shop/billing.py", "action": "modify", "intent": "x", "see_also": []}],
}


def context(root: Path, provider: ScriptedProvider, tmp: Path, **settings: int) -> RunContext:
    sheet = build_sheet(root, query="invoice rounding", ranking=True)
    return RunContext(
        provider=provider,
        settings=Settings(**settings),  # type: ignore[arg-type]
        request=Request("Invoices round half-up; they must round half-even."),
        root=root,
        repo_paths=sheet.paths,
        sheet_text="(sheet)",
        record=RunRecorder(tmp / "runs"),
        model="claude-sonnet-4-6",
        sheet=sheet,
    )


@pytest.fixture
def repo(make_repo: RepoFactory) -> Path:
    return make_repo(FILES)


def test_lookups_are_answered_in_the_conversation_and_recorded(repo: Path, tmp_path: Path) -> None:
    provider = ScriptedProvider()
    provider.enqueue(
        Answer.tool(
            {
                "lookups": [
                    {"tool": "search", "query": "rounding mode"},
                    {"tool": "outline", "path": "shop/billing.py"},
                    {"tool": "read", "path": "shop/billing.py", "symbol": "Invoice.rounding_mode"},
                ]
            }
        ),
        Answer.tool(PLAN),
        label="brainstorm",
    )
    ctx = context(repo, provider, tmp_path)
    plan = brainstorm(ctx, [], PathPolicy())
    assert [item.path for item in plan.files] == ["shop/billing.py"]
    _first, second = provider.requests_for("brainstorm")
    # The second request continues the conversation: the answer as a tool call, then its
    # result with every lookup's output.
    assert len(second.messages) == 3
    call = second.messages[1].content[-1]
    assert isinstance(call, ToolUseBlock) and call.input["lookups"][0]["tool"] == "search"
    result = second.messages[2].content[0]
    assert isinstance(result, ToolResultBlock) and result.tool_use_id == call.id
    assert "shop/billing.py" in result.content.split("search 'rounding mode':")[1]
    assert "    def rounding_mode(self) -> str  L7-8" in result.content
    assert '7|     def rounding_mode(self) -> str:\n8|         return "half-up"' in result.content
    record = json.loads((ctx.record.dir / "run.json").read_text())
    assert [(r["tool"], r["path"]) for r in record["lookups"]] == [
        ("search", ""),
        ("outline", "shop/billing.py"),
        ("read", "shop/billing.py"),
    ]
    assert all(r["result_tokens"] > 0 for r in record["lookups"])


def test_rounds_and_lookups_per_round_are_bounded(repo: Path, tmp_path: Path) -> None:
    ask = Answer.tool({"lookups": [{"tool": "outline", "path": "shop/views.py"}] * 3})
    provider = ScriptedProvider()
    provider.enqueue(ask, ask, ask, label="brainstorm")
    ctx = context(repo, provider, tmp_path, lookup_rounds=2, lookups_per_round=2)
    with pytest.raises(LLMOutputError, match="instead of planning"):
        brainstorm(ctx, [], PathPolicy())
    requests = provider.requests_for("brainstorm")
    assert len(requests) == 3  # the first answer, then two rounds of lookups
    last = requests[-1].messages[-1].content[0]
    assert isinstance(last, ToolResultBlock)
    assert "1 more lookup(s) not run: at most 2 a round" in last.content
    assert "No more lookups: give the plan now" in last.content
    record = json.loads((ctx.record.dir / "run.json").read_text())
    assert len(record["lookups"]) == 4


def test_the_token_cap_stops_lookups(repo: Path, tmp_path: Path) -> None:
    provider = ScriptedProvider()
    provider.enqueue(
        Answer.tool({"lookups": [{"tool": "read", "path": "shop/billing.py"}] * 3}),
        Answer.tool(PLAN),
        label="brainstorm",
    )
    ctx = context(repo, provider, tmp_path, lookup_tokens=60)
    brainstorm(ctx, [], PathPolicy())
    result = provider.requests_for("brainstorm")[1].messages[-1].content[0]
    assert isinstance(result, ToolResultBlock)
    assert "lookup budget used up" in result.content
    assert "No more lookups" in result.content
    record = json.loads((ctx.record.dir / "run.json").read_text())
    assert len(record["lookups"]) == 1


def test_no_rounds_means_no_lookups(repo: Path, tmp_path: Path) -> None:
    provider = ScriptedProvider()
    provider.enqueue(Answer.tool(PLAN), label="brainstorm")
    ctx = context(repo, provider, tmp_path, lookup_rounds=0)
    brainstorm(ctx, [], PathPolicy())
    prompt = provider.requests_for("brainstorm")[0].messages[0].content[0]
    assert "lookups" not in getattr(prompt, "text", "")


def test_a_lookup_of_a_missing_file_says_so(repo: Path, tmp_path: Path) -> None:
    provider = ScriptedProvider()
    provider.enqueue(
        Answer.tool(
            {
                "lookups": [
                    {"tool": "read", "path": "../etc/passwd"},
                    {"tool": "outline", "path": "nowhere.py"},
                    {"tool": "read", "path": "shop/billing.py", "symbol": "Nope"},
                ]
            }
        ),
        Answer.tool(PLAN),
        label="brainstorm",
    )
    brainstorm(context(repo, provider, tmp_path), [], PathPolicy())
    result = provider.requests_for("brainstorm")[1].messages[-1].content[0]
    assert isinstance(result, ToolResultBlock)
    assert "'../etc/passwd' is not a readable file" in result.content
    assert "'nowhere.py' is not a file" in result.content
    assert "has no symbol 'Nope'" in result.content
