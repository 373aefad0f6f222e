"""Request checks that need the server's settings (pydantic did the static ones): the
repository URL policy, the prompt's length, the ref, the model allow-list and checks.

Each refusal is a 422 naming the field as the client spells it (``repoUrl``, ``ref``, ...).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from tinygen.delivery.branches import validate_branch_name
from tinygen.errors import RepoError
from tinygen.redact import redact
from tinygen.repo.spec import github_page, parse_repo_spec
from tinygen.server.config import ServerConfig
from tinygen.server.errors import field_error
from tinygen.server.jobs import JobSpec
from tinygen.server.schemas import AnalyzeRequest

MAX_CHECK_CHARS = 1000


def repo_url_hint(config: ServerConfig) -> str:
    """What this server takes as ``repoUrl``, in the API's words (never a flag or setting)."""
    hosts = sorted({h.lower() for h in config.allowed_hosts})
    host = hosts[0] if len(hosts) == 1 else "HOST"
    where = f" (allowed hosts: {', '.join(hosts)})" if hosts else ""
    local = ", or file:///PATH to a repository on the server" if config.allow_local else ""
    return f"send repoUrl as https://{host}/OWNER/NAME or git@{host}:OWNER/NAME.git{where}{local}"


def check_repo_url(url: str, config: ServerConfig) -> str:
    """The URL as jobs will use and store it (normalised), or a 422 naming ``repoUrl``
    whose hint says what to send instead (the library's hints name settings and flags)."""
    try:
        spec = parse_repo_spec(url, allow_local=config.allow_local)
    except RepoError as exc:
        page = github_page(url)
        if page is not None:  # a GitHub web page: the repository's URL and its ref
            also = f" and ref {page.value}" if page.setting == "ref" else ""
            hint = f"send repoUrl {page.repo_url}{also}"
        else:
            hint = repo_url_hint(config)
        raise field_error("repoUrl", redact(exc.message), hint=redact(hint)) from None
    hint = repo_url_hint(config)
    if spec.kind in ("local", "bare", "file"):
        return spec.url  # parse_repo_spec refuses these unless allow_local
    if spec.kind in ("https", "http") and urlsplit(url.strip()).username is not None:
        # A token in the user part would be stored with the job and shown to every client.
        raise field_error(
            "repoUrl",
            "it contains a user name or token; send the URL without it (this server uses "
            "its own credentials)",
            hint=hint,
        )
    if spec.kind not in ("https", "ssh"):
        raise field_error(
            "repoUrl", f"{spec.kind}:// is not allowed; use an https:// or git@host: URL", hint=hint
        )
    allowed = {h.lower() for h in config.allowed_hosts}
    if (spec.host or "") not in allowed:
        raise field_error(
            "repoUrl",
            f"the host {spec.host!r} is not allowed on this server (allowed: "
            + ", ".join(sorted(allowed))
            + ")",
            hint=hint,
        )
    if spec.full_name is None:
        raise field_error(
            "repoUrl", "expected a repository URL of the form HOST/OWNER/NAME", hint=hint
        )
    owners = {o.lower() for o in config.allowed_owners}
    if owners and (spec.owner or "").lower() not in owners:
        raise field_error(
            "repoUrl",
            f"the owner {spec.owner!r} is not allowed on this server (allowed: "
            + ", ".join(sorted(owners))
            + ")",
            hint=hint,
        )
    return spec.url


def check_ref(ref: str) -> None:
    """A 422 on ``ref`` unless git accepts it as a branch or tag name (``git
    check-ref-format``, as delivery checks the branches it creates); a full commit sha
    passes too."""
    try:
        validate_branch_name(ref)
    except RepoError:
        raise field_error(
            "ref",
            "is not a valid git ref name (git check-ref-format refuses it: no '..', '//', "
            "trailing '/' or '.', no part starting with '.' or ending in '.lock')",
        ) from None


def job_spec(
    body: AnalyzeRequest, config: ServerConfig, models: tuple[str, ...] | None = None
) -> JobSpec:
    """The job a request asks for, or a 422 naming the first bad field. ``models``: the
    allowed models (default: ``config.models()``)."""
    if not body.prompt.strip():
        raise field_error("prompt", "is blank; say what to change")
    if len(body.prompt) > config.max_prompt_chars:
        raise field_error(
            "prompt",
            f"has {len(body.prompt)} characters; this server accepts at most "
            f"{config.max_prompt_chars}",
        )
    url = check_repo_url(body.repo_url, config)
    if body.ref is not None:
        check_ref(body.ref)
    if body.model is not None:
        allowed = models if models is not None else config.models()
        if body.model not in allowed:
            raise field_error(
                "model",
                f"{body.model!r} is not allowed on this server (allowed: {', '.join(allowed)})",
            )
    checks = tuple(body.checks or ())
    if checks and not config.allow_checks:
        raise field_error(
            "checks",
            "this server does not run commands from requests (its operator has not allowed checks)",
        )
    for command in checks:
        if not command.strip() or len(command) > MAX_CHECK_CHARS:
            raise field_error("checks", f"each check is 1 to {MAX_CHECK_CHARS} characters")
    return JobSpec(
        repo_url=url,
        prompt=body.prompt,
        ref=body.ref,
        model=body.model,
        checks=checks,
        vote=body.vote,
        max_cost=body.max_cost,
    )


__all__ = ["MAX_CHECK_CHARS", "check_ref", "check_repo_url", "job_spec"]
