"""Tokens that start CI: a GitHub App's short-lived installation token.

Pushes and pull requests made with a workflow's own ``GITHUB_TOKEN`` start no other workflow
(GitHub's rule, to prevent loops), so a bot pull request made with it arrives without CI.
An App's installation token (or a personal access token) does start CI. PyGithub signs the
App's JWT and asks GitHub for the token; the token is a secret like any other: it is only
ever passed on, never printed.
"""

from __future__ import annotations

from dataclasses import dataclass

from tinygen.errors import ConfigError, ForgeError
from tinygen.github.errors import Operation, translate
from tinygen.github.forge import _check_full_name, resolve_api_url

WORKFLOW_TOKEN_NOTE = (
    "pushes made with the workflow's own GITHUB_TOKEN do not start the repository's CI; give "
    "tinygen a GitHub App (app-id and private-key) or a personal access token for that"
)


def starts_no_ci(token: str | None, minted: bool) -> bool:
    """A token whose pushes start no CI: an installation token tinygen did not mint itself,
    which in a workflow is the workflow's own GITHUB_TOKEN (installation tokens start ghs_)."""
    return bool(token) and not minted and str(token).startswith("ghs_")


@dataclass(frozen=True)
class AppCredentials:
    app_id: int
    private_key: str

    def __repr__(self) -> str:  # never the key
        return f"AppCredentials(app_id={self.app_id}, private_key=***)"


def app_credentials(app_id: str, private_key: str) -> AppCredentials | None:
    """Both given: the App; neither: None; one without the other is a configuration error."""
    app_id, private_key = app_id.strip(), private_key.strip()
    if not app_id and not private_key:
        return None
    if not (app_id and private_key):
        missing = "private key" if app_id else "app id"
        raise ConfigError(
            f"a GitHub App needs both its app id and its private key; the {missing} is missing",
            hint="set both (`app_id` and `app_private_key`), or neither",
            settings=("app_id", "app_private_key"),
        )
    if not app_id.isdigit():
        raise ConfigError(
            f"the GitHub App id must be a number, not {app_id[:20]!r}",
            settings=("app_id",),
        )
    if "PRIVATE KEY" not in private_key:
        raise ConfigError(
            "the GitHub App private key is not a PEM key (it starts with "
            "'-----BEGIN RSA PRIVATE KEY-----')",
            hint="paste the whole .pem file GitHub gave you",
            settings=("app_private_key",),
        )
    return AppCredentials(int(app_id), private_key)


def installation_token(app: AppCredentials, full_name: str, api_url: str | None = None) -> str:
    """A token of the App's installation on ``full_name`` (it expires within the hour)."""
    import github  # PyGithub: heavy, imported on use

    url = resolve_api_url(api_url)
    owner, name = _check_full_name(full_name).split("/", 1)
    what = Operation(
        f"get a token of GitHub App {app.app_id} for {full_name}",
        "the App installed on the repository",
        f"repository {full_name}",
    )
    try:
        auth = github.Auth.AppAuth(app.app_id, app.private_key)
        integration = github.GithubIntegration(auth=auth, base_url=url)
        installation = integration.get_repo_installation(owner, name)
        return integration.get_access_token(installation.id).token
    except ForgeError:
        raise
    except ValueError as exc:  # a key that does not load
        raise ConfigError(
            f"the GitHub App private key cannot be used: {type(exc).__name__}",
            hint="paste the whole .pem file GitHub gave you",
            settings=("app_private_key",),
        ) from None
    except Exception as exc:
        raise translate(exc, what, token=None, api_url=url) from None
