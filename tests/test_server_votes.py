"""`vote` and `maxCost` over the HTTP API, and the server's cost limit per job: real uvicorn
servers, real git, the real pipeline and SDK against the fake Messages API."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import httpx
import pytest

from tests import test_server_api as api
from tests.fakes.anthropic_server import FakeAnthropic
from tests.test_server_api import EDIT, PLAN, VERIFY, approve, plan_reply, rename_edit
from tinygen.errors import ConfigError
from tinygen.server.config import ServerConfig
from tinygen.server.serving import RunningServer

fake = api.fake
config = api.config
repo_url = api.repo_url
serve = api.serve
client = api.client


def script(fake: FakeAnthropic) -> None:
    fake.on(PLAN, lambda r: plan_reply("app/config.py"))
    fake.on(EDIT, rename_edit)
    fake.on(VERIFY, approve)


def test_a_voted_job_reports_its_votes_and_estimate(
    client: httpx.Client, fake: FakeAnthropic, repo_url: str
) -> None:
    script(fake)
    body = {"repoUrl": repo_url, "prompt": "Rename load_cfg", "vote": 2, "maxCost": 50}
    response = client.post("/analyze", json=body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["status"] == "approved" and result["lowAgreement"] is False
    assert len(fake.requests_for(EDIT)) == 2 and len(fake.requests_for(VERIFY)) == 2
    vote = result["files"][0]["vote"]
    assert vote["samples"] == 2 and vote["margin"] == 2 and vote["decided"] is True
    assert result["verdict"]["vote"]["votes"] == {"approve": 2}
    assert result["maxCost"] == 50 and result["estimate"]["cost_usd"] > 0
    assert 0 < result["costUsd"] <= 50


def test_bad_vote_and_cost_limit_get_422(client: httpx.Client, repo_url: str) -> None:
    for field, value in (("vote", 9), ("vote", -1), ("maxCost", 0), ("maxCost", "a lot")):
        response = client.post("/jobs", json={"repoUrl": repo_url, "prompt": "x", field: value})
        assert response.status_code == 422, (field, value, response.text)
        assert response.json()["errors"][0]["field"] == field


def test_the_servers_cost_limit_caps_every_job(
    fake: FakeAnthropic,
    config: ServerConfig,
    serve: Callable[[ServerConfig], RunningServer],
    repo_url: str,
) -> None:
    script(fake)
    server = serve(replace(config, max_cost=0.001))  # below a first call's worst case
    with httpx.Client(base_url=server.url, timeout=120) as c:
        asked = c.post("/analyze", json={"repoUrl": repo_url, "prompt": "x", "maxCost": 5})
        plain = c.post("/analyze", json={"repoUrl": repo_url, "prompt": "y"})
        events = c.get(f"/jobs/{asked.json()['jobId']}/events").text
    for response in (asked, plain):
        assert response.status_code == 200, response.text
        result = response.json()
        assert result["status"] == "budget_exceeded" and result["maxCost"] == 0.001
        assert result["costUsd"] == 0 and result["usage"]["calls"] == 0 and result["diff"] == ""
    assert fake.requests == []  # no call was made
    limits = [d["message"] for n, d in api.parse_sse(events) if d.get("stage") == "limits"]
    assert limits and "max-cost 5.0 is over this server's limit; using 0.001" in limits[0]


def test_a_request_may_lower_the_servers_cost_limit(
    fake: FakeAnthropic,
    config: ServerConfig,
    serve: Callable[[ServerConfig], RunningServer],
    repo_url: str,
) -> None:
    script(fake)
    server = serve(replace(config, max_cost=100.0))
    with httpx.Client(base_url=server.url, timeout=120) as c:
        lower = c.post("/analyze", json={"repoUrl": repo_url, "prompt": "x", "maxCost": 20})
    assert lower.status_code == 200, lower.text
    assert lower.json()["maxCost"] == 20 and lower.json()["status"] == "approved"


def test_the_server_refuses_a_cost_limit_of_nothing() -> None:
    with pytest.raises(ConfigError):
        ServerConfig(max_cost=0)
