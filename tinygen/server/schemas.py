"""Request and response bodies of the HTTP API (pydantic; they generate the OpenAPI schema).

JSON field names are camelCase (``repoUrl``, ``runId``), as in the original tinygen service.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from tinygen.server.config import DEFAULT_MAX_PROMPT_CHARS
from tinygen.server.jobs import Job

MAX_CHECKS = 10

JobStateName = Literal["queued", "running", "succeeded", "failed", "cancelled"]


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class AnalyzeRequest(_Model):
    """The original service's body: a repository and what to change in it."""

    repo_url: str = Field(
        min_length=1,
        max_length=2048,
        description="https://github.com/OWNER/NAME or git@github.com:OWNER/NAME.git "
        "(file:// URLs and paths only when the server runs with --allow-local)",
        examples=["https://github.com/octocat/Hello-World"],
    )
    prompt: str = Field(
        min_length=1,
        description=f"the change request (at most {DEFAULT_MAX_PROMPT_CHARS} characters "
        "by default; see --max-prompt-chars)",
        examples=["Rename load_cfg to load_config everywhere"],
    )


class JobRequest(AnalyzeRequest):
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
        description="Anthropic model (default: the server's)",
    )
    checks: list[str] | None = Field(
        default=None,
        max_length=MAX_CHECKS,
        description="commands run on the changed tree (only when the server runs with "
        "--allow-checks)",
    )


class ErrorInfo(_Model):
    message: str
    hint: str | None = None
    kind: str = Field(description="the tinygen error class, e.g. RepoError, LLMAuthError")
    exit_code: int | None = Field(default=None, description="the CLI's exit code for it")


class JobResult(_Model):
    """What the pipeline produced (see `tinygen run --json`)."""

    status: str = Field(description="approved, unverified, no_change, unapproved, invalid, ...")
    message: str
    diff: str
    run_id: str
    plan: dict[str, Any] | None = None
    verdict: dict[str, Any] | None = None
    files: list[dict[str, Any]] = []
    validation: dict[str, Any] | None = None
    checks: list[dict[str, Any]] = []
    usage: dict[str, Any] = {}
    cost_usd: float | None = None
    timings: dict[str, float] = {}
    rounds: int = 0
    model: str = ""
    base_commit: str = ""

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


class Health(_Model):
    status: Literal["ok"] = "ok"
    workers: int
    queue_size: int
    jobs: dict[str, int]


__all__ = [
    "AnalyzeRequest",
    "AnalyzeResponse",
    "ErrorBody",
    "ErrorInfo",
    "Health",
    "JobCreated",
    "JobList",
    "JobRequest",
    "JobResult",
    "JobSummary",
    "JobView",
    "summary_of",
]
