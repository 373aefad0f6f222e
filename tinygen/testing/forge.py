"""An in-memory :class:`~tinygen.github.Forge`: GitHub's state as plain data a test can read.

Set a repository up, hand the forge to the code under test, then look at what happened::

    forge = InMemoryForge()
    forge.add_repo("octo/demo", remote=bare_remote_path)  # branches are read from there
    forge.set_permission("octo/demo", "alice", "write")
    issue = forge.add_issue("octo/demo", "Add a flag", "Please add --verbose", user="alice")
    ...  # code under test
    state = forge.repos["octo/demo"]
    assert [c.body for c in state.comments_on(issue.number)] == [...]
    assert forge.count("repo") == 1

It refuses what GitHub refuses, with a :class:`~tinygen.errors.ForgeError` worded as
:class:`~tinygen.github.GitHubForge` words it: unknown repositories, issues, pull requests
and comments (404), blank comment bodies, unknown reactions, and — when the repository has
a ``remote`` (a local bare repository) — pull requests whose head or base branch was not
pushed (422). Issues and pull requests share one number sequence per repository, as on
GitHub. Timestamps come from a clock that moves one second per write, so they are
deterministic. :meth:`InMemoryForge.fail_next` makes the next call of a method raise.
"""

from __future__ import annotations

import subprocess
import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tinygen.errors import ForgeError
from tinygen.github.forge import _check_body, _check_full_name, _check_number, _check_reaction
from tinygen.github.models import (
    ROLES,
    CheckInfo,
    CommentInfo,
    IssueInfo,
    PullInfo,
    RepoInfo,
    role_at_least,
)

if TYPE_CHECKING:
    from tinygen.github.forge import Forge

BOT_LOGIN = "tinygen[bot]"
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Reaction:
    """A reaction the forge was asked to add: on a comment (``id``) or an issue (number)."""

    target: str  # "comment" | "issue"
    id: int
    content: str
    user: str


@dataclass
class RepoState:
    """One repository as GitHub would hold it. Read freely; change it through the forge."""

    info: RepoInfo
    remote: Path | None = None  # a bare repository standing in for the GitHub remote
    permissions: dict[str, str] = field(default_factory=dict)  # login -> role
    issues: dict[int, IssueInfo] = field(default_factory=dict)
    pulls: dict[int, PullInfo] = field(default_factory=dict)
    comments: dict[int, tuple[int, CommentInfo]] = field(default_factory=dict)  # id -> (number, c)
    reactions: list[Reaction] = field(default_factory=list)
    last_number: int = 0
    # CI: the results each listing of a commit's checks returns, in turn (the last repeats)
    ci: list[list[CheckInfo]] = field(default_factory=list)
    ci_polls: dict[str, int] = field(default_factory=dict)

    def comments_on(self, number: int) -> list[CommentInfo]:
        """The comments of issue or pull request ``number``, oldest first."""
        return [c for n, c in self.comments.values() if n == number]


class InMemoryForge:
    """A :class:`~tinygen.github.Forge` whose state lives in :attr:`repos`; see the module doc.

    ``login`` is the account the forge acts as (the author of its comments). Every call of
    a Forge method is appended to :attr:`calls` as ``(method, args)``.
    """

    def __init__(self, login: str = BOT_LOGIN) -> None:
        self.login = login
        self.repos: dict[str, RepoState] = {}
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self._failures: dict[str, deque[BaseException]] = defaultdict(deque)
        self._next_comment_id = 1000
        self._ticks = 0
        self._lock = threading.RLock()

    # -- setting up --------------------------------------------------------------------------

    def add_repo(
        self,
        full_name: str,
        *,
        default_branch: str = "main",
        remote: Path | None = None,
        viewer_permission: str = "write",
        private: bool = False,
        fork: bool = False,
    ) -> RepoInfo:
        """A repository; ``remote`` (a bare repository) is its clone URL and the source of
        truth for branches and head SHAs."""
        _check_full_name(full_name)
        if viewer_permission not in ROLES:
            raise ValueError(f"viewer_permission must be one of {ROLES}")
        info = RepoInfo(
            full_name=full_name,
            default_branch=default_branch,
            clone_url=str(remote) if remote is not None else f"https://github.com/{full_name}.git",
            html_url=f"https://github.com/{full_name}",
            private=private,
            fork=fork,
            viewer_permission=viewer_permission,
        )
        owner = full_name.split("/", 1)[0]
        with self._lock:
            # as on GitHub: the owner administers it, the forge's account has its role
            permissions = {owner: "admin", self.login: viewer_permission}
            self.repos[full_name] = RepoState(info, remote, permissions)
        return info

    def set_permission(self, full_name: str, user: str, role: str) -> None:
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}")
        with self._lock:
            self._state(full_name, "set a permission").permissions[user] = role

    def add_issue(
        self,
        full_name: str,
        title: str,
        body: str = "",
        *,
        user: str = "octocat",
        user_type: str = "User",
        labels: tuple[str, ...] = (),
        author_association: str | None = None,
        state: str = "open",
    ) -> IssueInfo:
        """An issue; ``author_association`` None derives it from ``user``'s role (OWNER,
        COLLABORATOR or NONE)."""
        with self._lock:
            repo = self._state(full_name, "add an issue")
            if author_association is None:
                author_association = _association(repo, user)
            repo.last_number += 1
            issue = IssueInfo(
                number=repo.last_number,
                title=title,
                body=body,
                user=user,
                user_type=user_type,
                is_pull_request=False,
                state=state,
                labels=labels,
                author_association=author_association,
                html_url=f"{repo.info.html_url}/issues/{repo.last_number}",
            )
            repo.issues[issue.number] = issue
            return issue

    def add_pull(
        self,
        full_name: str,
        *,
        head: str,
        base: str | None = None,
        title: str = "A change",
        body: str = "",
        user: str = "octocat",
        head_repo: str | None = None,
        head_sha: str | None = None,
        draft: bool = False,
    ) -> PullInfo:
        """A pull request from ``head`` (a branch of ``head_repo``, by default this
        repository; a fork when it differs) into ``base`` (the default branch)."""
        with self._lock:
            repo = self._state(full_name, "add a pull request")
            return self._open_pull(
                repo,
                head_ref=head,
                head_repo=head_repo or full_name,
                base=base or repo.info.default_branch,
                title=title,
                body=body,
                user=user,
                draft=draft,
                head_sha=head_sha,
            )

    def close_pull(self, full_name: str, number: int, *, merged: bool = False) -> PullInfo:
        with self._lock:
            repo = self._state(full_name, "close a pull request")
            pull = replace(self._pull(repo, number, "close"), state="closed", merged=merged)
            repo.pulls[number] = pull
            return pull

    def add_comment(
        self,
        full_name: str,
        number: int,
        body: str,
        *,
        user: str = "octocat",
        user_type: str = "User",
    ) -> CommentInfo:
        """A comment by someone else than the forge's own account."""
        with self._lock:
            return self._new_comment(
                self._state(full_name, "comment"), number, body, user, user_type
            )

    def delete_comment(self, full_name: str, comment_id: int) -> None:
        with self._lock:
            self._state(full_name, "delete a comment").comments.pop(comment_id, None)

    def fail_next(self, method: str, error: BaseException) -> None:
        """The next call of Forge method ``method`` raises ``error`` (and changes nothing)."""
        if not callable(getattr(self, method, None)):
            raise ValueError(f"InMemoryForge has no method {method!r}")
        with self._lock:
            self._failures[method].append(error)

    # -- inspecting --------------------------------------------------------------------------

    def count(self, method: str) -> int:
        """How many times Forge method ``method`` was called."""
        with self._lock:
            return sum(1 for name, _ in self.calls if name == method)

    @property
    def now(self) -> datetime:
        return EPOCH + timedelta(seconds=self._ticks)

    # -- the Forge protocol: reads -----------------------------------------------------------

    def repo(self, full_name: str) -> RepoInfo:
        with self._call("repo", full_name):
            return self._state(full_name, f"read repository {full_name}").info

    def permission(self, full_name: str, user: str) -> str:
        with self._call("permission", full_name, user):
            if not user or "/" in user:
                raise ForgeError(
                    f"not a GitHub user name: {user!r}", hint="pass a login like octocat"
                )
            repo = self._state(full_name, f"read the permission of {user} on {full_name}")
            return repo.permissions.get(user, _default_role(repo))

    def issue(self, full_name: str, number: int) -> IssueInfo:
        with self._call("issue", full_name, number):
            _check_number(number, "issue")
            repo = self._state(full_name, f"read issue #{number} of {full_name}")
            if number in repo.issues:
                return repo.issues[number]
            if number in repo.pulls:  # GitHub serves a pull request as an issue too
                p = repo.pulls[number]
                return IssueInfo(
                    number=number,
                    title=p.title,
                    body=p.body,
                    user=p.user,
                    user_type="User",
                    is_pull_request=True,
                    state=p.state,
                    labels=(),
                    author_association=_association(repo, p.user),
                    html_url=p.html_url,
                )
            raise _not_found(f"issue #{number} in {full_name}", f"read issue #{number}")

    def pull(self, full_name: str, number: int) -> PullInfo:
        with self._call("pull", full_name, number):
            _check_number(number, "pull request")
            repo = self._state(full_name, f"read pull request #{number} of {full_name}")
            return self._live(repo, self._pull(repo, number, "read"))

    def find_open_pull(self, full_name: str, head_branch: str) -> PullInfo | None:
        with self._call("find_open_pull", full_name, head_branch):
            repo = self._state(full_name, f"list open pull requests in {full_name}")
            found = self._find_open(repo, head_branch)
            return self._live(repo, found) if found is not None else None

    def last_pull(self, full_name: str, head_branch: str) -> PullInfo | None:
        with self._call("last_pull", full_name, head_branch):
            repo = self._state(full_name, f"list pull requests in {full_name}")
            ours = [
                p
                for p in repo.pulls.values()
                if p.head_ref == head_branch
                and (p.head_repo_full_name or "").lower() == full_name.lower()
            ]
            newest = max(ours, key=lambda p: p.number, default=None)
            return self._live(repo, newest) if newest is not None else None

    def comments(self, full_name: str, number: int) -> list[CommentInfo]:
        with self._call("comments", full_name, number):
            _check_number(number, "issue")
            repo = self._state(full_name, f"read the comments of #{number}")
            self._issue_or_pull(repo, number, "read the comments of")
            return repo.comments_on(number)

    def get_comment(self, full_name: str, comment_id: int) -> CommentInfo | None:
        with self._call("get_comment", full_name, comment_id):
            _check_number(comment_id, "comment")
            repo = self._state(full_name, f"read comment {comment_id}")
            found = repo.comments.get(comment_id)
            return found[1] if found is not None else None

    # -- the Forge protocol: writes ----------------------------------------------------------

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
        with self._call("create_or_update_pull", full_name, head, base, title, body, draft):
            if not head or not base or not title.strip():
                raise ForgeError(
                    "a pull request needs a head branch, a base branch and a title",
                    hint="pass head=, base= and a non-empty title=",
                )
            repo = self._state(full_name, f"open a pull request from {head} into {base}")
            existing = self._find_open(repo, head)
            if existing is not None:
                if (existing.title, existing.body) != (title, body):
                    existing = replace(existing, title=title, body=body)
                    repo.pulls[existing.number] = existing
                    self._tick()
                return self._live(repo, existing), False
            owner = full_name.split("/", 1)[0]
            head_owner, _, head_ref = head.rpartition(":")
            head_repo = full_name
            if head_owner and head_owner.lower() != owner.lower():
                head_repo = f"{head_owner}/{full_name.split('/', 1)[1]}"
            if repo.remote is not None:
                action = f"open a pull request from {head} into {base} in {full_name}"
                missing = [
                    f"{what} branch {name} does not exist"
                    for what, name in (("head", head_ref), ("base", base))
                    if (what == "base" or head_repo == full_name)
                    and _branch_sha(repo.remote, name) is None
                ]
                if missing:
                    raise ForgeError(
                        f"GitHub refused to {action} (422: {'; '.join(missing)})",
                        hint="check the values tinygen sent (branch names, base branch, title); "
                        "the branch must be pushed before a pull request can be opened",
                    )
            pull = self._open_pull(
                repo,
                head_ref=head_ref,
                head_repo=head_repo,
                base=base,
                title=title,
                body=body,
                user=self.login,
                draft=draft,
                head_sha=None,
            )
            return pull, True

    def set_draft(self, full_name: str, number: int, draft: bool) -> PullInfo:
        with self._call("set_draft", full_name, number, draft):
            _check_number(number, "pull request")
            repo = self._state(full_name, f"change the draft state of #{number}")
            pull = self._pull(repo, number, "change the draft state of")
            if pull.draft != draft:
                pull = repo.pulls[number] = replace(pull, draft=draft)
                self._tick()
            return self._live(repo, pull)

    def comment(self, full_name: str, number: int, body: str) -> CommentInfo:
        with self._call("comment", full_name, number, body):
            _check_number(number, "issue")
            _check_body(body)
            repo = self._state(full_name, f"comment on #{number}")
            return self._new_comment(repo, number, body, self.login, "Bot")

    def edit_comment(self, full_name: str, comment_id: int, body: str) -> CommentInfo:
        with self._call("edit_comment", full_name, comment_id, body):
            _check_number(comment_id, "comment")
            _check_body(body)
            repo = self._state(full_name, f"edit comment {comment_id}")
            number, old = self._comment(repo, comment_id, "edit")
            edited = replace(old, body=body, updated_at=self._tick())
            repo.comments[comment_id] = (number, edited)
            return edited

    def react(self, full_name: str, comment_id: int, content: str = "eyes") -> None:
        with self._call("react", full_name, comment_id, content):
            _check_number(comment_id, "comment")
            _check_reaction(content)
            repo = self._state(full_name, f"react to comment {comment_id}")
            self._comment(repo, comment_id, "react to")
            repo.reactions.append(Reaction("comment", comment_id, content, self.login))

    def react_issue(self, full_name: str, number: int, content: str = "eyes") -> None:
        with self._call("react_issue", full_name, number, content):
            _check_number(number, "issue")
            _check_reaction(content)
            repo = self._state(full_name, f"react to #{number}")
            self._issue_or_pull(repo, number, "react to")
            repo.reactions.append(Reaction("issue", number, content, self.login))

    def checks(self, full_name: str, sha: str) -> list[CheckInfo]:
        with self._call("checks", full_name, sha):
            repo = self._state(full_name, f"read the checks of {sha[:12]}")
            poll = repo.ci_polls.get(sha, 0)
            repo.ci_polls[sha] = poll + 1
            return list(repo.ci[min(poll, len(repo.ci) - 1)]) if repo.ci else []

    # -- internals ---------------------------------------------------------------------------

    def _call(self, method: str, *args: Any) -> _Recorded:
        return _Recorded(self, method, args)

    def _tick(self) -> datetime:
        self._ticks += 1
        return self.now

    def _state(self, full_name: str, action: str) -> RepoState:
        _check_full_name(full_name)
        repo = self.repos.get(full_name)
        if repo is None:
            raise _not_found(f"repository {full_name}", action)
        return repo

    def _pull(self, repo: RepoState, number: int, verb: str) -> PullInfo:
        pull = repo.pulls.get(number)
        if pull is None:
            name = repo.info.full_name
            raise _not_found(f"pull request #{number} in {name}", f"{verb} pull request #{number}")
        return pull

    def _issue_or_pull(self, repo: RepoState, number: int, verb: str) -> None:
        if number not in repo.issues and number not in repo.pulls:
            name = repo.info.full_name
            raise _not_found(f"issue or pull request #{number} in {name}", f"{verb} #{number}")

    def _comment(self, repo: RepoState, comment_id: int, verb: str) -> tuple[int, CommentInfo]:
        found = repo.comments.get(comment_id)
        if found is None:
            name = repo.info.full_name
            raise _not_found(f"comment {comment_id} in {name}", f"{verb} comment {comment_id}")
        return found

    def _find_open(self, repo: RepoState, head_branch: str) -> PullInfo | None:
        owner = repo.info.full_name.split("/", 1)[0]
        head = head_branch if ":" in head_branch else f"{owner}:{head_branch}"
        head_owner, _, ref = head.partition(":")
        for p in repo.pulls.values():
            owner_of = (p.head_repo_full_name or "").split("/", 1)[0]
            if p.state == "open" and p.head_ref == ref and owner_of.lower() == head_owner.lower():
                return p
        return None

    def _open_pull(
        self,
        repo: RepoState,
        *,
        head_ref: str,
        head_repo: str,
        base: str,
        title: str,
        body: str,
        user: str,
        draft: bool,
        head_sha: str | None,
    ) -> PullInfo:
        repo.last_number += 1
        number = repo.last_number
        self._tick()
        pull = PullInfo(
            number=number,
            title=title,
            body=body,
            user=user,
            head_ref=head_ref,
            head_sha=head_sha or f"{number:040x}",
            head_repo_full_name=head_repo,
            base_ref=base,
            base_repo_full_name=repo.info.full_name,
            is_fork=head_repo != repo.info.full_name,
            state="open",
            draft=draft,
            html_url=f"{repo.info.html_url}/pull/{number}",
        )
        repo.pulls[number] = pull
        return self._live(repo, pull)

    def _live(self, repo: RepoState, pull: PullInfo) -> PullInfo:
        """The pull request with its head SHA as the remote has it now (GitHub's is live)."""
        if repo.remote is None or pull.is_fork or pull.state != "open":
            return pull
        sha = _branch_sha(repo.remote, pull.head_ref)
        if sha is None or sha == pull.head_sha:
            return pull
        pull = repo.pulls[pull.number] = replace(pull, head_sha=sha)
        return pull

    def _new_comment(
        self, repo: RepoState, number: int, body: str, user: str, user_type: str
    ) -> CommentInfo:
        self._issue_or_pull(repo, number, "comment on")
        self._next_comment_id += 1
        at = self._tick()
        comment = CommentInfo(
            id=self._next_comment_id,
            user=user,
            user_type=user_type,
            body=body,
            created_at=at,
            updated_at=at,
            html_url=f"{repo.info.html_url}/issues/{number}#issuecomment-{self._next_comment_id}",
        )
        repo.comments[comment.id] = (number, comment)
        return comment


class _Recorded:
    """Records a Forge call, raises an injected failure, and holds the lock for the call."""

    def __init__(self, forge: InMemoryForge, method: str, args: tuple[Any, ...]) -> None:
        self.forge, self.method, self.args = forge, method, args

    def __enter__(self) -> None:
        forge = self.forge
        forge._lock.acquire()
        forge.calls.append((self.method, self.args))
        queue = forge._failures.get(self.method)
        if queue:
            error = queue.popleft()
            forge._lock.release()
            raise error

    def __exit__(self, *exc: object) -> None:
        self.forge._lock.release()


def _default_role(repo: RepoState) -> str:
    # GitHub's answer for someone without a role: anyone may read a public repository
    return "none" if repo.info.private else "read"


def _association(repo: RepoState, user: str) -> str:
    if user == repo.info.full_name.split("/", 1)[0]:
        return "OWNER"
    return "COLLABORATOR" if role_at_least(repo.permissions.get(user, "none"), "read") else "NONE"


def _not_found(target: str, action: str) -> ForgeError:
    return ForgeError(
        f"GitHub could not find {target} while trying to {action} (404)",
        hint="check the repository name and number; a private repository also answers "
        "404 when the token cannot see it, so give the token access to it",
    )


def _branch_sha(remote: Path, branch: str) -> str | None:
    proc = subprocess.run(
        ["git", "--git-dir", str(remote), "rev-parse", "--verify", "--quiet",
         f"refs/heads/{branch}^{{commit}}"],  # "refs/..." can never be read as an option
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return proc.stdout.strip() if proc.returncode == 0 else None


if TYPE_CHECKING:

    def _implements_forge(forge: InMemoryForge) -> Forge:
        return forge  # mypy checks that InMemoryForge matches the Forge protocol


__all__ = ["BOT_LOGIN", "InMemoryForge", "Reaction", "RepoState"]
