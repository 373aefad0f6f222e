"""Hierarchical summaries (`tinygen summarize`): files, then folders, then the overview,
cached by content so that a changed file remakes only itself and its ancestor folders;
the cost limit stops cleanly and keeps what was made; the CLI end to end against the
fake Messages API."""

from __future__ import annotations

import dataclasses
import json
import threading
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.fakes.anthropic_server import FakeAnthropic, RecordedRequest, ToolReply
from tests.helpers import commit_all, git, init_repo, write_files
from tinygen.cli import cli
from tinygen.config import Settings, load_settings
from tinygen.errors import ExitCode, LLMError
from tinygen.llm.budget import Budget, BudgetedProvider
from tinygen.llm.provider import CompletionRequest
from tinygen.llm.usage import Usage, cost_usd
from tinygen.models import Request, Status
from tinygen.pipeline import SUMMARIES_SHARE, Target
from tinygen.pipeline import run as run_pipeline
from tinygen.sheet import build_sheet
from tinygen.sheet.summaries import SummaryStore, load_summaries
from tinygen.summarize.job import plan_summaries, summarize
from tinygen.testing.provider import Answer, ScriptedProvider, prompt_text

FILES = {
    "README.md": "# Shop\n\nA small shop: carts, prices and a command line.\n",
    "shop/__init__.py": "",
    "shop/cart.py": "from shop.prices import price\n\n\ndef total(items):\n    return sum(price(i) for i in items)\n",
    "shop/prices.py": "PRICES = {'apple': 3}\n\n\ndef price(item):\n    return PRICES[item]\n",
    "shop/cli/main.py": "from shop.cart import total\n\n\ndef main():\n    print(total(['apple']))\n",
    "docs/guide.md": "How to use the shop.\n",
}
# what the hierarchy of FILES is: 3 source files (the empty __init__ is not summarized,
# docs are not source), the folders holding them, and the overview
NODES = {"shop/cart.py", "shop/prices.py", "shop/cli/main.py", "shop/cli", "shop", ""}


def _path_of(request: CompletionRequest) -> str:
    return request.label.split(":", 1)[1].replace("(overview)", "")


def answer(request: CompletionRequest) -> Answer:
    """A summary that names what it summarizes, so tests can see where it went."""
    assert request.tool is not None
    path = _path_of(request)
    usage = Usage(input_tokens=len(prompt_text(request)) // 4, output_tokens=20)
    if request.tool.name == "file_summary":
        return Answer.tool({"purpose": f"about {path}", "entry_points": ["x"]}, usage=usage)
    if request.tool.name == "folder_summary":
        return Answer.tool({"purpose": f"folder {path}"}, usage=usage)
    return Answer.tool({"overview": "the whole shop"}, usage=usage)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = init_repo(tmp_path / "shop")
    write_files(root, FILES)
    commit_all(root, "shop")
    return root


def scripted() -> ScriptedProvider:
    provider = ScriptedProvider(model="claude-haiku-4-5")
    provider.respond(answer, label="summary")
    return provider


def made(provider: ScriptedProvider) -> list[str]:
    return [_path_of(r) for r in provider.requests]


def run(root: Path, provider: Any, **settings: Any) -> Any:
    config = load_settings(root, settings)
    found = plan_summaries(root, config)
    return summarize(found, config, provider=provider)


def test_files_then_folders_then_the_overview_each_from_the_level_below(repo: Path) -> None:
    provider = scripted()
    found = run(repo, provider, jobs=3)
    assert set(made(provider)) == NODES
    assert found.report.made == len(NODES) and found.report.complete
    order = made(provider)
    # every folder is asked after all of its children, the overview last
    assert order.index("shop/cli") > order.index("shop/cli/main.py")
    assert order.index("shop") > max(order.index(p) for p in ("shop/cart.py", "shop/cli"))
    assert order[-1] == ""
    asks = {_path_of(r): prompt_text(r) for r in provider.requests}
    assert "def total(items)" in asks["shop/cart.py"]  # a small file is sent whole
    assert (
        "cli/ — folder shop/cli" in asks["shop"] and "cart.py — about shop/cart.py" in asks["shop"]
    )
    assert "A small shop" in asks[""]  # the README's start goes with the overview
    # stored by content, readable by the sheet
    summaries = load_summaries(build_sheet(repo), model="claude-haiku-4-5")
    assert summaries.file_text("shop/cart.py") == "about shop/cart.py"
    assert summaries.folder_text("shop/cli") == "folder shop/cli"
    assert summaries.overview is not None and summaries.overview.text == "the whole shop"
    assert summaries.files["shop/cart.py"].entry_points == ("x",)


def test_after_a_commit_only_the_file_and_its_ancestors_are_made_again(repo: Path) -> None:
    run(repo, scripted())
    again = scripted()
    assert run(repo, again).report.made == 0 and again.requests == []
    (repo / "shop/cli/main.py").write_text("def main():\n    return 0\n")
    commit_all(repo, "simpler main")
    third = scripted()
    found = run(repo, third)
    assert sorted(made(third)) == sorted(["shop/cli/main.py", "shop/cli", "shop", ""])
    assert found.report.line().startswith("4 of 6 summaries refreshed, $")
    # the keys are git's own tree SHAs: another clone of this commit finds them
    record = found.store.get(
        "folder", git(repo, "rev-parse", "HEAD:shop/cli").strip(), "claude-haiku-4-5", "1"
    )
    assert record is not None and record.text == "folder shop/cli"


def test_an_uncommitted_change_is_summarized_by_its_content(repo: Path) -> None:
    run(repo, scripted())
    (repo / "shop/prices.py").write_text("def price(item):\n    return 1\n")
    provider = scripted()
    run(repo, provider)
    assert sorted(made(provider)) == ["", "shop", "shop/prices.py"]
    git(repo, "checkout", "--", "shop/prices.py")
    back = scripted()
    run(repo, back)
    assert back.requests == []  # the committed content's summaries are still there


def test_the_cost_limit_stops_cleanly_and_the_next_run_finishes(repo: Path) -> None:
    limit = Budget(0.006, "claude-haiku-4-5")  # room for one call's worst case, not two
    provider = scripted()
    found = run(repo, BudgetedProvider(provider, limit), jobs=1)
    report = found.report
    assert report.stopped is not None and report.stopped.exit_code == ExitCode.BUDGET_EXCEEDED
    assert 1 <= report.made < len(NODES)
    assert report.not_made == len(NODES) - report.made
    assert limit.spent <= 0.006
    assert len(provider.requests) == report.made  # no call was made past the limit
    rest = scripted()
    second = run(repo, rest)
    assert second.plan.cached.keys() == set(made(provider))  # what was made was kept
    assert len(rest.requests) == len(NODES) - report.made


def test_a_failed_file_leaves_its_folders_for_the_next_run(repo: Path) -> None:
    provider = scripted()
    provider.enqueue(LLMError("the model is down"), label="summary:shop/prices.py")
    found = run(repo, provider, jobs=2)
    report = found.report
    assert [f.path for f in report.failures] == ["shop/prices.py"]
    assert "shop" not in made(provider) and "" not in made(provider)  # not made incomplete
    assert {"shop/cart.py", "shop/cli/main.py", "shop/cli"} <= set(made(provider))
    assert report.not_made == 2
    retry = scripted()
    run(repo, retry)
    assert sorted(made(retry)) == ["", "shop", "shop/prices.py"]


def test_the_estimate_counts_what_is_missing_and_calls_nothing(repo: Path) -> None:
    config = load_settings(repo, {})
    cold = plan_summaries(repo, config).estimate
    assert cold.to_make == {"file": 3, "folder": 2, "overview": 1} and cold.cached == 0
    assert cold.usage.input_tokens > 0 and cold.cost_usd is not None and cold.cost_usd > 0
    run(repo, scripted())
    (repo / "shop/cart.py").write_text("def total(items):\n    return 0\n")
    warm = plan_summaries(repo, config).estimate
    assert warm.to_make == {"file": 1, "folder": 1, "overview": 1} and warm.cached == 3
    assert warm.usage.input_tokens < cold.usage.input_tokens


def test_model_text_is_stored_without_control_characters(repo: Path) -> None:
    provider = ScriptedProvider(model="claude-haiku-4-5")

    def rude(request: CompletionRequest) -> Answer:
        if request.tool is not None and request.tool.name == "file_summary":
            return Answer.tool(
                {"purpose": "red \x1b[31malert\x07\u202e", "entry_points": ["\x1bx"]}
            )
        return answer(request)

    provider.respond(rude, label="summary")
    found = run(repo, provider)
    for record in found.records().values():
        assert record.text.isprintable() and all(p.isprintable() for p in record.entry_points)


def test_a_different_model_or_prompt_version_is_another_record(repo: Path) -> None:
    run(repo, scripted())
    other = scripted()
    run(repo, other, summary_model="claude-sonnet-4-5")
    assert set(made(other)) == NODES  # made again for the other model
    store = SummaryStore.load(repo / ".git/tinygen")
    models = {r.model for r in store.records.values()}
    assert models == {"claude-haiku-4-5", "claude-sonnet-4-5"}


# --- the command line, against the fake Messages API ----------------------------------


def _fake_answer(request: RecordedRequest) -> ToolReply:
    text = request.text
    path = text.split("`", 2)[1] if "`" in text else "?"
    if request.tool == "file_summary":
        return ToolReply({"purpose": f"about {path}", "entry_points": ["main"]})
    if request.tool == "folder_summary":
        return ToolReply({"purpose": f"folder {path}"})
    return ToolReply({"overview": "A shop.\n\nWith carts."})


def _env(fake: FakeAnthropic) -> dict[str, str]:
    return {"ANTHROPIC_API_KEY": fake.api_key, "ANTHROPIC_BASE_URL": fake.base_url}


def test_cli_estimate_then_summarize_then_guide(repo: Path, tmp_path: Path) -> None:
    guide = tmp_path / "GUIDE.md"
    with FakeAnthropic(delay=0.05) as fake:
        for tool in ("file_summary", "folder_summary", "overview"):
            fake.on(tool, _fake_answer)
        runner = CliRunner()
        est = runner.invoke(cli, ["summarize", str(repo), "--estimate", "--json"], env=_env(fake))
        assert est.exit_code == 0, est.output
        assert json.loads(est.output)["estimate"]["calls"] == len(NODES)
        assert fake.requests == []  # nothing was paid for an estimate
        done = runner.invoke(
            cli,
            ["summarize", str(repo), "--jobs", "2", "--out", str(guide), "--json"],
            env=_env(fake),
        )
        assert done.exit_code == 0, done.output
        report = json.loads(done.output)["report"]
        assert report["made"] == len(NODES) and report["calls"] == len(NODES)
        assert fake.peak["file_summary"] <= 2
        assert {r.model for r in fake.requests} == {"claude-haiku-4-5"}  # the cheap default
        # the estimate against what the fake counted (4 characters a token)
        counted = sum(r.usage["input_tokens"] for r in fake.requests)
        assert report["usage"]["input_tokens"] == counted
        again = runner.invoke(cli, ["summarize", str(repo)], env=_env(fake))
        assert again.exit_code == 0 and again.output.startswith("0 of 6 summaries refreshed")
        assert len(fake.requests) == len(NODES)
    text = guide.read_text()
    assert text.index("## Overview") < text.index("## Folders") < text.index("## Files")
    assert "A shop.\n\nWith carts." in text
    assert "- `shop/cli/` — folder shop/cli" in text
    assert "- `cart.py` — about shop/cart.py Entry points: `main`." in text


def test_cli_max_cost_exits_with_the_budget_code_and_keeps_what_was_made(repo: Path) -> None:
    with FakeAnthropic() as fake:
        for tool in ("file_summary", "folder_summary", "overview"):
            fake.on(tool, _fake_answer)
        result = CliRunner().invoke(
            cli, ["summarize", str(repo), "--max-cost", "0.006", "--jobs", "1"], env=_env(fake)
        )
        assert result.exit_code == ExitCode.BUDGET_EXCEEDED, result.output
        assert "left for the next run" in result.output
        assert "max_cost" in result.output or "--max-cost" in result.output
        made_first = len(fake.requests)
        assert 1 <= made_first < len(NODES)
        rest = CliRunner().invoke(cli, ["summarize", str(repo)], env=_env(fake))
        assert rest.exit_code == 0, rest.output
        assert len(fake.requests) == len(NODES)


def test_cli_without_a_key_says_so_before_any_work(repo: Path) -> None:
    result = CliRunner().invoke(cli, ["summarize", str(repo)], env={"ANTHROPIC_API_KEY": ""})
    assert result.exit_code == ExitCode.CONFIG
    assert "ANTHROPIC_API_KEY" in result.output
    assert not (repo / ".git/tinygen/summaries.json").exists()


def test_plain_progress_lines_when_not_on_a_terminal(repo: Path) -> None:
    lines: list[str] = []
    lock = threading.Lock()

    def progress(done: int, total: int, dollars: float) -> None:
        with lock:
            lines.append(f"{done}/{total}")

    config = load_settings(repo, {})
    found = plan_summaries(repo, config)
    summarize(found, config, provider=scripted(), progress=progress)
    assert lines[-1] == f"{len(NODES)}/{len(NODES)}"


# --- in a run: the summaries setting --------------------------------------------------


def _no_change_run(
    repo: Path,
    settings: Any,
    summaries: ScriptedProvider | None = None,
    *,
    progress: Any = None,
) -> tuple[Any, ScriptedProvider]:
    provider = ScriptedProvider()
    provider.enqueue({"summary": "Nothing to do.", "title": "t", "files": []}, label="brainstorm")
    result = run_pipeline(
        Request("Make the cart total count apples"),
        Target(repo, git(repo, "rev-parse", "HEAD").strip()),
        settings,
        provider,
        model="claude-sonnet-4-6",
        summary_provider=summaries,
        **({"progress": progress} if progress is not None else {}),
    )
    return result, provider


def brainstorm_prompt(provider: ScriptedProvider) -> str:
    return prompt_text(provider.requests_for("brainstorm")[0])


def test_a_run_shows_the_cached_summaries_to_the_brainstorm(repo: Path) -> None:
    run(repo, scripted())
    result, provider = _no_change_run(repo, Settings())
    prompt = brainstorm_prompt(provider)
    assert "Overview:\nthe whole shop" in prompt
    assert "- shop/ — folder shop" in prompt  # the folders around the top files
    sheet = (repo / ".git/tinygen/runs" / result.run_id / "sheet.txt").read_text()
    assert "about shop/cart.py" in sheet
    without = brainstorm_prompt(_no_change_run(repo, Settings(summaries="off"))[1])
    assert "the whole shop" not in without and "folder shop" not in without


def test_cached_never_pays_and_auto_makes_them_first(repo: Path) -> None:
    _, provider = _no_change_run(repo, Settings())  # nothing cached, nothing made
    assert "Overview" not in brainstorm_prompt(provider)
    assert not (repo / ".git/tinygen/summaries.json").exists()
    writer = scripted()
    result, provider = _no_change_run(
        repo, Settings(summaries="auto", summary_model="claude-haiku-4-5"), writer
    )
    assert set(made(writer)) == NODES
    assert "Overview:\nthe whole shop" in brainstorm_prompt(provider)
    record = json.loads((repo / ".git/tinygen/runs" / result.run_id / "run.json").read_text())
    assert record["summaries"]["made"] == len(NODES)


def _dear_answer(request: CompletionRequest) -> Answer:
    """A summary with a long answer: $0.10 of output at ``dear-summaries``' price."""
    given = answer(request)
    return dataclasses.replace(
        given, usage=Usage(input_tokens=given.usage.input_tokens, output_tokens=400)
    )


def test_auto_summaries_are_paid_from_the_runs_cost_limit(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a summary model dear enough that making every summary would leave the run less than
    # its first call's worst case (about $0.25 for the brainstorm on claude-sonnet-4-6)
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"dear-summaries": {"input": 1, "output": 250}}))
    monkeypatch.setenv("TINYGEN_PRICES_FILE", str(prices))
    writer = ScriptedProvider(model="dear-summaries")
    writer.respond(_dear_answer, label="summary")
    max_cost = 0.6
    settings = Settings(summaries="auto", summary_model="dear-summaries", max_cost=max_cost, jobs=1)
    lines: list[str] = []
    result, provider = _no_change_run(
        repo, settings, writer, progress=lambda stage, text: lines.append(f"{stage}: {text}")
    )
    # they took at most their share (half) of the limit: the cap stopped them, and the run
    # went on with what exists
    assert 1 <= len(writer.requests) < len(NODES)
    assert result.status == Status.NO_CHANGE and len(provider.requests) == 1
    assert result.summaries is not None
    report = result.summaries.report
    assert report.stopped is not None and report.made == len(writer.requests)
    assert result.summaries.limit == pytest.approx(max_cost * SUMMARIES_SHARE)
    assert report.cost_usd is not None and 0 < report.cost_usd <= max_cost * SUMMARIES_SHARE
    assert any("share of `max_cost`" in line for line in lines)
    # what they cost is in the run's cost
    own = cost_usd("claude-sonnet-4-6", result.usage)
    assert own is not None and result.cost_usd == pytest.approx(report.cost_usd + own)
    record = json.loads((repo / ".git/tinygen/runs" / result.run_id / "run.json").read_text())
    assert record["summaries"]["stopped_by_max_cost"] is True
    assert record["summaries"]["made"] == len(writer.requests)
    assert record["result"]["summaries"]["limit_usd"] == pytest.approx(max_cost / 2)


def test_the_run_estimate_counts_the_summaries_auto_would_make(repo: Path) -> None:
    from tinygen.pipeline import estimate

    request = Request("Make the cart total count apples")
    head = Target(repo, git(repo, "rev-parse", "HEAD").strip())
    plain = estimate(request, head, Settings(), model="claude-sonnet-4-6")
    auto = estimate(request, head, Settings(summaries="auto"), model="claude-sonnet-4-6")
    rows = {p.name: p for p in auto.passes}
    assert "summaries" not in {p.name for p in plain.passes}
    assert rows["summaries"].calls == len(NODES)
    assert plain.cost_usd is not None and auto.cost_usd is not None
    assert auto.cost_usd == pytest.approx(plain.cost_usd + (rows["summaries"].cost_usd or 0))
    assert auto.cost_low is not None and plain.cost_low is not None
    assert auto.cost_low > plain.cost_low
    run(repo, scripted())  # once they are made, auto has nothing left to pay for
    again = estimate(request, head, Settings(summaries="auto"), model="claude-sonnet-4-6")
    assert "summaries" not in {p.name for p in again.passes}


def test_a_repository_without_source_files_needs_no_summary(tmp_path: Path) -> None:
    root = init_repo(tmp_path / "docs-only")
    write_files(root, {"README.md": "# Notes\n", "data.json": "{}\n"})
    commit_all(root)
    result = CliRunner().invoke(cli, ["summarize", str(root)], env={"ANTHROPIC_API_KEY": ""})
    assert result.exit_code == 0, result.output  # no key needed: nothing to ask
    assert result.output.startswith("0 of 0 summaries refreshed")


def test_a_progress_bar_on_a_terminal(repo: Path) -> None:
    import io

    from tinygen.commands._progress import ProgressPrinter
    from tinygen.commands.summarize import _Bar

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    bar = _Bar(ProgressPrinter(screen))
    config = load_settings(repo, {})
    found = summarize(plan_summaries(repo, config), config, provider=scripted(), progress=bar)
    frames = screen.getvalue().split("\r\x1b[K")
    assert len(frames) == len(NODES) + 1  # one frame per summary made, each over the last
    assert frames[-1].endswith(f"summaries: [{'#' * 24}] 6/6 ${found.report.cost_usd:.4f}")
    assert f"summaries: [{'#' * 4}{'-' * 20}] 1/6 $" in frames[1]


def test_an_interrupted_build_keeps_what_was_made(repo: Path) -> None:
    provider = scripted()
    provider.enqueue(KeyboardInterrupt(), label="summary:shop/prices.py")
    config = load_settings(repo, {"jobs": 1})
    found = plan_summaries(repo, config)
    with pytest.raises(KeyboardInterrupt):
        summarize(found, config, provider=provider)
    kept = plan_summaries(repo, config).plan.cached
    assert set(kept) == set(made(provider)) - {"shop/prices.py"} and kept  # saved on the way out


def test_the_store_is_pruned_to_the_tree_once_it_grows_past_its_limit(repo: Path) -> None:
    from tinygen.sheet.summaries import SummaryRecord
    from tinygen.summarize import job

    run(repo, scripted())
    store = SummaryStore.load(repo / ".git/tinygen")
    old = SummaryRecord("file", "an old version", "claude-haiku-4-5", "1")
    for i in range(job.PRUNE_MIN - len(NODES)):  # up to the limit: nothing is dropped
        store.put(f"{i:040x}", old)
    store.save()
    config = load_settings(repo, {})
    assert run(repo, scripted()).report.made == 0
    assert len(SummaryStore.load(repo / ".git/tinygen").records) == job.PRUNE_MIN
    store.put(f"{job.PRUNE_MIN:040x}", old)  # one more: past the limit
    store.save()
    found = summarize(plan_summaries(repo, config), config, provider=scripted())
    after = SummaryStore.load(repo / ".git/tinygen")
    assert len(after.records) == len(NODES)  # only what the tree uses is left
    assert found.plan.cached.keys() == NODES
    assert plan_summaries(repo, config).plan.cached.keys() == NODES


# --- what the review found ------------------------------------------------------------


def test_an_error_every_call_would_meet_stops_the_build(repo: Path) -> None:
    from tinygen.errors import LLMAuthError

    provider = scripted()
    provider.enqueue(LLMAuthError("the key was refused"), label="summary")
    config = load_settings(repo, {"jobs": 1})
    found = summarize(plan_summaries(repo, config), config, provider=provider)
    assert len(provider.requests) == 1  # not one refused call per file
    assert found.report.halted is not None and found.report.not_made == len(NODES) - 1


def test_a_file_name_that_is_not_utf8_is_asked_about_escaped(tmp_path: Path) -> None:
    import os

    root = init_repo(tmp_path / "odd")
    write_files(root, {"pkg/ok.py": "x = 1\n"})
    (root / "pkg" / os.fsdecode(b"caf\xe9.py")).write_bytes(b"y = 2\n")
    commit_all(root)
    provider = scripted()
    found = run(root, provider)
    assert found.report.complete and not found.report.failures
    asks = [prompt_text(r) for r in provider.requests]
    for text in asks:
        text.encode("utf-8")  # every request can be sent
    assert any("`pkg/caf\\xe9.py`" in text for text in asks)


def test_the_overview_is_asked_about_the_repository_by_its_name(repo: Path) -> None:
    provider = scripted()
    config = load_settings(repo, {})
    summarize(plan_summaries(repo, config, name="acme/shop"), config, provider=provider)
    overview = prompt_text(provider.requests_for("summary:(overview)")[0])
    assert "Write an overview of the repository `acme/shop`" in overview


def test_a_guide_path_that_cannot_be_written_is_refused_before_anything_is_paid(
    repo: Path, tmp_path: Path
) -> None:
    with FakeAnthropic() as fake:
        result = CliRunner().invoke(
            cli,
            ["summarize", str(repo), "--out", str(tmp_path / "no/such/GUIDE.md")],
            env=_env(fake),
        )
        assert result.exit_code == ExitCode.USAGE
        assert "the folder" in result.output and "does not exist" in result.output
        assert fake.requests == []


def test_estimate_with_out_writes_the_guide_of_what_is_cached(repo: Path, tmp_path: Path) -> None:
    run(repo, scripted())
    guide = tmp_path / "GUIDE.md"
    result = CliRunner().invoke(
        cli,
        ["summarize", str(repo), "--estimate", "--out", str(guide)],
        env={"ANTHROPIC_API_KEY": ""},
    )
    assert result.exit_code == 0, result.output
    assert "guide of the 6 cached summaries written" in result.output
    assert "- `cart.py` — about shop/cart.py" in guide.read_text()


def test_model_text_is_prose_in_the_guide_never_markup(repo: Path, tmp_path: Path) -> None:
    provider = ScriptedProvider(model="claude-haiku-4-5")

    def markup(request: CompletionRequest) -> Answer:
        if request.tool is not None and request.tool.name == "overview":
            return Answer.tool(
                {"overview": "## Folders\n\n<img src=x onerror=alert(1)> [x](javascript:1)"}
            )
        return answer(request)

    provider.respond(markup, label="summary")
    found = run(repo, provider)
    from tinygen.summarize.guide import render_guide

    text = render_guide(found.plan, found.records(), "shop", found.shas[""])
    assert text.splitlines().count("## Folders") == 1  # the guide's own heading only
    assert "\\## Folders" in text and "<img" not in text and "&lt;img" in text
    assert "[x](javascript" not in text and "\\[x\\]" in text


def test_a_refusal_while_another_call_held_its_reservation_is_asked_again(repo: Path) -> None:
    # room for one call's worst case at a time, never for the overview's
    limit = Budget(0.007, "claude-haiku-4-5", latch=False)
    provider = scripted()
    found = run(repo, BudgetedProvider(provider, limit), jobs=2)
    report = found.report
    assert report.made == len(NODES) - 1  # everything but the overview
    assert report.stopped is not None and "(overview)" in str(report.stopped)
    assert limit.spent <= 0.007


def test_plain_progress_is_a_line_every_tenth(repo: Path) -> None:
    import io

    from tinygen.commands._progress import ProgressPrinter
    from tinygen.commands.summarize import _Bar

    log = io.StringIO()
    bar = _Bar(ProgressPrinter(log))
    for done in range(1, 101):
        bar(done, 100, 0.0)
    lines = log.getvalue().splitlines()
    assert len(lines) == 11  # the first, then each tenth
    assert lines[-1].endswith("summaries: 100 of 100 made, $0.0000")
