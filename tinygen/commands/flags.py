"""How the command line spells what a library hint names: the setting ``jobs`` is ``--jobs``.

Library errors name settings and run inputs, and list them in ``TinygenError.settings``;
the CLI adds its own spelling when it prints the hint. The same hint then reads right in an
HTTP answer or a status comment, and a command-line user still sees the flag to use.
"""

from __future__ import annotations

from tinygen.config import Settings
from tinygen.errors import OptionsError, TinygenError

# Setting or run input -> the flag that sets it (on the commands that take it). A setting
# without a flag is set with its TINYGEN_* environment variable.
FLAGS: dict[str, str] = {
    "repo": "--repo",
    "ref": "--ref",
    "model": "--model",
    "budget": "--budget",
    "jobs": "--jobs",
    "max_rounds": "--max-rounds",
    "checks": "--check",
    "vote": "--vote",
    "max_cost": "--max-cost",
    "max_file_bytes": "--max-file-bytes",
    "include_untracked": "--include-untracked",
    "branch": "--branch",
    "push": "--push",
    "pr": "--pr",
    "to_pr": "--to-pr",
    "base": "--base",
    "ready": "--ready",
    "issue": "--issue",
    "wait_checks": "--wait-checks",
    "fix_checks": "--fix-checks",
    "force": "--force",
    "apply": "--apply",
    # `tinygen serve` (ServerConfig)
    "db_path": "--db",
    "database_url": "--database",
    "lease_seconds": "--lease-seconds",
    "max_key_spend": "--max-key-spend",
    "ssl_certfile": "--ssl-certfile",
    "ssl_keyfile": "--ssl-keyfile",
    "max_prompt_chars": "--max-prompt-chars",
    "max_repo_bytes": "--max-repo-mb",
    "allow_checks": "--allow-checks",
    "allowed_models": "--allow-model",
}


def spelled(names: tuple[str, ...]) -> list[str]:
    """The command line's words for ``names``: flags, else TINYGEN_* variables."""
    settings = set(Settings.__dataclass_fields__)
    words = []
    for name in names:
        if name in FLAGS:
            words.append(FLAGS[name])
        elif name in settings:
            words.append("TINYGEN_" + name.upper())
    return list(dict.fromkeys(words))


def error_text(exc: TinygenError) -> str:
    """The message and its hint, the hint followed by the flags it refers to."""
    if not exc.hint:
        return exc.message
    words = spelled(exc.settings)
    return f"{exc.message}\n  hint: {exc.hint}" + (f" ({', '.join(words)})" if words else "")


def options_text(exc: OptionsError) -> str:
    """Options that do not go together, in flags: "--force goes with --apply", "--to-pr
    pushes to the pull request's branch: drop --pr". (An option without a flag, one of the
    Action's, keeps its name.)"""
    option = FLAGS.get(exc.option, f"`{exc.option}`")
    if exc.needs:
        needs = [FLAGS.get(n, f"`{n}`") for n in exc.needs]
        listed = needs[0] if len(needs) == 1 else f"{', '.join(needs[:-1])} or {needs[-1]}"
        return f"{option} goes with {listed}"
    drop = "/".join(FLAGS.get(n, f"`{n}`") for n in exc.conflicts)
    return f"{option} {exc.why or 'does not go with them'}: drop {drop}"


__all__ = ["FLAGS", "error_text", "options_text", "spelled"]
