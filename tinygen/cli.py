"""The `tinygen` command line.

Subcommands live in ``tinygen/commands/`` and are imported only when invoked, so
``tinygen --help`` stays fast and never loads anthropic, github or tree-sitter.
"""

from __future__ import annotations

import importlib
import io
import os
import signal
import sys
import warnings
from typing import Any

import click

from tinygen import __version__
from tinygen.commands._terminal import terminal_streams
from tinygen.commands.flags import error_text
from tinygen.errors import ExitCode, TinygenError, TinygenWarning
from tinygen.redact import redact

# name -> (module:attribute, one-line help shown by `tinygen --help`)
COMMANDS: dict[str, tuple[str, str]] = {
    "action": ("tinygen.commands.action:command", "Handle a GitHub Actions event (the Action)."),
    "apply": ("tinygen.commands.apply:command", "Apply a loose diff exactly, or refuse."),
    "compare": (
        "tinygen.commands.compare:command",
        "Run one request with several models and rank what they did.",
    ),
    "doctor": (
        "tinygen.commands.doctor:command",
        "Check that models can run tinygen (key, tools, JSON, real context).",
    ),
    "map": ("tinygen.commands.map:command", "Print the repository's reference sheet."),
    "run": ("tinygen.commands.run:command", "Turn a change request into a validated diff."),
    "runs": ("tinygen.commands.runs:command", "List recorded runs, or show one."),
    "serve": ("tinygen.commands.serve:command", "Serve the HTTP API (repoUrl + prompt -> diff)."),
    "summarize": (
        "tinygen.commands.summarize:command",
        "Summarize files, folders and the repository (cached by content).",
    ),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use, and that maps our errors to exit codes."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *COMMANDS])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS:
            target, _ = COMMANDS[cmd_name]
            module_name, attr = target.split(":")
            command: click.Command = getattr(importlib.import_module(module_name), attr)
            return command
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in sorted(COMMANDS)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        # model output, file names, checks' output: text on a terminal, never escape codes
        with terminal_streams(), warnings.catch_warnings():
            warnings.simplefilter("always", TinygenWarning)  # each one said, once per event
            warnings.showwarning = _show_warning
            return self._invoke(ctx)

    def _invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TinygenError as exc:
            click.echo(redact(f"tinygen: error: {error_text(exc)}"), err=True)
            if exc.saved_diff:
                click.echo(f"tinygen: the diff is saved in {exc.saved_diff}", err=True)
            if exc.run_id:
                click.echo(
                    f"tinygen: run {exc.run_id} (`tinygen runs show {exc.run_id}`)", err=True
                )
            ctx.exit(int(exc.exit_code))
        except KeyboardInterrupt:
            click.echo("tinygen: interrupted; nothing was changed", err=True)
            ctx.exit(int(ExitCode.INTERRUPTED))


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="tinygen")
def cli() -> None:
    """tinygen turns a change request into a validated git diff, and on request a pull request.

    \b
    Exit codes: 0 ok, 1 internal error, 2 usage, 3 no change needed, 4 unapproved,
    5 patch/validation refused, 6 configuration, 7 LLM/API, 8 repository/git,
    9 GitHub, 10 a check failed, 11 cost limit reached, 130 interrupted.
    """


_python_showwarning = warnings.showwarning


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    """Our warnings as one line on stderr, without Python's source location."""
    if issubclass(category, TinygenWarning):
        click.echo(redact(f"tinygen: warning: {message}"), err=True)
    else:
        _python_showwarning(message, category, filename, lineno, file, line)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _internal_error(exc: Exception) -> int:
    """Say that tinygen failed unexpectedly, where the traceback is, and return exit 1."""
    import tempfile
    import traceback

    trace = redact("".join(traceback.format_exception(exc)))
    where = ""
    try:
        fd, path = tempfile.mkstemp(prefix="tinygen-crash-", suffix=".txt")
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as fh:
            fh.write(trace)
        where = f"; the traceback is in {path}"
    except OSError:
        pass
    detail = redact(str(exc)).splitlines()[0][:300] if str(exc).strip() else ""
    click.echo(
        f"tinygen: internal error: {type(exc).__name__}" + (f": {detail}" if detail else ""),
        err=True,
    )
    click.echo(
        f"  hint: this is a bug in tinygen: please report it{where} "
        "(TINYGEN_DEBUG=1 prints the traceback)",
        err=True,
    )
    return int(ExitCode.INTERNAL)


def main() -> None:
    # SIGTERM (a CI job cancelled, `kill`) cleans up like Ctrl-C: temporary worktrees are
    # removed and the run record says it was interrupted.
    signal.signal(signal.SIGTERM, _interrupt)
    # Text we print may hold what no encoding can write (a lone surrogate from a JSON
    # escape, an undecodable file name): escape it rather than end with a traceback.
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")
    try:
        cli(prog_name="tinygen", standalone_mode=True)
    except Exception as exc:  # not one of ours: a bug; one line, the traceback in a file
        if os.environ.get("TINYGEN_DEBUG"):
            raise
        sys.exit(_internal_error(exc))
    except SystemExit as exc:
        if exc.code == ExitCode.INTERRUPTED:
            # Worker threads may still wait on an HTTP answer; everything that matters is
            # cleaned up already, so do not wait for them.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(int(ExitCode.INTERRUPTED))
        raise


__all__ = ["COMMANDS", "ExitCode", "cli", "main"]

if __name__ == "__main__":  # pragma: no cover
    main()
