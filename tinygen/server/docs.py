"""The API's documentation pages from packaged assets: Swagger UI at ``/docs`` and ReDoc at
``/redoc`` load their scripts, styles and icon from this server (``/docs/assets/...``),
never from a CDN, so they work offline, behind a firewall and under a strict content
policy.

The assets come from the ``fastapi-offline`` package (server extra): it ships Swagger UI 5
and ReDoc 2 as plain files and needs nothing besides FastAPI. (``swagger-ui-bundle`` ships
Swagger UI 4, which cannot render the OpenAPI 3.1 documents FastAPI writes; its maintained
fork installs under the same import name.) Only its files are used, found without
importing it; the pages themselves are FastAPI's own. Like the rest of the application,
this module needs the server extra. FastAPI reads the handlers' annotations at runtime, so
this module does not use ``from __future__ import annotations``.
"""

import importlib.util
from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import FileResponse, HTMLResponse

from tinygen.errors import ConfigError

ASSET_PREFIX = "/docs/assets/"
# name -> media type: the files served, and nothing else from that folder
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "redoc.standalone.js": "text/javascript",
    "favicon.png": "image/png",
}
OAUTH2_REDIRECT = "/docs/oauth2-redirect"
PAGES = ("/docs", OAUTH2_REDIRECT, "/redoc", *(ASSET_PREFIX + name for name in ASSETS))


def assets_dir() -> Path:
    """The folder of the packaged assets; ConfigError when they are not installed."""
    spec = importlib.util.find_spec("fastapi_offline")
    folder = None
    if spec is not None and spec.submodule_search_locations:
        folder = Path(next(iter(spec.submodule_search_locations))) / "static"
    if folder is None or not all((folder / name).is_file() for name in ASSETS):
        raise ConfigError(
            "the API documentation's assets are not installed (package fastapi-offline)",
            hint="reinstall tinygen with its server extra: pip install 'tinygen[server]'",
        )
    return folder


def add_docs(app: FastAPI, title: str) -> None:
    """``/docs``, its OAuth2 redirect, ``/redoc`` and their assets on ``app`` (which must be
    made with ``docs_url=None, redoc_url=None``)."""
    folder = assets_dir()

    def asset(request: Request, name: str) -> str:
        return f"{request.scope.get('root_path', '')}{ASSET_PREFIX}{name}"

    def openapi(request: Request) -> str:
        return f"{request.scope.get('root_path', '')}{app.openapi_url}"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi(request),
            title=f"{title} - Swagger UI",
            oauth2_redirect_url=OAUTH2_REDIRECT,
            swagger_js_url=asset(request, "swagger-ui-bundle.js"),
            swagger_css_url=asset(request, "swagger-ui.css"),
            swagger_favicon_url=asset(request, "favicon.png"),
        )

    @app.get(OAUTH2_REDIRECT, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi(request),
            title=f"{title} - ReDoc",
            redoc_js_url=asset(request, "redoc.standalone.js"),
            redoc_favicon_url=asset(request, "favicon.png"),
            with_google_fonts=False,
        )

    # one fixed route per file: nothing from the request reaches the file system
    for name, media_type in ASSETS.items():
        app.add_api_route(
            ASSET_PREFIX + name,
            _file(folder / name, media_type),
            methods=["GET"],
            include_in_schema=False,
        )


def _file(path: Path, media_type: str) -> Callable[[], Awaitable[FileResponse]]:
    """A route answering with ``path`` (it takes no parameters at all)."""

    async def serve() -> FileResponse:
        return FileResponse(path, media_type=media_type, headers={"Cache-Control": "max-age=86400"})

    return serve


__all__ = ["ASSETS", "ASSET_PREFIX", "PAGES", "add_docs", "assets_dir"]
