"""`tinygen serve`'s documentation pages work offline (issue 12 item 20): /docs (Swagger UI)
and /redoc load every script, style and icon from the server itself — packaged assets,
not a CDN — without a token, and Swagger UI is one that renders FastAPI's OpenAPI 3.1.
A real uvicorn server and the real httpx client."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

import httpx
import pytest

from tests import test_server_api as api
from tests.fakes.anthropic_server import FakeAnthropic
from tinygen.server.config import ServerConfig
from tinygen.server.serving import RunningServer

fake = api.fake
config = api.config
serve = api.serve

TOKEN = "docs-test-token-0123456789abcdef"
REFERENCE = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        ("/docs", {"swagger-ui-bundle.js", "swagger-ui.css", "favicon.png"}),
        ("/redoc", {"redoc.standalone.js", "favicon.png"}),
    ],
)
def test_doc_pages_load_only_from_the_server(
    fake: FakeAnthropic,
    config: ServerConfig,
    serve: Callable[[ServerConfig], RunningServer],
    page: str,
    expected: set[str],
) -> None:
    server = serve(replace(config, token=TOKEN))  # the pages need no token, the API does
    with httpx.Client(base_url=server.url, timeout=30) as client:
        answer = client.get(page)
        assert answer.status_code == 200, answer.text
        html = answer.text
        assert not re.search(r"https?://", html), html  # nothing from another host
        references = REFERENCE.findall(html)
        assert {ref.rsplit("/", 1)[-1] for ref in references} == expected
        for ref in references:
            assert ref.startswith("/docs/assets/"), ref
            asset = client.get(ref)
            assert asset.status_code == 200, ref
            kind = asset.headers["content-type"]
            assert kind.split(";")[0] in ("text/javascript", "text/css", "image/png"), kind
            assert len(asset.content) > (100_000 if ref.endswith((".js", ".css")) else 100)
        spec = client.get("/openapi.json").json()
        assert spec["openapi"].startswith("3.1")
        if page == "/docs":
            bundle = client.get("/docs/assets/swagger-ui-bundle.js").text
            assert "isOAS31" in bundle  # Swagger UI 5: renders OpenAPI 3.1 (4.x does not)
            assert client.get("/docs/oauth2-redirect").status_code == 200
        assert client.get("/jobs").status_code == 401  # the API itself still needs the token
        assert client.get("/docs/assets/index.html").status_code == 401  # only listed files
