"""Terminal control characters from model output never reach git history, GitHub or a
terminal (issue 12 item 10): a plan, notes and review full of escape sequences (retitle the
terminal, clear it, a carriage return, a one-byte CSI, a bidi override) go through a real
run with --pr; the commit message, the pull request's title and body, the status comment,
the Action's log and the CLI's stderr hold the words and none of the controls. The diff is
data: exact when redirected, shown as escapes on a terminal (a real pty). Real git, the
real CLI, the real anthropic SDK and PyGithub against the local fakes."""

from __future__ import annotations

import io
import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from tests.fakes.anthropic_server import FakeAnthropic, ToolReply
from tests.fakes.github_server import FakeGitHub
from tests.helpers import git
from tests.test_delivery_cli import FILES, REPO, github_env  # noqa: F401 (conftest's pair and gh read them)
from tinygen.action.outputs import StepIO
from tinygen.action.status import compose
from tinygen.cli import cli
from tinygen.errors import ExitCode
from tinygen.redact import printable, visible

PLAN, EDIT, VERIFY = "submit_plan", "write_file_change", "submit_review"
TITLE = "\x1b]0;pwned\x07Make \x1b[2Janswer return 42"
SUMMARY = "\x1b[31manswer()\x1b[0m returns 42.\rOVERWRITTEN \u202eevil\u202c \x9b31m"
INTENT = "Return\x07 42.\x1b[1A"
NOTES = "changed\x1b]2;title\x07 the constant"
REVIEW = "Right\x1b]0;again\x07 and \x08done."
# a file's own content may hold an ESC: that is data, kept exactly in the diff
EDIT_APP = (
    "--- a/app.py\n+++ b/app.py\n@@ @@\n def answer() -> int:\n-    return 41\n"
    '+    return 42  # "\x1b[1m" stays in the file\n'
)
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def script(fake: FakeAnthropic) -> None:
    plan = {
        "summary": SUMMARY,
        "title": TITLE,
        "files": [{"path": "app.py", "action": "modify", "intent": INTENT}],
    }
    fake.on(PLAN, lambda _r: ToolReply(plan))
    fake.on(EDIT, lambda _r: ToolReply({"diff": EDIT_APP, "notes": NOTES}))
    fake.on(VERIFY, lambda _r: ToolReply({"approved": True, "summary": REVIEW, "revisions": []}))


def env_for(fake: FakeAnthropic, extra: dict[str, str] | None = None) -> dict[str, str]:
    return {"ANTHROPIC_API_KEY": fake.api_key, "ANTHROPIC_BASE_URL": fake.base_url, **(extra or {})}


def test_run_with_pr_keeps_the_words_and_drops_the_controls(
    fake: FakeAnthropic,
    pair: tuple[Path, Path],
    gh: FakeGitHub,
) -> None:
    repo, _bare = pair
    script(fake)
    result = CliRunner().invoke(
        cli,
        ["run", "Make answer() return 42", "--repo", str(repo), "--pr"],
        env=env_for(fake, github_env(gh)),
        catch_exceptions=False,
    )
    assert result.exit_code == ExitCode.OK, result.stderr
    # stderr: messages for a person
    assert not CONTROL.search(result.stderr), repr(result.stderr)
    assert "Right]0;again and done." in result.stderr  # the review, as text
    # stdout: the diff is data, exact when redirected (a pipe, a file)
    assert '"\x1b[1m" stays in the file' in result.stdout
    # git history
    [pull] = gh.pulls(REPO)
    message = git(repo, "log", "-1", "--format=%B", f"origin/{pull['head_ref']}")
    assert not CONTROL.search(message.replace("\n", "")), repr(message)
    assert "Make [2Janswer return 42" in message and "returns 42.OVERWRITTEN" in message
    # GitHub
    for text in (pull["title"], pull["body"]):
        assert not CONTROL.search(text.replace("\n", "")), repr(text)
    assert pull["title"].startswith("]0;pwnedMake ")
    assert "changed]2;title the constant" in pull["body"]  # the file's notes
    # the change itself is unchanged: the ESC in the file's line is committed as written
    shown = git(repo, "show", f"origin/{pull['head_ref']}:app.py")
    assert '"\x1b[1m" stays in the file' in shown


def test_comments_and_the_actions_log_hold_no_controls() -> None:
    body = compose(f"✅ **tinygen** opened a pull request: {TITLE}\n\n- Review: {REVIEW}")
    assert not CONTROL.search(body.replace("\n", "")) and "[2Janswer return 42" in body
    stream = io.StringIO()
    step = StepIO({}, stream)
    step.log(f"plan: {TITLE}")
    step.annotate("error", f"failed: {SUMMARY}")
    written = stream.getvalue()
    assert not CONTROL.search(written.replace("\n", "")), repr(written)
    assert "::error title=tinygen::failed:" in written and "returns 42.OVERWRITTEN" in written


def test_printable_and_visible() -> None:
    text = "a\x1b]0;t\x07b\r\nc\rd\x9b1m\u202ee\tf\x00"
    assert printable(text) == "a]0;tb\ncd1me\tf"
    assert visible(text) == "a\\x1b]0;t\\x07b\r\nc\\x0dd\\x9b1m\\u202ee\tf\\x00"


def test_on_a_terminal_a_diff_shows_its_controls_as_escapes(
    fake: FakeAnthropic,
    pair: tuple[Path, Path],
) -> None:
    """`tinygen runs show` on a real pseudo-terminal: the record's texts and the diff arrive
    as text; the ESC in the diff's line is shown as \\x1b, not sent to the terminal."""
    repo, _bare = pair
    script(fake)
    made = CliRunner().invoke(
        cli, ["run", "Make answer() return 42", "--repo", str(repo), "--json"], env=env_for(fake)
    )
    assert made.exit_code == ExitCode.OK, made.stderr
    run_id = json.loads(made.stdout)["run_id"]
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tinygen", "runs", "--repo", str(repo), "show", run_id],
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
        env={**os.environ, "TERM": "xterm"},
    )
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the process is done
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    assert proc.wait(60) == 0, seen.decode("utf-8", "replace")
    shown = seen.decode("utf-8", "replace")
    assert "\x1b" not in shown and "\x07" not in shown and "\u202e" not in shown, repr(shown)
    assert '"\\x1b[1m" stays in the file' in shown  # the diff's ESC, made visible
    assert "Return\\x07 42.\\x1b[1A" in shown  # the plan's intent, its controls shown
