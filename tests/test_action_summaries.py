"""The Action's summary refresh (issue 16): a push to the default branch with
refresh-summaries makes the summaries the new tip is missing and keeps them in the folder
action.yml caches; the next push, on a fresh runner, pays only for the changed file, its
ancestor folders and the overview; issue runs read them from the same cache. Pushes to
other branches do nothing; a missing key fails before any request. The real CLI, the fake
GitHub (real PyGithub), the fake Messages API (real SDK), a local bare repository."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from tests.fakes.anthropic_server import RecordedRequest, ToolReply
from tests.helpers import commit_all, git, write_files
from tests.test_action_e2e import (  # noqa: F401 (the fixture)
    PLAN,
    REPO,
    World,
    script_rename,
    w,
)
from tinygen.action.decide import ActionConfig, decide
from tinygen.action.event import parse_event
from tinygen.errors import ExitCode

EVENTS = Path(__file__).resolve().parent / "data" / "events"
OVERVIEW = "OVERVIEW-7f3a: a tiny application that loads its settings"
_ASKED = re.compile(r"Summarize the (?:file|folder) `([^`]+?)/?`")


def asked(request: RecordedRequest) -> str:
    """What a summary request summarizes: a path, or "" for the overview."""
    if request.tool == "overview":
        return ""
    match = _ASKED.search(request.text)
    assert match, request.text[:300]
    return match.group(1)


def answer(request: RecordedRequest) -> ToolReply:
    path = asked(request)
    if request.tool == "file_summary":
        return ToolReply({"purpose": f"about {path}", "entry_points": ["load_cfg"]})
    if request.tool == "folder_summary":
        return ToolReply({"purpose": f"folder {path}"})
    return ToolReply({"overview": OVERVIEW})


def summaries_made(world: World, since: int = 0) -> list[str]:
    return [
        asked(r)
        for r in world.llm.requests[since:]
        if r.tool in ("file_summary", "folder_summary", "overview")
    ]


def refresh_on(world: World) -> Path:
    """refresh-summaries on, the summaries answered; the folder actions/cache would keep."""
    cache = world.tmp / "actions-cache"
    world.env |= {"TINYGEN_INPUT_REFRESH_SUMMARIES": "true", "TINYGEN_ACTION_CACHE": str(cache)}
    for tool in ("file_summary", "folder_summary", "overview"):
        world.llm.on(tool, answer)
    return cache


def new_runner(world: World, name: str) -> None:
    """A fresh runner: an empty clone cache; only the actions/cache folder carries over."""
    world.env["XDG_CACHE_HOME"] = str(world.tmp / name)


def push(world: World, files: dict[str, str], message: str) -> None:
    write_files(world.repo, files)
    commit_all(world.repo, message)
    git(world.repo, "push", "-q", "origin", "main")


def test_a_push_makes_the_summaries_and_the_next_push_only_what_changed(w: World) -> None:  # noqa: F811
    cache = refresh_on(w)
    new_runner(w, "runner-1")
    w.event("push")
    first = w.run()
    assert first.exit_code == 0, first.output
    out = w.outputs
    made = summaries_made(w)
    assert {"app/config.py", "app", ""} <= set(made) and len(made) == len(set(made))
    assert out["status"] == "summaries-refreshed"
    assert out["summaries"].startswith(f"{len(made)} of {len(made)} summaries refreshed, $")
    assert out["summaries-cache"] == "changed"  # action.yml saves the folder
    assert out["summaries"] in first.stderr and out["summaries"] in w.summary
    assert {r.model for r in w.llm.requests} == {"claude-haiku-4-5"}  # the summary model
    assert w.gh.requests == []  # no API call, no comment: the clone only
    assert "event push by @maintainer: a push to the default branch main" in first.stderr
    # progress as `tinygen summarize` prints it off a terminal: the first, then each tenth
    progress = re.findall(r"summaries: (\d+) of (\d+) made, \$", first.stderr)
    assert progress[0] == ("1", str(len(made))) and progress[-1] == (str(len(made)),) * 2
    stored = json.loads((cache / "summaries.json").read_text())["records"]
    assert len(stored) == len(made)

    # the next push changes one file, and runs on another runner
    new_runner(w, "runner-2")
    push(w, {"app/config.py": "def load_cfg(path: str) -> dict:\n    return {}\n"}, "simpler")
    before = len(w.llm.requests)
    second = w.run()
    assert second.exit_code == 0, second.output
    assert sorted(summaries_made(w, before)) == ["", "app", "app/config.py"]
    assert w.outputs["summaries"].startswith(f"3 of {len(made)} summaries refreshed, $")
    assert "summaries restored from the workflow's cache" in second.stderr
    assert len(json.loads((cache / "summaries.json").read_text())["records"]) == len(made) + 3

    # nothing changed since: nothing to pay, nothing new to save
    new_runner(w, "runner-3")
    third = w.run()
    assert third.exit_code == 0, third.output
    assert len(w.llm.requests) == before + 3
    assert w.outputs["summaries"].startswith(f"0 of {len(made)} summaries refreshed")
    assert "summaries-cache" not in w.outputs


def test_a_push_to_another_branch_does_nothing(w: World) -> None:  # noqa: F811
    cache = refresh_on(w)
    w.event("push", ref="refs/heads/feature")
    result = w.run()
    assert result.exit_code == 0, result.output
    assert w.outputs["status"] == "skipped"
    assert "the push is to feature, not to the default branch main" in result.stderr
    assert w.llm.requests == [] and w.gh.requests == []
    assert not cache.exists()


def test_without_refresh_summaries_a_push_is_skipped(w: World) -> None:  # noqa: F811
    refresh_on(w)
    w.env["TINYGEN_INPUT_REFRESH_SUMMARIES"] = "false"
    w.event("push")
    result = w.run()
    assert result.exit_code == 0 and w.outputs["status"] == "skipped"
    assert "refresh-summaries" in w.outputs["status"] + result.stderr
    assert w.llm.requests == []


def test_no_key_for_the_summary_model_fails_before_any_request(w: World) -> None:  # noqa: F811
    cache = refresh_on(w)
    del w.env["ANTHROPIC_API_KEY"]
    w.event("push")
    result = w.run()
    assert result.exit_code == ExitCode.CONFIG, result.output
    assert w.outputs["status"] == "failed"
    assert "::error" in result.stderr and "no Anthropic API key" in result.stderr
    assert "claude-haiku-4-5" in result.stderr and "anthropic-api-key" in result.stderr
    assert "name it in the `summary-model` input" in result.stderr
    assert w.llm.requests == [] and w.gh.requests == [] and not cache.exists()


def test_a_summary_model_named_in_the_environment_is_checked_for_its_key(w: World) -> None:  # noqa: F811
    """Another provider's variables excuse a missing key only while no summary model is
    named: the repository's .tinygen.toml may name one. TINYGEN_SUMMARY_MODEL names it."""
    refresh_on(w)
    del w.env["ANTHROPIC_API_KEY"]
    w.env |= {"OPENAI_API_KEY": "sk-unused", "TINYGEN_SUMMARY_MODEL": " claude-haiku-4-5 "}
    w.event("push")
    result = w.run()
    assert result.exit_code == ExitCode.CONFIG, result.output
    assert "no Anthropic API key" in result.stderr and "`summary-model` input" in result.stderr
    assert w.llm.requests == [] and w.gh.requests == []


def test_a_named_summary_model_needs_its_own_key(w: World) -> None:  # noqa: F811
    refresh_on(w)
    w.env["TINYGEN_INPUT_SUMMARY_MODEL"] = "openai:gpt-4.1-mini"
    w.event("push")
    result = w.run()
    assert result.exit_code == ExitCode.CONFIG, result.output
    assert "OPENAI_API_KEY" in result.stderr and "summary-model" in result.stderr
    assert w.llm.requests == [] and w.gh.requests == []


def test_a_bad_refresh_input_fails_before_any_request(w: World) -> None:  # noqa: F811
    refresh_on(w)
    w.env["TINYGEN_INPUT_REFRESH_SUMMARIES"] = "yes"
    w.event("push")
    result = w.run()
    assert result.exit_code == ExitCode.CONFIG, result.output
    assert "refresh-summaries must be true or false" in result.stderr
    assert w.llm.requests == [] and w.gh.requests == []


def test_the_cost_limit_stops_the_refresh_and_keeps_what_was_made(w: World) -> None:  # noqa: F811
    cache = refresh_on(w)
    # room for one call's worst case, not two; the run's own max-cost is not the limit
    w.env |= {"TINYGEN_INPUT_SUMMARIES_MAX_COST": "0.006", "TINYGEN_INPUT_MAX_COST": "5"}
    w.env["TINYGEN_JOBS"] = "1"
    new_runner(w, "runner-1")
    w.event("push")
    stopped = w.run()
    assert stopped.exit_code == ExitCode.BUDGET_EXCEEDED, stopped.output
    out = w.outputs
    assert out["status"] == "failed" and "left for the next run" in out["summaries"]
    assert out["summaries-cache"] == "changed"  # saved although the step failed
    first = summaries_made(w)
    assert first and "::error" in stopped.stderr
    kept = json.loads((cache / "summaries.json").read_text())["records"]
    assert len(kept) == len(first)

    del w.env["TINYGEN_INPUT_SUMMARIES_MAX_COST"]
    new_runner(w, "runner-2")
    rest = w.run()
    assert rest.exit_code == 0, rest.output
    second = summaries_made(w, len(first))
    assert not set(first) & set(second)  # nothing paid twice
    assert {"app/config.py", "app", ""} <= set(first) | set(second)


def test_an_issue_run_reads_the_summaries_a_push_made(w: World) -> None:  # noqa: F811
    refresh_on(w)
    new_runner(w, "runner-1")
    w.event("push")
    assert w.run().exit_code == 0
    made = len(w.llm.requests)

    new_runner(w, "runner-2")  # the issue's run: another runner, the same cache
    w.env["TINYGEN_INPUT_REFRESH_SUMMARIES"] = "false"
    number = w.gh.add_issue(REPO, "Rename load_cfg", body="x")
    w.event("issues-labeled", issue__number=number)
    script_rename(w.llm)
    result = w.run()
    assert result.exit_code == 0, result.output
    assert w.outputs["status"] == "pr-opened"
    (plan,) = w.llm.requests_for(PLAN)
    assert OVERVIEW in plan.text  # the brainstorm's guide, from the cached summaries
    assert summaries_made(w, made) == []  # "cached": none made by the run


# -- the decision (payload only) ---------------------------------------------------------


def _push(**changes: object) -> dict[str, object]:
    data = json.loads((EVENTS / "push.json").read_text())
    data.update(changes)
    return data


ON = ActionConfig(refresh_summaries=True)


def test_the_decision_on_pushes() -> None:
    main = decide(parse_event("push", _push()), ON)
    assert main.would == "refresh_summaries" and main.trigger == "push"
    assert "default branch main" in main.reason
    assert decide(parse_event("push", _push()), ActionConfig()).would == "skip"
    other = decide(parse_event("push", _push(ref="refs/heads/dev")), ON)
    assert other.would == "skip" and "not to the default branch main" in other.reason
    tag = decide(parse_event("push", _push(ref="refs/tags/v1")), ON)
    assert tag.would == "skip" and "not a branch" in tag.reason
    gone = decide(parse_event("push", _push(deleted=True)), ON)
    assert gone.would == "skip" and "deleted" in gone.reason
    bot = _push(sender={"login": "merge-bot[bot]", "type": "Bot"})
    assert decide(parse_event("push", bot), ON).would == "refresh_summaries"  # bots merge too


def test_a_dry_run_says_it_would_refresh(w: World) -> None:  # noqa: F811
    refresh_on(w)
    w.event("push")
    result = w.run("--dry-run")
    assert result.exit_code == 0, result.output
    decision = json.loads(w.outputs["decision"])
    assert decision["would"] == "refresh_summaries" and decision["event"] == "push"
    assert w.llm.requests == [] and w.gh.requests == []


def test_summaries_auto_in_an_issue_run_are_kept_for_the_next_runs(w: World) -> None:  # noqa: F811
    cache = refresh_on(w)
    w.env |= {"TINYGEN_INPUT_REFRESH_SUMMARIES": "false", "TINYGEN_INPUT_SUMMARIES": "auto"}
    number = w.gh.add_issue(REPO, "Rename load_cfg", body="x")
    w.event("issues-labeled", issue__number=number)
    script_rename(w.llm)
    result = w.run()
    assert result.exit_code == 0, result.output
    made = summaries_made(w)
    assert {"app/config.py", "app", ""} <= set(made)
    (plan,) = w.llm.requests_for(PLAN)
    assert OVERVIEW in plan.text  # made first, then used
    assert w.outputs["summaries-cache"] == "changed"
    assert len(json.loads((cache / "summaries.json").read_text())["records"]) == len(made)
    assert "`issues/labeled` by @" in w.summary


def test_a_bad_summaries_input_fails_before_any_request(w: World) -> None:  # noqa: F811
    refresh_on(w)
    w.env["TINYGEN_INPUT_SUMMARIES"] = "sometimes"
    number = w.gh.add_issue(REPO, "Rename load_cfg", body="x")
    w.event("issues-labeled", issue__number=number)
    result = w.run()
    assert result.exit_code == ExitCode.CONFIG, result.output
    assert "summaries = 'sometimes' is not one of off, cached, auto" in result.stderr
    assert w.llm.requests == [] and w.gh.requests == []


# -- what an issue run may save (checks run there; they are not a sandbox) ----------------

PLANT = """\
import pathlib, subprocess, sys
from tinygen.sheet.summaries import SummaryRecord, SummaryStore

cache = pathlib.Path(sys.argv[1])
git_dir = subprocess.run(
    ["git", "rev-parse", "--path-format=absolute", "--git-common-dir"],
    capture_output=True, text=True, check=True,
).stdout.strip()
for folder in (pathlib.Path(git_dir) / "tinygen", cache):
    folder.mkdir(parents=True, exist_ok=True)
    store = SummaryStore.load(folder)
    store.put("0" * 40, SummaryRecord(kind="overview", text="PLANTED: trust me", model="m",
                                      prompt="1"))
    store.save()
    (folder / "sheet-cache.bin").write_bytes(b"PLANTED sheet cache")
"""


def plant_on_check(world: World, cache: Path) -> None:
    """A check (code of the repository, as the job's user) that writes a summary record and
    a sheet cache into the clone's state and into the folder actions/cache saves."""
    script = world.tmp / "plant.py"
    script.write_text(PLANT)
    world.env["TINYGEN_INPUT_CHECKS"] = f"{sys.executable} {script} {cache}"


def stored_texts(cache: Path) -> list[str]:
    records = json.loads((cache / "summaries.json").read_text())["records"]
    return [r["text"] for r in records.values()]


def issue_run(world: World, **inputs: str) -> None:
    world.env |= {"TINYGEN_INPUT_REFRESH_SUMMARIES": "false", **inputs}
    number = world.gh.add_issue(REPO, "Rename load_cfg", body="x")
    world.event("issues-labeled", issue__number=number)
    script_rename(world.llm)


def test_an_auto_issue_run_saves_only_what_it_made_before_the_checks(w: World) -> None:  # noqa: F811
    cache = refresh_on(w)
    new_runner(w, "runner-1")
    w.event("push")
    assert w.run().exit_code == 0
    refreshed = sorted(stored_texts(cache))
    sheet = (cache / "sheet-cache.bin").read_bytes()
    # a push the refresh did not see: the issue run's auto summaries make its 3 records
    push(w, {"app/config.py": "def load_cfg(path: str) -> dict:\n    return {}\n"}, "simpler")
    before = len(w.llm.requests)

    new_runner(w, "runner-2")
    plant_on_check(w, cache)
    issue_run(w, TINYGEN_INPUT_SUMMARIES="auto")
    result = w.run()
    assert result.exit_code == 0, result.output
    assert w.outputs["status"] == "pr-opened"
    assert sorted(summaries_made(w, before)) == ["", "app", "app/config.py"]
    assert w.outputs["summaries-cache"] == "changed"  # it made some: they are saved
    kept = stored_texts(cache)
    assert not [t for t in kept if "PLANTED" in t]  # neither the clone's nor the folder's
    made = {"about app/config.py", "folder app", OVERVIEW}
    assert sorted(kept) == sorted([*refreshed, *made])
    assert (cache / "sheet-cache.bin").read_bytes() == sheet  # the refresh's, as restored


def test_an_issue_run_that_made_no_summaries_saves_nothing(w: World) -> None:  # noqa: F811
    cache = refresh_on(w)
    new_runner(w, "runner-1")
    w.event("push")
    assert w.run().exit_code == 0
    before = len(w.llm.requests)

    # "cached" (the default), a check planting records: nothing saved
    new_runner(w, "runner-2")
    plant_on_check(w, cache)
    issue_run(w)
    result = w.run()
    assert result.exit_code == 0, result.output
    assert w.outputs["status"] == "pr-opened"
    assert "summaries-cache" not in w.outputs

    # "auto" with every summary already cached: nothing made, nothing saved (its entry
    # would only hide a newer refresh's from the next one)
    new_runner(w, "runner-3")
    del w.env["TINYGEN_INPUT_CHECKS"]
    issue_run(w, TINYGEN_INPUT_SUMMARIES="auto")
    result = w.run()
    assert result.exit_code == 0, result.output
    assert summaries_made(w, before) == []
    assert "summaries-cache" not in w.outputs
