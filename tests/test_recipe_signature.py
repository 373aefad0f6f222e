"""The "signature to function" recipe (docs/models.md): tinygen writes a function from its
signature, and a type checker's failures drive the revision rounds — with Anthropic, an
OpenAI-compatible model, and a small local model that answers in plain JSON."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.fakes.anthropic_server import FakeAnthropic, ToolReply
from tests.fakes.openai_server import FakeOpenAI
from tests.test_pipeline_e2e import EDIT, PLAN, VERIFY, approve, file_of, model_env, plan
from tinygen.cli import cli
from tinygen.errors import ExitCode

REQUEST = "Implement def fibonacci(n: int) -> int in mathx.py"

WRONG = (
    "def fibonacci(n: int) -> int:\n"
    '    """The n-th Fibonacci number (fibonacci(0) == 0)."""\n'
    "    a, b = 0, 1\n"
    "    for _ in range(n):\n"
    "        a, b = b, a + b\n"
    "    return str(a)\n"
)
RIGHT = WRONG.replace("return str(a)", "return a")
STUB = "def fibonacci(n: int) -> int:\n    raise NotImplementedError\n"
# A revision changes the file written in round 1: a diff, as models write them.
FIX = (
    "--- a/mathx.py\n+++ b/mathx.py\n@@ @@\n"
    "         a, b = b, a + b\n-    return str(a)\n+    return a\n"
)
FILL_STUB = (
    "--- a/mathx.py\n+++ b/mathx.py\n@@ @@\n def fibonacci(n: int) -> int:\n"
    "-    raise NotImplementedError\n" + "".join(f"+{line}\n" for line in WRONG.splitlines()[1:])
)


@pytest.fixture(scope="module")
def check(tmp_path_factory: pytest.TempPathFactory) -> str:
    """`python -m mypy mathx.py`, with one cache for this module's runs (outside the
    checkouts): a cold mypy spends about 1 s of CPU on the standard library's stubs, a warm
    one 0.2 s. Each checkout's mathx.py is still checked afresh: what mypy reports about it
    is the same, cache or not (the cache is keyed by each file's size, time and hash)."""
    cache = tmp_path_factory.mktemp("mypy-cache")
    return f"{sys.executable} -m mypy --cache-dir {cache} mathx.py"


@pytest.fixture(params=["anthropic", "openai", "ollama-json"])
def fake(request: pytest.FixtureRequest) -> Iterator[FakeAnthropic | FakeOpenAI]:
    servers: dict[str, Callable[[], FakeAnthropic | FakeOpenAI]] = {
        "anthropic": FakeAnthropic,
        "openai": FakeOpenAI,
        # a small local model behind a server without tools or JSON schema
        "ollama-json": lambda: FakeOpenAI(api_key=None, tools=False, json_schema=False),
    }
    with servers[request.param]() as server:
        yield server


def env_for(fake: FakeAnthropic | FakeOpenAI) -> dict[str, str]:
    if isinstance(fake, FakeOpenAI) and fake.api_key is None:
        return {"OLLAMA_HOST": fake.host, "TINYGEN_MODEL": "ollama:qwen2.5-coder:7b"}
    return model_env(fake)


@pytest.mark.parametrize(
    ("fake", "start"),
    [("anthropic", "empty"), ("openai", "empty"), ("ollama-json", "empty"), ("openai", "stub")],
    indirect=["fake"],
)
def test_signature_to_function_with_type_checker_rounds(
    fake: FakeAnthropic | FakeOpenAI, make_repo: Callable[..., Path], start: str, check: str
) -> None:
    files = {"README.md": "# maths\n"} | ({"mathx.py": STUB} if start == "stub" else {})
    repo = make_repo(files)
    action = "modify" if start == "stub" else "create"
    fake.script(PLAN, plan(("mathx.py", action, "Write fibonacci(n) -> int.")))
    # Round 1 returns a str; mypy's complaint must reach round 2, which fixes it.
    first = {"content": WRONG} if start == "empty" else {"diff": FILL_STUB}
    fake.script(EDIT, ToolReply(first), ToolReply({"diff": FIX}))
    fake.on(VERIFY, lambda request: approve("Implements fibonacci."))  # a careless reviewer

    result = CliRunner().invoke(
        cli,
        ["run", REQUEST, "--repo", str(repo), "--check", check, "--json"],
        env={**env_for(fake), "TINYGEN_MAX_RETRY_WAIT": "0.05"},
        catch_exceptions=False,
    )

    assert result.exit_code == ExitCode.OK, result.output
    data = json.loads(result.stdout)
    assert data["status"] == "approved" and data["rounds"] == 2
    assert data["checks"][0]["exit_code"] == 0  # the final tree type-checks
    assert "+    return a\n" in data["diff"] and "str(a)" not in data["diff"]
    edits = fake.requests_for(EDIT)
    assert [file_of(r) for r in edits] == ["mathx.py", "mathx.py"]
    feedback = edits[1].text
    assert (
        "mypy" in feedback
        and 'Incompatible return value type (got "str", expected "int")' in feedback
    )
    assert fake.pending() == {}


@pytest.mark.parametrize("fake", ["ollama-json"], indirect=True)
def test_check_that_keeps_failing_ends_checks_failed(
    fake: FakeAnthropic | FakeOpenAI, make_repo: Callable[..., Path], check: str
) -> None:
    repo = make_repo({"README.md": "# maths\n"})
    fake.script(PLAN, plan(("mathx.py", "create", "Write fibonacci(n) -> int.")))
    wrong_again = (
        "--- a/mathx.py\n+++ b/mathx.py\n@@ @@\n-    a, b = 0, 1\n+    a, b = 0, 1  # start\n"
    )
    fake.script(EDIT, ToolReply({"content": WRONG}))
    fake.on(EDIT, lambda request: ToolReply({"diff": wrong_again}))
    fake.on(VERIFY, lambda request: approve())
    result = CliRunner().invoke(
        cli,
        ["run", REQUEST, "--repo", str(repo), "--check", check, "--max-rounds", "2"],
        env=env_for(fake),
        catch_exceptions=False,
    )
    assert result.exit_code == ExitCode.CHECKS_FAILED, result.output
    assert "+    return str(a)" in result.stdout  # the best diff is still printed
    assert len(fake.requests_for(EDIT)) == 2  # one revision per round, then it stops
