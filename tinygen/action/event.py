"""The triggering GitHub event, read from GITHUB_EVENT_NAME and the JSON at GITHUB_EVENT_PATH.

Only the fields tinygen decides on are kept, typed, in :class:`Event`. Everything here is
untrusted text from the payload; it is sanitized later, before it reaches the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tinygen import safejson
from tinygen.env import workflow_repository
from tinygen.errors import ConfigError
from tinygen.inputs import MAX_EVENT_BYTES, read_file


@dataclass(frozen=True)
class Event:
    name: str  # issues, issue_comment, workflow_dispatch, push, ...
    action: str  # labeled, created, ... ("" when the event has none)
    repository: str  # owner/name
    actor: str  # who caused it: the labeler, the commenter, the dispatcher
    actor_type: str  # "User" or "Bot"
    # the comment author's association, as GitHub reports it; None for other events (a
    # labeled issue's payload has only the issue author's, and the actor is the labeler)
    author_association: str | None
    number: int | None = None  # the issue or pull request
    is_pull_request: bool = False
    issue_state: str = "open"
    title: str = ""
    body: str = ""
    label: str | None = None  # the label just added (issues.labeled)
    comment_id: int | None = None
    comment_body: str = ""
    comment_created_at: str | None = None
    comment_updated_at: str | None = None
    prompt: str | None = None  # workflow_dispatch input
    dispatch_issue: int | None = None  # workflow_dispatch input "issue"
    ref: str | None = None  # workflow_dispatch: the branch it ran on; push: the ref pushed
    default_branch: str | None = None  # the repository's, as the payload names it
    deleted: bool = False  # push: the ref was deleted


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, str) and value.strip().lstrip("#").isdigit():
        number = int(value.strip().lstrip("#"))
        return number if number > 0 else None
    return None


def _dispatch_issue(name: str, value: Any) -> int | None:
    """The workflow_dispatch input ``issue``: empty (no issue) or an issue number (``12``,
    ``#12``); anything else is refused, not dropped: the run must not go ahead without the
    issue the person meant."""
    if (
        name != "workflow_dispatch"
        or value is None
        or (isinstance(value, str) and not value.strip())
    ):
        return None
    number = _int(value)
    if number is None:
        shown = (
            repr(value)[:40] if isinstance(value, str) else f"{type(value).__name__} {value!r:.40}"
        )
        raise ConfigError(
            f"the workflow_dispatch input 'issue' is {shown}, not an issue number",
            hint="give the issue's number (like 12 or #12), or leave it empty to run without one",
        )
    return number


def parse_event(name: str, payload: Mapping[str, Any], repository: str = "") -> Event:
    """An :class:`Event` from the event name and its webhook payload."""
    sender = _dict(payload.get("sender"))
    repository_data = _dict(payload.get("repository"))
    repo = _str(repository_data.get("full_name")) or repository
    issue = _dict(payload.get("issue"))
    comment = _dict(payload.get("comment"))
    inputs = _dict(payload.get("inputs"))
    actor, actor_type = _str(sender.get("login")), _str(sender.get("type")) or "User"
    association = None
    if name == "issue_comment" and comment:
        user = _dict(comment.get("user"))
        # the comment's author is who asks; the sender is the same person for "created"
        actor = _str(user.get("login")) or actor
        actor_type = _str(user.get("type")) or actor_type
        association = _str(comment.get("author_association")) or None
    return Event(
        name=name,
        action=_str(payload.get("action")),
        repository=repo,
        actor=actor,
        actor_type=actor_type,
        author_association=association,
        number=_int(issue.get("number")),
        is_pull_request=bool(issue.get("pull_request")),
        issue_state=_str(issue.get("state")) or "open",
        title=_str(issue.get("title")),
        body=_str(issue.get("body")),
        label=_str(_dict(payload.get("label")).get("name")) or None,
        comment_id=_int(comment.get("id")),
        comment_body=_str(comment.get("body")),
        comment_created_at=_str(comment.get("created_at")) or None,
        comment_updated_at=_str(comment.get("updated_at")) or None,
        prompt=_str(inputs.get("prompt")) if "prompt" in inputs else None,
        dispatch_issue=_dispatch_issue(name, inputs.get("issue")),
        ref=_str(payload.get("ref")) or None,
        default_branch=_str(repository_data.get("default_branch")) or None,
        deleted=payload.get("deleted") is True,
    )


def load_event(env: Mapping[str, str]) -> Event:
    """The event of this workflow run. TINYGEN_EVENT_NAME / TINYGEN_EVENT_PATH override the
    GITHUB_* variables (GitHub does not let a workflow set those; the self-test needs to)."""
    name = env.get("TINYGEN_EVENT_NAME") or env.get("GITHUB_EVENT_NAME") or ""
    path_text = env.get("TINYGEN_EVENT_PATH") or env.get("GITHUB_EVENT_PATH") or ""
    repository = workflow_repository(env) or ""
    if not name or not path_text:
        raise ConfigError(
            "no GitHub event: GITHUB_EVENT_NAME and GITHUB_EVENT_PATH must be set",
            hint="`tinygen action` runs inside a GitHub Actions workflow; to try it elsewhere "
            "set GITHUB_EVENT_NAME, GITHUB_EVENT_PATH (a webhook payload JSON file) and "
            "GITHUB_REPOSITORY",
        )
    path = Path(path_text)
    hint = "GITHUB_EVENT_PATH must name the webhook payload JSON file"
    what = f"the event payload {path}"
    try:
        data = read_file(
            path, MAX_EVENT_BYTES, what, "GitHub's payloads are smaller: check GITHUB_EVENT_PATH"
        )
        payload = safejson.loads(data, what)
    except OSError as exc:
        raise ConfigError(f"cannot read {what}: {exc.strerror}", hint=hint) from exc
    except ValueError as exc:  # not UTF-8, not JSON
        raise ConfigError(f"{what} is not JSON: {exc}", hint=hint) from exc
    if not isinstance(payload, dict):
        raise ConfigError(f"the event payload {path} is not a JSON object")
    return parse_event(name, payload, repository)


__all__ = ["Event", "load_event", "parse_event"]
