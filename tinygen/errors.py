"""The one exception tree of tinygen.

Every error names the problem and what to do about it, and carries the process exit code
the CLI uses for it::

    TinygenError                 1  unexpected failure (a bug: please report it)
    ├── InputError               2  an input over its size cap, or nested too deeply
    ├── OptionsError             2  settings that do not go together (`force` without `apply`)
    ├── ConfigError              6  bad settings, missing API key, bad config file
    ├── RepoError                8  not a git repository, git failed, dirty files, bad ref
    │   ├── RepoAuthError        8    the git host refused our credentials
    │   ├── RepoNotFoundError    8    no repository at that URL (or no access to it)
    │   ├── RefNotFoundError     8    the branch, tag or commit does not exist
    │   ├── RepoTooLargeError    8    over a size limit (the HTTP service's clone limit)
    │   └── RepoNetworkError     8    the network or the git host failed (not the request)
    ├── PatchError               5  a diff that cannot be parsed or placed exactly
    │   ├── PatchParseError      5    malformed input: empty, no hunks, binary
    │   └── PatchApplyError      5    a hunk that does not fit, or fits in several places
    ├── PathPolicyError          5  a path outside the repository, in .git/, or protected
    ├── ValidationError          5  the validation gate refused the final diff
    ├── LLMError                 7  the model API failed or answered unusably
    │   ├── LLMAuthError         7    missing or invalid API key
    │   ├── LLMCreditsError      7    the account is out of credits (402: never retried)
    │   ├── LLMConnectionError   7    the endpoint cannot be reached (refused, DNS, TLS)
    │   ├── LLMNotFoundError     7    unknown model
    │   ├── LLMOverloadedError   7    rate limited / overloaded after retries
    │   ├── LLMContextError      7    prompt too long for the model
    │   ├── LLMTimeoutError      7    no answer in time
    │   └── LLMOutputError       7    output that does not match the required form
    ├── ForgeError               9  GitHub API failure (permission, not found, rate limit)
    ├── BudgetExceeded          11  the next model call could pass the cost limit (`max_cost`)
    └── Cancelled              130  the run was interrupted (Ctrl-C, SIGTERM, a cancelled job)

Exit codes that are outcomes rather than errors (see ExitCode below): 0 success,
2 usage error (click), 3 no change needed, 4 unapproved after the last verify round,
10 a configured check failed, 11 the run stopped at its cost limit (status
``budget_exceeded``: the best valid diff so far is kept), 12 the repository's CI failed on
the pushed commit, 13 it had not finished when the wait for it ended.

Structured payloads travel on the exception, never inside its text: ``run_id`` (the run
record), ``saved_diff`` (the path of a diff saved before the failure), ``partial`` (what a
failed run got done: usage, files), ``PatchApplyError.failures`` (one typed entry per hunk
that did not place), ``settings`` (the settings or run inputs a hint names, such as
``jobs`` or ``ref``). Front ends word them; nobody parses a message back.

Library text names settings, never a front end's spelling of them: a hint says "lower
`jobs`" and carries ``settings=("jobs",)``; the CLI adds ``--jobs``, the HTTP service the
request field, the Action its input.

Messages must never contain secrets: build them from our own values, and pass foreign
text through :func:`tinygen.redact.redact` first.
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tinygen.models import RunResult
    from tinygen.patch.model import HunkFailure


class ExitCode(IntEnum):
    """Process exit codes, documented in README.md ("Exit codes")."""

    OK = 0
    INTERNAL = 1
    USAGE = 2
    NO_CHANGE = 3
    UNAPPROVED = 4
    PATCH = 5
    CONFIG = 6
    LLM = 7
    REPO = 8
    FORGE = 9
    CHECKS_FAILED = 10
    BUDGET_EXCEEDED = 11
    CI_FAILED = 12
    CI_TIMED_OUT = 13
    INTERRUPTED = 130


class TinygenWarning(UserWarning):
    """Something worth telling the user that does not stop the command (a cache that
    could not be read): front ends print it as one line, ``tinygen: warning: ...``."""


class TinygenError(Exception):
    """Base of all tinygen errors. ``hint`` says what the user can do about it; ``run_id``
    is set when the error ended a recorded run, so every failure can name its record;
    ``saved_diff`` names the file holding the diff the run had made before it failed (the
    work is not lost); ``partial`` is what the failed run got done (a FAILED RunResult:
    the diff so far, usage and cost already spent, files edited); ``settings`` are the
    settings (or run inputs: ``repo``, ``ref``) the hint names, so each front end can say
    how to set them."""

    exit_code: ExitCode = ExitCode.INTERNAL

    def __init__(
        self, message: str, *, hint: str | None = None, settings: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.settings = settings
        self.run_id: str | None = None
        self.saved_diff: str | None = None
        self.partial: RunResult | None = None

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


class InputError(TinygenError):
    """An input refused before it is read whole or parsed: over its documented size cap
    (a patch, a request, an event file, a JSON document) or nested too deeply. Exit 2, as
    a command line's usage errors."""

    exit_code = ExitCode.USAGE


class OptionsError(TinygenError):
    """Options that do not go together, refused before anything runs (exit 2, as a command
    line's usage errors). ``option`` is the one refused; ``needs`` lists what it goes with
    (one of them is enough), ``conflicts`` what was given with it and cannot be; ``why`` says
    what ``option`` does that rules them out. Each front end words them as it spells them
    (the CLI: "--force goes with --apply")."""

    exit_code = ExitCode.USAGE

    def __init__(
        self,
        message: str,
        *,
        option: str,
        needs: tuple[str, ...] = (),
        conflicts: tuple[str, ...] = (),
        why: str | None = None,
    ) -> None:
        super().__init__(message, settings=(option, *needs, *conflicts))
        self.option = option
        self.needs = needs
        self.conflicts = conflicts
        self.why = why


class ConfigError(TinygenError):
    exit_code = ExitCode.CONFIG


class RepoError(TinygenError):
    exit_code = ExitCode.REPO


class RepoAuthError(RepoError):
    """The git host refused the credentials (or asked for some we do not have)."""


class RepoNotFoundError(RepoError):
    """No repository at that address, or none this token can see."""


class RefNotFoundError(RepoError):
    """The branch, tag or commit named does not exist (locally or on the remote)."""


class RepoTooLargeError(RepoError):
    """The repository is over a size limit."""


class RepoNetworkError(RepoError):
    """The network or the git host failed: the request itself may be fine (try again)."""


class PatchError(TinygenError):
    exit_code = ExitCode.PATCH


class PatchParseError(PatchError):
    pass


class PatchApplyError(PatchError):
    """A diff whose hunks could not all be placed.

    ``feedback`` is text written for a model (and a person): the lines that did not
    match, the closest real lines, and which hunks did apply.
    """

    def __init__(
        self,
        message: str,
        *,
        feedback: str = "",
        hint: str | None = None,
        settings: tuple[str, ...] = (),
        failures: tuple[HunkFailure, ...] = (),
    ) -> None:
        super().__init__(message, hint=hint, settings=settings)
        self.feedback = feedback
        self.failures = failures


class PathPolicyError(TinygenError):
    exit_code = ExitCode.PATCH


class ValidationError(TinygenError):
    exit_code = ExitCode.PATCH


class LLMError(TinygenError):
    exit_code = ExitCode.LLM


class LLMAuthError(LLMError):
    pass


class LLMCreditsError(LLMError):
    """The account behind the key has no credits left (HTTP 402, OpenAI's insufficient_quota)."""


class LLMConnectionError(LLMError):
    """The model's endpoint cannot be reached: nothing listens there, or the name or TLS fails."""


class LLMNotFoundError(LLMError):
    pass


class LLMOverloadedError(LLMError):
    pass


class LLMContextError(LLMError):
    pass


class LLMTimeoutError(LLMError):
    pass


class LLMOutputError(LLMError):
    pass


class ForgeError(TinygenError):
    exit_code = ExitCode.FORGE


class BudgetExceeded(TinygenError):
    """A model call was not made because its worst case could pass the cost limit.

    ``limit``, ``spent`` and ``needed`` (the refused call's worst case) are US dollars. The
    orchestrator turns it into the status ``budget_exceeded`` with the best valid diff so
    far; it escapes as an error only from code that runs no pipeline."""

    exit_code = ExitCode.BUDGET_EXCEEDED

    def __init__(self, message: str, *, limit: float, spent: float, needed: float) -> None:
        super().__init__(message, hint="raise `max_cost`", settings=("max_cost",))
        self.limit = limit
        self.spent = spent
        self.needed = needed


class Cancelled(TinygenError):
    exit_code = ExitCode.INTERRUPTED
