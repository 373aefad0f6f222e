from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

import tinygen
from tinygen.cli import COMMANDS, cli


def test_version_flag() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert tinygen.__version__ in result.output


def test_help_lists_every_registered_command() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.output


def test_every_registered_command_imports_and_has_help() -> None:
    for name in COMMANDS:
        result = CliRunner().invoke(cli, [name, "--help"])
        assert result.exit_code == 0, (name, result.output)


def test_help_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys\n"
        "from tinygen.cli import cli\n"
        "try:\n    cli(['--help'], prog_name='tinygen')\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('anthropic', 'github', 'git', 'tree_sitter', 'unidiff', 'pydantic', 'httpx')"
        " if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert "HEAVY=\n" in out, out


def test_python_dash_m_works() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tinygen", "--version"], capture_output=True, text=True
    )
    assert proc.returncode == 0
    assert tinygen.__version__ in proc.stdout


def test_public_names_are_exported() -> None:
    for name in tinygen.__all__:
        assert hasattr(tinygen, name)
