"""`tinygen serve` refuses unsafe or impossible setups before it listens, and `tinygen --help`
does not load the web framework."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tinygen.cli import cli
from tinygen.errors import ExitCode
from tinygen.server.config import is_loopback

TOKEN = "a-long-enough-random-token-0123456789"


def serve(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["serve", *args], env=env)
    return result.exit_code, result.output


def test_refuses_a_public_address_without_a_token() -> None:
    code, output = serve("--host", "0.0.0.0", env={"ANTHROPIC_API_KEY": "sk-ant-x"})
    assert code == ExitCode.CONFIG
    assert "refusing to listen on 0.0.0.0 without authentication" in output
    assert "TINYGEN_SERVER_TOKEN" in output


def test_refuses_a_short_token_and_never_prints_it() -> None:
    code, output = serve(env={"TINYGEN_SERVER_TOKEN": "hunter2-x", "ANTHROPIC_API_KEY": "k"})
    assert code == ExitCode.CONFIG and "too short" in output and "hunter2" not in output


def test_needs_an_api_key() -> None:
    code, output = serve("--host", "0.0.0.0", env={"TINYGEN_SERVER_TOKEN": TOKEN})
    assert code == ExitCode.CONFIG and "ANTHROPIC_API_KEY" in output and TOKEN not in output


def test_bad_database_path_is_a_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, output = serve(
        "--port", "0", "--db", str(blocker / "jobs.sqlite3"), env={"ANTHROPIC_API_KEY": "k"}
    )
    assert code == ExitCode.CONFIG and "cannot open the job database" in output


def test_a_database_url_is_checked_before_anything_listens(tmp_path: Path) -> None:
    env = {"ANTHROPIC_API_KEY": "k"}
    code, output = serve("--port", "0", "--database", "mysql://db/jobs", env=env)
    assert code == ExitCode.CONFIG and "postgresql://" in output and "--database" in output
    # From the environment too; nothing listens on that socket: named without its password.
    env["TINYGEN_DATABASE_URL"] = f"postgresql://u:pw-0123456@/jobs?host={tmp_path}&port=1"
    code, output = serve("--port", "0", env=env)
    assert code == ExitCode.CONFIG and "cannot open the job database" in output
    assert "pw-0123456" not in output and "--database" in output
    code, output = serve("--db", str(tmp_path / "x.sqlite3"), env=env)
    assert code == 2 and "--db and --database" in output


def test_several_keys_each_long_enough() -> None:
    env = {"TINYGEN_SERVER_TOKEN": f"{TOKEN},short-one", "ANTHROPIC_API_KEY": "k"}
    code, output = serve("--port", "0", "--db", "/nonexistent/x", env=env)
    assert code == ExitCode.CONFIG and "too short" in output and "short-one" not in output


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.4", False),
        ("example.com", False),
    ],
)
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_help_does_not_import_the_web_framework() -> None:
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from tinygen.cli import cli\n"
        "for args in (['--help'], ['serve', '--help']):\n"
        "    assert CliRunner().invoke(cli, args).exit_code == 0\n"
        "heavy = {'fastapi', 'uvicorn', 'starlette', 'pydantic', 'httpx'}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_tls_needs_both_files(tmp_path: Path) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("not used")
    code, output = serve(
        "--port", "0", "--db", str(tmp_path / "j.db"), "--ssl-certfile", str(cert),
        env={"ANTHROPIC_API_KEY": "k"},
    )  # fmt: skip
    assert code == ExitCode.CONFIG and "go together" in output
    assert "hint: set both, or neither (--ssl-certfile, --ssl-keyfile)" in output


def test_help_lists_the_operator_limits() -> None:
    code, output = serve("--help")
    assert code == 0
    for flag in ("--allow-model", "--allow-owner", "--max-rounds", "--budget", "--keep-days"):
        assert flag in output


def test_the_key_checked_is_the_one_each_allowed_model_needs(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    # a local model needs no key: start-up gets past the key check to the next refusal
    env = {"ANTHROPIC_API_KEY": "", "TINYGEN_MODEL": "ollama:llama3"}
    code, output = serve("--port", "0", "--db", str(blocker / "jobs.sqlite3"), env=env)
    assert code == ExitCode.CONFIG and "cannot open the job database" in output, output
    # an allowed OpenAI model without its key is refused, naming that key
    env = {"ANTHROPIC_API_KEY": "k", "OPENAI_API_KEY": ""}
    code, output = serve("--allow-model", "openai:gpt-5-mini", "--allow-model", "x", env=env)
    assert code == ExitCode.CONFIG and "OPENAI_API_KEY" in output, output
