"""What the GitHub layer hands to the rest of tinygen: plain frozen dataclasses.

PyGithub objects never leave :mod:`tinygen.github.forge`; these carry only the fields the
delivery and action stages use, already converted (no ``None`` bodies, labels as names).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

# Repository roles from the weakest to the strongest, as GitHub names them.
ROLES: tuple[str, ...] = ("none", "read", "triage", "write", "maintain", "admin")

# The reaction contents GitHub accepts.
REACTIONS: frozenset[str] = frozenset(
    {"+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"}
)


def role_at_least(role: str, minimum: str) -> bool:
    """``role_at_least("maintain", "write")`` -> True. Unknown roles count as ``none``."""
    rank = {name: i for i, name in enumerate(ROLES)}
    return rank.get(role, 0) >= rank[minimum]


@dataclass(frozen=True)
class RepoInfo:
    full_name: str
    default_branch: str
    clone_url: str
    html_url: str
    private: bool
    fork: bool
    # The strongest role the token itself has on this repository (see ROLES).
    viewer_permission: str


@dataclass(frozen=True)
class IssueInfo:
    number: int
    title: str
    body: str
    user: str
    user_type: str  # "User" or "Bot"
    is_pull_request: bool
    state: str  # "open" | "closed"
    labels: tuple[str, ...]
    author_association: str  # OWNER, MEMBER, COLLABORATOR, CONTRIBUTOR, NONE, ...
    html_url: str


@dataclass(frozen=True)
class PullInfo:
    number: int
    title: str
    body: str
    user: str
    head_ref: str
    head_sha: str
    # None when the fork the pull request came from has been deleted
    head_repo_full_name: str | None
    base_ref: str
    base_repo_full_name: str
    # True when the head branch lives in another repository (or in a deleted fork):
    # tinygen may not push there.
    is_fork: bool
    state: str
    draft: bool
    html_url: str
    merged: bool = False  # closed by merging (state is then "closed")


@dataclass(frozen=True)
class CommentInfo:
    id: int
    user: str
    user_type: str
    body: str
    created_at: datetime  # timezone-aware, UTC
    updated_at: datetime
    html_url: str


@dataclass(frozen=True)
class CheckInfo:
    """One CI result on a commit: a check run or a commit status, normalised. ``state`` is
    ``pending`` until it completes, then ``success`` or ``failure`` (neutral and skipped
    runs count as success; cancelled, timed out and action required as failure)."""

    name: str
    kind: str  # "check_run" or "status"
    state: str  # pending | success | failure
    conclusion: str | None  # GitHub's own word (check runs: success, failure, ...)
    url: str
    summary: str = ""

    def to_dict(self) -> dict[str, str | None]:
        return {
            "name": self.name,
            "kind": self.kind,
            "state": self.state,
            "conclusion": self.conclusion,
            "url": self.url,
        }
