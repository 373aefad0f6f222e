"""Request and response bodies of the HTTP API (pydantic; they generate the OpenAPI schema).

JSON field names are camelCase (``repoUrl``, ``runId``), as in the original tinygen service.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from tinygen.server.config import DEFAULT_MAX_PROMPT_CHARS, MAX_PROMPT_CHARS_CEILING
from tinygen.server.jobs import Job

MAX_CHECKS = 10
MAX_VOTE = 8  # the default max_samples: a larger k could never be reached

JobStateName = Literal["queued", "running", "succeeded", "failed", "cancelled"]


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class AnalyzeRequest(_Model):
    """A change request: a repository and what to change in it (the original service's
    ``repoUrl`` and ``prompt``), optionally the ref, model and checks. ``/analyze`` and
    ``/jobs`` take the same body; a field not listed here is refused (422 naming it), so a
    misspelt ``ref`` never silently runs on the default branch."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    repo_url: str = Field(
        min_length=1,
        max_length=2048,
        description="https://github.com/OWNER/NAME or git@github.com:OWNER/NAME.git "
        "(file:// URLs and paths only on a server that allows local repositories)",
        examples=["https://github.com/octocat/Hello-World"],
    )
    prompt: str = Field(
        min_length=1,
        max_length=MAX_PROMPT_CHARS_CEILING,
        description=f"the change request (at most {DEFAULT_MAX_PROMPT_CHARS} characters "
        "unless the server says otherwise)",
        examples=["Rename load_cfg to load_config everywhere"],
    )
    ref: str | None = Field(
        default=None,
        max_length=255,
        pattern=r"^[A-Za-z0-9_][A-Za-z0-9._/\-]*$",
        description="branch, tag or full commit sha (default: the default branch)",
    )
    model: str | None = Field(
        default=None,
        max_length=100,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@\-]*$",
        description="the model (default: the server's); only models the server allows",
    )
    checks: list[str] | None = Field(
        default=None,
        max_length=MAX_CHECKS,
        description="commands run on the changed tree (only on a server that allows checks)",
    )
    vote: int | None = Field(
        default=None,
        ge=0,
        le=MAX_VOTE,
        description="sample each file's edit and the review until one outcome leads by this "
        "many votes (0: off; default: the repository's configuration)",
    )
    max_cost: float | None = Field(
        default=None,
        gt=0,
        description="the job's cost limit in US dollars: no model call that could pass it is "
        "made, and the job ends as budget_exceeded with its best valid diff; never more "
        "than the server's own limit per job",
    )


class JobRequest(AnalyzeRequest):
    """The body of ``POST /jobs``: the same as ``/analyze``'s."""


def request_fields() -> list[str]:
    """The fields a change request may have, as clients spell them."""
    return [f.alias or name for name, f in AnalyzeRequest.model_fields.items()]


class ErrorInfo(_Model):
    message: str
    hint: str | None = None
    kind: str = Field(description="the tinygen error class, e.g. RepoError, LLMAuthError")
    exit_code: int | None = Field(default=None, description="the CLI's exit code for it")


class PlannedFile(_Model):
    path: str
    action: Literal["create", "modify", "delete"]
    intent: str
    see_also: list[str] = []


class Plan(_Model):
    """The brainstorm pass's plan."""

    summary: str
    title: str
    files: list[PlannedFile] = []
    files_read: list[str] = Field(default=[], description="files the model asked to read first")


class Revision(_Model):
    path: str
    feedback: str


class Verdict(_Model):
    """The verify pass's last verdict."""

    approved: bool
    summary: str
    revisions: list[Revision] = []
    round: int = 0
    vote: dict[str, Any] | None = None


class FileOutcome(_Model):
    path: str
    action: Literal["create", "modify", "delete"]
    attempts: int = 0
    notes: str = ""
    error: str | None = Field(default=None, description="why the file could not be edited")
    vote: dict[str, Any] | None = Field(
        default=None, description="with vote: samples, votes, redFlags, margin, confidence"
    )


class Problem(_Model):
    check: str = Field(description="parse, path, apply or syntax")
    message: str
    path: str | None = None


class Validation(_Model):
    """The validation gate's report on the final diff."""

    ok: bool
    base_commit: str
    files: list[str] = []
    checks_run: list[str] = []
    problems: list[Problem] = []


class CheckOutcome(_Model):
    command: str
    exit_code: int | None = Field(description="None when it timed out or could not start")
    timed_out: bool
    seconds: float
    ok: bool
    output_tail: str


class Usage(_Model):
    """Tokens of all the job's model calls (``inputTokens`` excludes cached tokens)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    calls: int = 0


class JobResult(_Model):
    """What the pipeline produced (see `tinygen run --json`)."""

    status: str = Field(description="approved, unverified, no_change, unapproved, invalid, ...")
    message: str
    diff: str
    run_id: str
    plan: Plan | None = None
    verdict: Verdict | None = None
    files: list[FileOutcome] = []
    validation: Validation | None = None
    checks: list[CheckOutcome] = []
    usage: Usage = Usage()
    cost_usd: float | None = None
    timings: dict[str, float] = Field(default={}, description="seconds per stage")
    rounds: int = 0
    model: str = ""
    base_commit: str = ""
    default_branch: str | None = None
    low_agreement: bool = Field(
        default=False, description="a vote ended without a lead; its plurality was taken"
    )
    estimate: dict[str, Any] | None = Field(
        default=None, description="the cost projected before the first model call"
    )
    max_cost: float | None = Field(default=None, description="the job's cost limit (US dollars)")
    summaries: dict[str, Any] | None = Field(
        default=None,
        description='with summaries = "auto": what the summaries made first did (made, calls, '
        "usage, cost_usd: its part of costUsd, limit_usd, skipped); null otherwise",
    )

    @classmethod
    def from_store(cls, data: dict[str, Any]) -> JobResult:
        return cls.model_validate({k: v for k, v in data.items() if k in cls.model_fields})


class JobSummary(_Model):
    id: str
    state: JobStateName
    stage: str | None = None
    repo_url: str
    ref: str | None = None
    created_at: float = Field(description="seconds since the epoch")
    started_at: float | None = None
    finished_at: float | None = None
    status: str | None = Field(default=None, description="the run's status once succeeded")


class JobView(JobSummary):
    prompt: str
    model: str | None = None
    cancel_requested: bool = False
    result: JobResult | None = None
    error: ErrorInfo | None = None

    @classmethod
    def of(cls, job: Job) -> JobView:
        return cls(**_summary_fields(job), **_detail_fields(job))


def _summary_fields(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "state": str(job.state),
        "stage": job.stage,
        "repo_url": job.spec.repo_url,
        "ref": job.spec.ref,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "status": (job.result or {}).get("status"),
    }


def _detail_fields(job: Job) -> dict[str, Any]:
    return {
        "prompt": job.spec.prompt,
        "model": job.spec.model,
        "cancel_requested": job.cancel_requested,
        "result": JobResult.from_store(job.result) if job.result else None,
        "error": ErrorInfo.model_validate(job.error) if job.error else None,
    }


def summary_of(job: Job) -> JobSummary:
    return JobSummary(**_summary_fields(job))


class JobList(_Model):
    jobs: list[JobSummary]


class JobCreated(_Model):
    id: str
    state: JobStateName
    url: str = Field(description="GET it for the job's state and result")
    events_url: str = Field(description="server-sent events with the job's progress")


class AnalyzeResponse(JobResult):
    """The original service's answer ({"diff", "status", "runId"}) plus the run's details."""

    job_id: str


class ErrorBody(_Model):
    detail: str
    hint: str | None = None
    job_id: str | None = None
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="for 422: one entry per bad field ({field, message})"
    )


class DatabaseHealth(_Model):
    kind: Literal["sqlite", "postgresql"]
    ok: bool = Field(description="the job database answers")
    notifications: bool = Field(
        description="changes made by other servers reach this one at once (PostgreSQL "
        "LISTEN); while false, event streams catch up when it reconnects"
    )


class Health(_Model):
    status: Literal["ok", "degraded"] = Field(
        description="degraded (with HTTP 503) when fewer workers are alive than configured, "
        "or the job database cannot be reached"
    )
    workers: int = Field(description="configured worker threads")
    live_workers: int
    worker_restarts: int = Field(description="worker threads replaced since the start")
    queue_size: int
    jobs: dict[str, int]
    oldest_running_seconds: float | None = Field(
        default=None, description="how long the longest-running job has run"
    )
    database: DatabaseHealth
    lost_jobs: int = Field(
        default=0,
        description="running jobs (of any server) this server marked failed because their "
        "lease ran out",
    )


__all__ = [
    "AnalyzeRequest",
    "AnalyzeResponse",
    "DatabaseHealth",
    "ErrorBody",
    "ErrorInfo",
    "Health",
    "JobCreated",
    "JobList",
    "JobRequest",
    "JobResult",
    "JobSummary",
    "JobView",
    "request_fields",
    "summary_of",
]
