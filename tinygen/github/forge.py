"""The GitHub API behind a small interface: :class:`Forge`, implemented with PyGithub.

PyGithub is imported only inside :class:`GitHubForge`, so ``tinygen --help`` never loads it.
Every call runs inside :meth:`GitHubForge._call`, which turns any failure into a
:class:`~tinygen.errors.ForgeError` (see :mod:`tinygen.github.errors`), and every PyGithub
object is converted to one of our frozen dataclasses before it leaves this module.

Retries: PyGithub's default retry repeats POSTs on 5xx, which can open a pull request twice
when GitHub created it but a proxy answered 502. Here only idempotent methods are retried,
and :meth:`GitHubForge.create_or_update_pull` re-checks for the pull request after a failed
create, so a retry by the caller cannot duplicate it either.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import urlsplit

from tinygen import __version__
from tinygen.env import api_url as env_api_url
from tinygen.env import github_token
from tinygen.errors import ConfigError, ForgeError
from tinygen.github.errors import Operation, translate, validation_messages
from tinygen.github.models import (
    REACTIONS,
    ROLES,
    CheckInfo,
    CommentInfo,
    IssueInfo,
    PullInfo,
    RepoInfo,
)

if TYPE_CHECKING:
    from github import Github
    from github.IssueComment import IssueComment
    from github.PullRequest import PullRequest
    from github.Repository import Repository

DEFAULT_API_URL = "https://api.github.com"
_FULL_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?/[A-Za-z0-9._-]+")
_T = TypeVar("_T")
# comments and reactions on a pull request accept either permission
_COMMENT_NEEDS = "issues: write (or pull-requests: write on a pull request)"
_CLOCK_SKEW = timedelta(minutes=5)


class Forge(Protocol):
    """What tinygen needs from a code forge. ``full_name`` is ``"owner/repo"``."""

    def repo(self, full_name: str) -> RepoInfo: ...

    def permission(self, full_name: str, user: str) -> str: ...

    def issue(self, full_name: str, number: int) -> IssueInfo: ...

    def pull(self, full_name: str, number: int) -> PullInfo: ...

    def find_open_pull(self, full_name: str, head_branch: str) -> PullInfo | None: ...

    def last_pull(self, full_name: str, head_branch: str) -> PullInfo | None: ...

    def create_or_update_pull(
        self, full_name: str, *, head: str, base: str, title: str, body: str, draft: bool = True
    ) -> tuple[PullInfo, bool]: ...

    def set_draft(self, full_name: str, number: int, draft: bool) -> PullInfo: ...

    def comment(self, full_name: str, number: int, body: str) -> CommentInfo: ...

    def edit_comment(self, full_name: str, comment_id: int, body: str) -> CommentInfo: ...

    def comments(self, full_name: str, number: int) -> list[CommentInfo]: ...

    def get_comment(self, full_name: str, comment_id: int) -> CommentInfo | None: ...

    def react(self, full_name: str, comment_id: int, content: str = "eyes") -> None: ...

    def react_issue(self, full_name: str, number: int, content: str = "eyes") -> None: ...

    def checks(self, full_name: str, sha: str) -> list[CheckInfo]: ...


@dataclass(frozen=True)
class ForgePolicy:
    """How patient the client is.

    Production defaults: idempotent requests (GET, PUT, DELETE) retried 3 times on 5xx and
    connection errors with exponential backoff (0, 2, 4 s); a rate limit that resets within
    60 s is waited out, a later one fails at once naming the reset time; PyGithub's pacing of
    0.25 s between requests and 1 s between writes (GitHub's advice against secondary rate
    limits). Tests use :meth:`fast`.
    """

    retries: int = 3
    backoff: float = 1.0
    max_rate_limit_wait: float = 60.0
    seconds_between_requests: float = 0.25
    seconds_between_writes: float = 1.0
    timeout: int = 15

    @classmethod
    def fast(cls) -> ForgePolicy:
        """No sleeping at all: retries without backoff, rate limits fail immediately."""
        return cls(
            retries=2,
            backoff=0.0,
            max_rate_limit_wait=0.0,
            seconds_between_requests=0.0,
            seconds_between_writes=0.0,
            timeout=10,
        )


def _check_full_name(full_name: str) -> str:
    # full_name ends up in URL paths; refuse anything that is not plainly "owner/repo"
    if not isinstance(full_name, str) or not _FULL_NAME.fullmatch(full_name) or ".." in full_name:
        raise ForgeError(
            f"not a GitHub repository name: {full_name!r}",
            hint='use "owner/repo", for example "octocat/hello-world"',
        )
    return full_name


def _check_number(number: int, what: str) -> int:
    if isinstance(number, bool) or not isinstance(number, int) or number <= 0:
        raise ForgeError(f"not a valid {what} number: {number!r}", hint="use a positive integer")
    return number


def _check_reaction(content: str) -> str:
    if content not in REACTIONS:
        raise ForgeError(
            f"not a GitHub reaction: {content!r}",
            hint="use one of: " + ", ".join(sorted(REACTIONS)),
        )
    return content


class UnexpectedAnswer(Exception):
    """A GitHub answer without a field we need (reported as "unexpected answer")."""


def _s(value: object, name: str) -> str:
    # PyGithub returns None for fields missing from the answer; refuse instead of passing on
    if not isinstance(value, str):
        raise UnexpectedAnswer(f"the answer has no {name}")
    return value


def _utc(value: datetime | None) -> datetime:
    if value is None:
        return datetime.fromtimestamp(0, UTC)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def resolve_api_url(api_url: str | None) -> str:
    """``api_url`` or GITHUB_API_URL or api.github.com, checked and without a trailing slash."""
    url = (api_url or env_api_url() or DEFAULT_API_URL).strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"not a GitHub API URL: {url!r}",
            hint="set GITHUB_API_URL to https://api.github.com, or https://HOST/api/v3 for "
            "GitHub Enterprise Server",
        )
    return url


class GitHubForge:
    """:class:`Forge` on the GitHub REST API through PyGithub.

    ``token`` None reads GITHUB_TOKEN, then GH_TOKEN; no token at all means anonymous calls
    (public reads only). ``api_url`` None reads GITHUB_API_URL, else https://api.github.com.
    """

    def __init__(
        self,
        token: str | None = None,
        api_url: str | None = None,
        *,
        policy: ForgePolicy | None = None,
    ) -> None:
        if token is None:
            token = github_token()
        self._token = token.strip() if token else None
        self.api_url = resolve_api_url(api_url)
        self.policy = policy or ForgePolicy()
        self._client: Github | None = None

    @property
    def has_token(self) -> bool:
        return self._token is not None

    def __repr__(self) -> str:  # never show the token
        return f"GitHubForge(api_url={self.api_url!r}, token={'***' if self._token else None})"

    # -- plumbing ----------------------------------------------------------------------------

    def _github(self) -> Github:
        if self._client is None:
            import github

            p = self.policy
            self._client = github.Github(
                auth=github.Auth.Token(self._token) if self._token else None,
                base_url=self.api_url,
                timeout=p.timeout,
                user_agent=f"tinygen/{__version__}",
                retry=_retry(p),
                seconds_between_requests=p.seconds_between_requests or None,
                seconds_between_writes=p.seconds_between_writes or None,
                lazy=True,  # objects fetch on first attribute access: no wasted GETs
            )
        return self._client

    def _repo(self, full_name: str) -> Repository:
        return self._github().get_repo(_check_full_name(full_name))

    @contextmanager
    def _call(self, action: str, needs: str, target: str) -> Iterator[None]:
        """Run PyGithub calls; any failure becomes a ForgeError saying what was missing."""
        try:
            yield
        except ForgeError:
            raise
        except Exception as exc:
            # "from None": the PyGithub exception holds GitHub's raw answer, which a
            # traceback would print unredacted
            raise self._error(exc, action, needs, target) from None

    def _error(self, exc: BaseException, action: str, needs: str, target: str) -> ForgeError:
        return translate(
            exc, Operation(action, needs, target), token=self._token, api_url=self.api_url
        )

    def _attempt(self, fn: Callable[[], _T]) -> tuple[_T | None, BaseException | None]:
        try:
            return fn(), None
        except Exception as exc:
            return None, exc

    # -- reads -------------------------------------------------------------------------------

    def repo(self, full_name: str) -> RepoInfo:
        with self._call(
            f"read repository {full_name}", "metadata: read", f"repository {full_name}"
        ):
            r = self._repo(full_name)
            perms = r.permissions
            held = {
                "admin": perms.admin if perms else False,
                "maintain": perms.maintain if perms else False,
                "write": perms.push if perms else False,
                "triage": perms.triage if perms else False,
                "read": perms.pull if perms else False,
            }
            viewer = next((role for role in reversed(ROLES) if held.get(role)), "none")
            return RepoInfo(
                full_name=_s(r.full_name, "full_name"),
                default_branch=_s(r.default_branch, "default_branch"),
                clone_url=_s(r.clone_url, "clone_url"),
                html_url=_s(r.html_url, "html_url"),
                private=bool(r.private),
                fork=bool(r.fork),
                viewer_permission=viewer,
            )

    def permission(self, full_name: str, user: str) -> str:
        """The user's role: admin, maintain, write, triage, read or none."""
        if not user or "/" in user:
            raise ForgeError(f"not a GitHub user name: {user!r}", hint="pass a login like octocat")
        action = f"read the permission of {user} on {full_name}"
        needs, target = "metadata: read", f"user {user} or repository {full_name}"
        with self._call(action, needs, target):
            r = self._repo(full_name)
            requester = self._github().requester
        answer, exc = self._attempt(
            lambda: requester.requestJsonAndCheck(
                "GET", f"{r.url}/collaborators/{_quote(user)}/permission"
            )
        )
        if answer is None:
            if getattr(exc, "status", None) == 404:
                # "<login> is not a user": an App's bot account has no role. A repository
                # the token cannot see answers 404 as well, and stays an error.
                self.repo(full_name)
                return "none"
            assert exc is not None
            raise self._error(exc, action, needs, target) from None
        data = answer[1]
        # role_name knows maintain and triage; the legacy field only admin/write/read/none
        role = str(data.get("role_name") or data.get("permission") or "none")
        return role if role in ROLES else str(data.get("permission") or "none")

    def issue(self, full_name: str, number: int) -> IssueInfo:
        _check_number(number, "issue")
        with self._call(
            f"read issue #{number} of {full_name}",
            "issues: read",
            f"issue #{number} in {full_name}",
        ):
            i = self._repo(full_name).get_issue(number)
            return IssueInfo(
                number=int(i.number),
                title=i.title or "",
                body=i.body or "",
                user=i.user.login if i.user else "ghost",
                user_type=(i.user.type if i.user else None) or "User",
                is_pull_request=i.pull_request is not None,
                state=_s(i.state, "state"),
                labels=tuple(label.name for label in i.labels or []),
                author_association=i.author_association or "NONE",
                html_url=_s(i.html_url, "html_url"),
            )

    def pull(self, full_name: str, number: int) -> PullInfo:
        _check_number(number, "pull request")
        with self._call(
            f"read pull request #{number} of {full_name}",
            "pull-requests: read",
            f"pull request #{number} in {full_name}",
        ):
            return _pull_info(self._repo(full_name).get_pull(number))

    def find_open_pull(self, full_name: str, head_branch: str) -> PullInfo | None:
        """The open pull request from ``head_branch`` (``branch`` of this repository, or
        ``owner:branch``), or None."""
        owner = _check_full_name(full_name).split("/", 1)[0]
        head = head_branch if ":" in head_branch else f"{owner}:{head_branch}"
        head_owner, _, ref = head.partition(":")
        with self._call(
            f"list open pull requests from {head} in {full_name}",
            "pull-requests: read",
            f"repository {full_name}",
        ):
            for p in self._repo(full_name).get_pulls(state="open", head=head):
                # filter again: the head filter is silently ignored when malformed
                head_repo = p.head.repo.full_name if p.head.repo else None
                # GitHub owner names are case-insensitive
                owner_of = (head_repo or "").split("/", 1)[0]
                if p.head.ref == ref and owner_of.lower() == head_owner.lower():
                    return _pull_info(p)
        return None

    def last_pull(self, full_name: str, head_branch: str) -> PullInfo | None:
        """The newest pull request from ``head_branch`` of this repository, open or closed
        (merged or not), or None."""
        owner = _check_full_name(full_name).split("/", 1)[0]
        with self._call(
            f"list pull requests from {head_branch} in {full_name}",
            "pull-requests: read",
            f"repository {full_name}",
        ):
            pulls = self._repo(full_name).get_pulls(
                state="all", head=f"{owner}:{head_branch}", sort="created", direction="desc"
            )
            newest: PullRequest | None = None
            for p in pulls:  # filter again, as in find_open_pull
                head_repo = p.head.repo.full_name if p.head.repo else ""
                ours = p.head.ref == head_branch and head_repo.lower() == full_name.lower()
                if ours and (newest is None or p.number > newest.number):
                    newest = p
            return _pull_info(newest) if newest is not None else None

    def comments(self, full_name: str, number: int) -> list[CommentInfo]:
        _check_number(number, "issue")
        with self._call(
            f"read the comments of #{number} in {full_name}",
            "issues: read",
            f"issue or pull request #{number} in {full_name}",
        ):
            return [
                _comment_info(c) for c in self._repo(full_name).get_issue(number).get_comments()
            ]

    def get_comment(self, full_name: str, comment_id: int) -> CommentInfo | None:
        """One issue or pull request comment by its id; None when it was deleted."""
        _check_number(comment_id, "comment")
        action = f"read comment {comment_id} in {full_name}"
        needs, target = "issues: read", f"comment {comment_id} in {full_name}"
        # GET .../issues/comments/{id} (lazy object: attribute access fetches it)
        found, exc = self._attempt(
            lambda: _comment_info(self._issue_comment(full_name, comment_id))
        )
        if found is None:
            assert exc is not None
            if getattr(exc, "status", None) == 404:
                self.repo(full_name)  # a repository the token cannot see stays an error
                return None
            raise self._error(exc, action, needs, target) from None
        return found

    # -- writes ------------------------------------------------------------------------------

    def create_or_update_pull(
        self,
        full_name: str,
        *,
        head: str,
        base: str,
        title: str,
        body: str,
        draft: bool = True,
    ) -> tuple[PullInfo, bool]:
        """Open a pull request from ``head`` into ``base``, or update the title and body of
        the open one from ``head``. Returns the pull request and whether it was created."""
        if not head or not base or not title.strip():
            raise ForgeError(
                "a pull request needs a head branch, a base branch and a title",
                hint="pass head=, base= and a non-empty title=",
            )
        existing = self.find_open_pull(full_name, head)
        if existing is not None:
            return self._update_pull(full_name, existing, title=title, body=body), False

        action = f"open a pull request from {head} into {base} in {full_name}"
        needs = "pull-requests: write"
        repo = self._repo(full_name)
        created, exc = self._attempt(
            lambda: repo.create_pull(base=base, head=head, title=title, body=body, draft=draft)
        )
        if created is not None:
            with self._call(action, needs, f"repository {full_name}"):
                return _pull_info(created), True
        assert exc is not None
        status = getattr(exc, "status", None)
        error = self._error(exc, action, needs, f"repository {full_name} or branch {head}")
        if status == 422 and any("already exists" in m for m in validation_messages(exc)):
            # someone (or an earlier attempt) opened it between our look and our POST
            again, _ = self._attempt(lambda: self.find_open_pull(full_name, head))
            if again is not None:
                return self._update_pull(full_name, again, title=title, body=body), False
        elif status is None or status >= 500:
            # the POST may have succeeded before the failure reached us (502 from a proxy,
            # a timeout): look before reporting, so nobody retries into a duplicate
            again, _ = self._attempt(lambda: self.find_open_pull(full_name, head))
            if again is not None:
                return self._update_pull(full_name, again, title=title, body=body), True
        raise error

    def _update_pull(self, full_name: str, pull: PullInfo, *, title: str, body: str) -> PullInfo:
        if pull.title == title and pull.body == body:
            return pull
        with self._call(
            f"update pull request #{pull.number} in {full_name}",
            "pull-requests: write",
            f"pull request #{pull.number} in {full_name}",
        ):
            p = self._repo(full_name).get_pull(pull.number)
            p.edit(title=title, body=body)
            return _pull_info(p)

    def set_draft(self, full_name: str, number: int, draft: bool) -> PullInfo:
        """Convert pull request ``number`` to a draft (``draft``) or mark it ready for review;
        nothing when it already is. The REST API cannot do either: GraphQL mutations."""
        _check_number(number, "pull request")
        what = "convert pull request #{0} to a draft" if draft else "mark pull request #{0} ready"
        with self._call(
            f"{what.format(number)} in {full_name}",
            "pull-requests: write",
            f"pull request #{number} in {full_name}",
        ):
            p = self._repo(full_name).get_pull(number)
            if bool(p.draft) != draft:
                if draft:
                    p.convert_to_draft()
                else:
                    p.mark_ready_for_review()
            return _pull_info(p)

    def comment(self, full_name: str, number: int, body: str) -> CommentInfo:
        _check_number(number, "issue")
        _check_body(body)
        action = f"comment on #{number} in {full_name}"
        needs = _COMMENT_NEEDS
        target = f"issue or pull request #{number} in {full_name}"
        issue = self._repo(full_name).get_issue(number)
        started = datetime.now(UTC)
        created, exc = self._attempt(lambda: issue.create_comment(body))
        if created is not None:
            with self._call(action, needs, target):
                return _comment_info(created)
        assert exc is not None
        status = getattr(exc, "status", None)
        if status is None or status >= 500:
            # same as for pull requests: the comment may exist although the answer failed.
            # Only a recent one counts (clock skew allowed), not the same text from an old run.
            existing, _ = self._attempt(lambda: self.comments(full_name, number))
            for c in reversed(existing or []):
                if c.body == body and c.created_at >= started - _CLOCK_SKEW:
                    return c
        raise self._error(exc, action, needs, target)

    def edit_comment(self, full_name: str, comment_id: int, body: str) -> CommentInfo:
        _check_number(comment_id, "comment")
        _check_body(body)
        with self._call(
            f"edit comment {comment_id} in {full_name}",
            _COMMENT_NEEDS,
            f"comment {comment_id} in {full_name}",
        ):
            c = self._issue_comment(full_name, comment_id)
            c.edit(body)
            return _comment_info(c)

    def react(self, full_name: str, comment_id: int, content: str = "eyes") -> None:
        _check_number(comment_id, "comment")
        _check_reaction(content)
        with self._call(
            f"react to comment {comment_id} in {full_name}",
            _COMMENT_NEEDS,
            f"comment {comment_id} in {full_name}",
        ):
            self._issue_comment(full_name, comment_id).create_reaction(content)

    def react_issue(self, full_name: str, number: int, content: str = "eyes") -> None:
        _check_number(number, "issue")
        _check_reaction(content)
        with self._call(
            f"react to #{number} in {full_name}",
            _COMMENT_NEEDS,
            f"issue or pull request #{number} in {full_name}",
        ):
            self._repo(full_name).get_issue(number).create_reaction(content)

    def checks(self, full_name: str, sha: str) -> list[CheckInfo]:
        """The CI results on commit ``sha``: its check runs and its commit statuses."""
        if not re.fullmatch(r"[0-9a-f]{40}", sha):
            raise ValueError(f"not a full commit sha: {sha!r}")
        with self._call(
            f"read the checks of commit {sha[:12]} in {full_name}",
            "checks: read and statuses: read",
            f"commit {sha[:12]} in {full_name}",
        ):
            commit = self._repo(full_name).get_commit(sha)
            out = [_check_run_info(run) for run in commit.get_check_runs()]
            out += [_status_info(st) for st in commit.get_combined_status().statuses]
            return out

    def _issue_comment(self, full_name: str, comment_id: int) -> IssueComment:
        import github.IssueComment

        url = f"{self._repo(full_name).url}/issues/comments/{comment_id}"
        return github.IssueComment.IssueComment(self._github().requester, url=url)


def _retry(p: ForgePolicy) -> Any:
    """PyGithub's GithubRetry, minus POST and PATCH (not idempotent), with waits capped."""
    from github.GithubRetry import GithubRetry

    class _CappedRetry(GithubRetry):
        def get_retry_after(self, response: Any) -> float | None:
            # Retry-After on 429/503 is honoured, but never longer than the policy allows
            value = super().get_retry_after(response)
            if value is None:
                return None
            return min(value, self.max_rate_limit_wait or 0.0)

    return _CappedRetry(
        total=p.retries,
        backoff_factor=p.backoff,
        max_rate_limit_wait=p.max_rate_limit_wait,
        allowed_methods=frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"}),
        # give the last answer back to PyGithub, which raises GithubException with its status
        raise_on_status=False,
    )


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


def _check_body(body: str) -> None:
    if not isinstance(body, str) or not body.strip():
        raise ForgeError("a comment needs a non-empty body", hint="pass the text to post")


# A completed check run's conclusion, as a pass or a failure.
_PASSING = frozenset({"success", "neutral", "skipped"})


def _check_run_info(run: Any) -> CheckInfo:
    status, conclusion = _s(run.status, "status"), run.conclusion
    if status != "completed":
        state = "pending"
    else:
        state = "success" if conclusion in _PASSING else "failure"
    summary = (run.output.summary or "") if run.output is not None else ""
    return CheckInfo(
        name=_s(run.name, "name"),
        kind="check_run",
        state=state,
        conclusion=conclusion,
        url=run.html_url or run.details_url or "",
        summary=summary,
    )


def _status_info(st: Any) -> CheckInfo:
    raw = _s(st.state, "state")
    state = {"success": "success", "pending": "pending"}.get(raw, "failure")
    return CheckInfo(
        name=_s(st.context, "context"),
        kind="status",
        state=state,
        conclusion=raw,
        url=st.target_url or "",
        summary=st.description or "",
    )


def _pull_info(p: PullRequest) -> PullInfo:
    if p.base is None or p.head is None or p.base.repo is None:
        raise UnexpectedAnswer("the pull request has no head or base")
    base_repo = _s(p.base.repo.full_name, "base.repo.full_name")
    head_repo = p.head.repo.full_name if p.head.repo else None
    return PullInfo(
        number=p.number,
        title=p.title or "",
        body=p.body or "",
        user=p.user.login if p.user else "ghost",
        head_ref=_s(p.head.ref, "head.ref"),
        head_sha=_s(p.head.sha, "head.sha"),
        head_repo_full_name=head_repo,
        base_ref=_s(p.base.ref, "base.ref"),
        base_repo_full_name=base_repo,
        is_fork=head_repo != base_repo,
        state=_s(p.state, "state"),
        draft=bool(p.draft),
        html_url=_s(p.html_url, "html_url"),
        merged=p.merged_at is not None,
    )


def _comment_info(c: IssueComment) -> CommentInfo:
    return CommentInfo(
        id=int(c.id),
        user=c.user.login if c.user else "ghost",
        user_type=(c.user.type if c.user else None) or "User",
        body=c.body or "",
        created_at=_utc(c.created_at),
        updated_at=_utc(c.updated_at or c.created_at),
        html_url=_s(c.html_url, "html_url"),
    )


if TYPE_CHECKING:

    def _implements_forge(forge: GitHubForge) -> Forge:
        return forge  # mypy checks that GitHubForge matches the Forge protocol
