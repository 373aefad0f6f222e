"""What to do about an event: open a pull request, push to one, or skip — and why.

:func:`decide` looks only at the event payload (no network). :func:`authorize` then asks
GitHub what the payload cannot be trusted to say: the actor's repository permission, whether
the triggering comment was edited since, and whether a pull request comes from a fork.
Every skip carries its reason; ``reply`` says whether the person deserves an answer on
GitHub (never bots, never tinygen itself, never bystanders whose comment did not ask).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from tinygen.action.event import Event
from tinygen.action.sanitize import sanitize, split_code
from tinygen.env import action_input
from tinygen.errors import ConfigError
from tinygen.github import ROLES, role_at_least

if TYPE_CHECKING:
    from tinygen.github import Forge

MARKER = "<!-- tinygen -->"  # in every comment tinygen writes: it never answers itself
MAX_REQUEST_CHARS = 100_000

Would = Literal["open_pr", "push_to_pr", "refresh_summaries", "skip"]
Trigger = Literal["label", "comment", "dispatch", "push"]
TargetKind = Literal["issue", "pr"]


@dataclass(frozen=True)
class ActionConfig:
    """The Action's own inputs (the pipeline's settings are read separately)."""

    label: str = "tinygen"
    trigger_phrase: str = "/tinygen"
    min_permission: str = "write"
    allowed_bots: tuple[str, ...] = ()
    base_branch: str | None = None
    draft: bool = True
    refresh_summaries: bool = False  # make the missing summaries on pushes to the default branch

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ActionConfig:
        def get(name: str) -> str:
            return action_input(env, name)

        min_permission = get("MIN_PERMISSION").lower() or "write"
        if min_permission not in ROLES or min_permission == "none":
            raise ConfigError(
                f"min-permission {min_permission!r} is not a repository role",
                hint="use one of: " + ", ".join(r for r in ROLES if r != "none"),
            )
        phrase = get("TRIGGER_PHRASE") or "/tinygen"
        if any(c.isspace() for c in phrase):
            raise ConfigError(
                f"trigger-phrase {phrase!r} contains whitespace", hint="use one word like /tinygen"
            )
        draft = get("DRAFT").lower() or "true"
        if draft not in ("true", "false"):
            raise ConfigError(f"draft must be true or false, not {draft!r}")
        refresh = get("REFRESH_SUMMARIES").lower() or "false"
        if refresh not in ("true", "false"):
            raise ConfigError(f"refresh-summaries must be true or false, not {refresh!r}")
        bots = re.split(r"[,\s]+", get("ALLOWED_BOTS"))
        return cls(
            label=get("LABEL") or "tinygen",
            trigger_phrase=phrase,
            min_permission=min_permission,
            allowed_bots=tuple(b.lower().removesuffix("[bot]") for b in bots if b),
            base_branch=get("BASE_BRANCH") or None,
            draft=draft == "true",
            refresh_summaries=refresh == "true",
        )


@dataclass(frozen=True)
class Decision:
    would: Would
    reason: str
    trigger: Trigger | None = None
    target: TargetKind | None = None
    number: int | None = None
    request: str = ""  # sanitized: what the model will read
    reply: bool = False  # a skip that deserves a short answer on GitHub

    def skip(self, reason: str, *, reply: bool = False) -> Decision:
        return replace(self, would="skip", reason=reason, reply=reply)

    def to_json(self, event: Event) -> dict[str, Any]:
        """The object ``tinygen action --dry-run`` prints (its keys are a public contract)."""
        return {
            "event": event.name,
            "action": event.action,
            "trigger": self.trigger,
            "target": self.target,
            "number": self.number,
            "actor": event.actor,
            "author_association": event.author_association,
            "request": self.request,
            "would": self.would,
            "reason": self.reason,
        }


# Markup or punctuation that may wrap the phrase: **/tinygen**, _/tinygen_, (/tinygen ...)
_OPENERS = "*_~([{\"'\u201c\u2018"
_CLOSERS = {"(": ")", "[": "]", "{": "}", "\u201c": "\u201d", "\u2018": "\u2019"}
_CLOSING_MARKUP = re.compile(r"^[*_~)\]}\"'\u201d\u2019]+")
_LEADING_PUNCTUATION = re.compile(r"^\s*[,:;.!?\u2014\u2013-]+(?=\s|$)")


def find_command(body: str, phrase: str) -> str | None:
    """The instruction after ``phrase`` in a comment, "" if none follows, or None when the
    comment does not contain the phrase as a whole word in its visible prose (not in code,
    a URL or a link target, a quoted line, an HTML comment or other hidden markup).
    Emphasis or brackets around the phrase and punctuation after it are not part of the
    instruction."""
    text = sanitize(body)
    masked = "".join(
        re.sub(r"[^\n]", " ", piece) if code else piece for code, piece in split_code(text)
    )
    masked = re.sub(r"(?m)^[ \t]*>.*$", lambda m: " " * len(m.group(0)), masked)
    openers = re.escape(_OPENERS)
    match = re.search(
        rf"(?<![^\s{openers}])(?<!\]\(){re.escape(phrase)}"
        r"(?:(?=[*_~]+(?!\w))|(?![\w/\-.:]*\w))",
        masked,
    )
    if match is None:
        return None
    start = match.start()
    while start > 0 and text[start - 1] in _OPENERS:
        start -= 1
    closing = "".join(_CLOSERS.get(c, c) for c in reversed(text[start : match.start()]))
    rest = _CLOSING_MARKUP.sub("", text[match.end() :])
    instruction = _LEADING_PUNCTUATION.sub("", rest).strip()
    first, newline, more = instruction.partition("\n")
    if closing and first.rstrip().endswith(closing):
        first = first.rstrip().removesuffix(closing).rstrip()
        instruction = f"{first}{newline}{more}".strip()
    return instruction


def is_bot(event: Event) -> bool:
    return event.actor_type.lower() == "bot" or event.actor.lower().endswith("[bot]")


def _bot_allowed(event: Event, config: ActionConfig) -> bool:
    return event.actor.lower().removesuffix("[bot]") in config.allowed_bots


def _issue_request(event: Event) -> str:
    title, body = sanitize(event.title), sanitize(event.body)
    return f"{title}\n\n{body}".strip()


def decide(event: Event, config: ActionConfig) -> Decision:
    """The decision from the payload alone."""
    skip = Decision("skip", "")
    if event.name == "issues":
        if event.action != "labeled":
            return skip.skip(
                f"issues/{event.action or '?'} events do not start tinygen; "
                f"add the label {config.label!r} to an issue"
            )
        if (event.label or "").casefold() != config.label.casefold():
            return skip.skip(f"the label added is {event.label!r}, not {config.label!r}")
        decision = Decision("open_pr", "", "label", "issue", event.number, _issue_request(event))
    elif event.name == "issue_comment":
        if event.action != "created":
            return skip.skip(
                f"issue_comment/{event.action or '?'} events do not start tinygen: only new "
                "comments do (an edited comment is ignored)"
            )
        if MARKER in event.comment_body:
            return skip.skip("the comment was written by tinygen itself")
        instruction = find_command(event.comment_body, config.trigger_phrase)
        if instruction is None:
            return skip.skip(
                f"the comment does not contain {config.trigger_phrase} as a command "
                "(outside code, quotes and links)"
            )
        target: TargetKind = "pr" if event.is_pull_request else "issue"
        decision = Decision("skip", "", "comment", target, event.number)
        if target == "pr":
            pr_text = _issue_request(event)
            request = (
                f"{instruction}\n\nThis change goes on top of pull request #{event.number}: "
                f"{pr_text}"
            )
            decision = replace(decision, would="push_to_pr", request=request)
            if not instruction:
                decision = decision.skip(
                    f"say what to change after {config.trigger_phrase}, for example "
                    f"`{config.trigger_phrase} add tests for the new parser`",
                    reply=True,
                )
        else:
            request = _issue_request(event)
            if instruction:
                request += f"\n\nInstruction from @{event.actor}:\n{instruction}"
            decision = replace(decision, would="open_pr", request=request)
    elif event.name == "push" and config.refresh_summaries:
        return _push(event)
    elif event.name == "workflow_dispatch":
        target_kind: TargetKind | None = "issue" if event.dispatch_issue else None
        decision = Decision(
            "open_pr",
            "",
            "dispatch",
            target_kind,
            event.dispatch_issue,
            sanitize(event.prompt or ""),
        )
        if not decision.request:
            return decision.skip("the workflow_dispatch input 'prompt' is empty or missing")
    else:
        return skip.skip(
            f"{event.name or 'this'} events do not start tinygen; it runs on issues (labeled), "
            "issue_comment (created) and workflow_dispatch"
            + (
                "; pushes refresh summaries with refresh-summaries: true"
                if event.name == "push"
                else ""
            )
        )

    if decision.would == "skip":
        return decision
    if is_bot(event) and not _bot_allowed(event, config):
        return decision.skip(
            f"{event.actor} is a bot; bots are ignored unless listed in allowed-bots"
        )
    if event.comment_created_at and event.comment_updated_at not in (
        None,
        event.comment_created_at,
    ):
        return decision.skip("the comment was edited after it was posted; comment again to run")
    if decision.trigger != "dispatch" and event.issue_state != "open":
        what = "pull request" if decision.target == "pr" else "issue"
        return decision.skip(f"the {what} #{event.number} is {event.issue_state}", reply=True)
    if decision.number is None and decision.trigger != "dispatch":
        return decision.skip("the event names no issue or pull request number")
    if len(decision.request) > MAX_REQUEST_CHARS:
        return decision.skip(
            f"the request has {len(decision.request)} characters (at most {MAX_REQUEST_CHARS}); "
            "shorten the issue or the comment",
            reply=True,
        )
    reasons = {
        "label": f"the issue was labeled {config.label!r}",
        "comment": f"{config.trigger_phrase} in a new comment",
        "dispatch": "workflow_dispatch with a prompt",
    }
    assert decision.trigger is not None
    return replace(decision, reason=reasons[decision.trigger])


def _push(event: Event) -> Decision:
    """A push with refresh-summaries on: refresh on the default branch, else nothing. Who
    pushed does not matter (they could push, and bots merge too): no request is read, the
    summaries describe the branch's own content."""
    decision = Decision("skip", "", "push")
    ref = event.ref or ""
    if not ref.startswith("refs/heads/"):
        return decision.skip(f"the push is of {ref or 'no ref'}, not a branch: nothing to refresh")
    branch = ref.removeprefix("refs/heads/")
    if event.deleted:
        return decision.skip(f"the push deleted the branch {branch}: nothing to refresh")
    if event.default_branch is None:
        return decision.skip("the push event does not name the repository's default branch")
    if branch != event.default_branch:
        return decision.skip(
            f"the push is to {branch}, not to the default branch {event.default_branch}: "
            "summaries are refreshed only there"
        )
    return replace(
        decision,
        would="refresh_summaries",
        reason=f"a push to the default branch {branch} with refresh-summaries on",
    )


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _refusal(
    decision: Decision, event: Event, config: ActionConfig, forge: Forge
) -> Decision | None:
    """A skip when the actor may not use tinygen, else None. A bot in allowed-bots is
    authorized by the list (an App's bot is no collaborator: it has no role to read)."""
    if is_bot(event):
        if _bot_allowed(event, config):
            return None
        return decision.skip(
            f"{event.actor} is a bot; bots are ignored unless listed in allowed-bots"
        )
    role = forge.permission(event.repository, event.actor)
    if not role_at_least(role, config.min_permission):
        return decision.skip(
            f"@{event.actor} has {role} permission on {event.repository}; tinygen needs "
            f"{config.min_permission} or higher to act",
            reply=True,
        )
    return None


def authorize(decision: Decision, event: Event, config: ActionConfig, forge: Forge) -> Decision:
    """Checks that need the API (reads only). Returns ``decision`` or a skip.

    The permission comes first, also for a skip that would be answered (closed issue, no
    instruction, ...): tinygen answers only people allowed to use it, so nobody else can
    make it comment. A summary refresh reads no request and answers nobody: nothing to check."""
    if decision.would == "refresh_summaries":
        return decision
    if decision.would == "skip":
        if not decision.reply or is_bot(event):  # never an answer to a bot
            return replace(decision, reply=False)
        return _refusal(decision, event, config, forge) or decision
    refusal = _refusal(decision, event, config, forge)
    if refusal is not None:
        return refusal
    if decision.trigger == "comment" and event.comment_id and decision.number:
        created = _parse_time(event.comment_created_at)
        current = forge.get_comment(event.repository, event.comment_id)
        if current is None:
            return decision.skip("the triggering comment has been deleted")
        if created is not None and current.updated_at > created:
            return decision.skip(
                "the comment was edited after it triggered this run; comment again to run"
            )
    if decision.target == "pr" and decision.number:
        pull = forge.pull(event.repository, decision.number)
        if pull.is_fork:
            return decision.skip(
                f"pull request #{decision.number} comes from a fork "
                f"({pull.head_repo_full_name or 'deleted'}); tinygen can push only to branches "
                "of this repository. Ask for the change on an issue instead, and tinygen opens "
                "its own pull request",
                reply=True,
            )
    return decision


__all__ = [
    "MARKER",
    "ActionConfig",
    "Decision",
    "authorize",
    "decide",
    "find_command",
    "is_bot",
]
