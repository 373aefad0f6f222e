"""GitHub access for tinygen: a small :class:`Forge` interface and its PyGithub implementation.

Importing this package does not import PyGithub; :class:`GitHubForge` does on first use.
"""

from __future__ import annotations

from tinygen.github.forge import DEFAULT_API_URL, Forge, ForgePolicy, GitHubForge, resolve_api_url
from tinygen.github.models import (
    REACTIONS,
    ROLES,
    CheckInfo,
    CommentInfo,
    IssueInfo,
    PullInfo,
    RepoInfo,
    role_at_least,
)

__all__ = [
    "DEFAULT_API_URL",
    "REACTIONS",
    "ROLES",
    "CheckInfo",
    "CommentInfo",
    "Forge",
    "ForgePolicy",
    "GitHubForge",
    "IssueInfo",
    "PullInfo",
    "RepoInfo",
    "resolve_api_url",
    "role_at_least",
]
