"""The request gate: a plain ASGI middleware every request passes before routing.

It checks the bearer token and the body size from the headers alone, refuses an oversized
body (413) before anything reads or parses it, and — on a server without a token — refuses
requests whose Host or Origin is not a loopback name (DNS rebinding). The bearer scheme
is also declared as a FastAPI dependency, so ``/openapi.json`` documents it.

FastAPI reads that dependency's annotations at runtime, so this module does not use
``from __future__ import annotations``. It needs the server extra, like the application.
"""

import hmac
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Annotated, Any

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tinygen.server.config import is_loopback, split_tokens
from tinygen.server.docs import PAGES as DOC_PAGES
from tinygen.server.errors import ApiError, error_body
from tinygen.server.jobs import key_fingerprint

AUTH_HINT = "send an Authorization header with the server token as a bearer token"
PUBLIC_PATHS = frozenset({"/healthz", "/openapi.json", *DOC_PAGES})  # the docs and their assets

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def host_part(netloc: str) -> str:
    """The host of ``host[:port]`` or ``[v6][:port]``."""
    if netloc.startswith("["):
        return netloc[: netloc.find("]") + 1] if "]" in netloc else netloc
    return netloc.rsplit(":", 1)[0] if netloc.count(":") == 1 else netloc


class RequestGate:
    """Authentication and a body size limit before anything reads or parses the body.

    FastAPI reads a whole body before a dependency could refuse it, so a client without
    credentials could make the server hold hundreds of megabytes. Here the token is checked
    from the headers alone, a declared ``Content-Length`` over the limit is refused at once,
    and a streamed body is counted as it arrives and refused the moment it passes the limit;
    what is accepted is handed on to the application, already read.
    """

    def __init__(self, app: ASGIApp, *, token: str | None, max_body: int) -> None:
        self.app = app
        self.tokens = [t.encode("utf-8") for t in split_tokens(token)]  # the client keys
        self.max_body = max_body

    def _foreign(self, headers: dict[str, bytes]) -> str | None:
        """Without a token the server listens on loopback only, but a web page can still
        reach it: DNS rebinding points the page's own name at 127.0.0.1, making its
        requests same-origin. They carry that name in Host (and Origin), so refuse any
        request whose Host or Origin is not a loopback name. With a token this is moot."""
        if self.tokens:
            return None
        host = headers.get("host", b"").decode("latin-1")
        if not is_loopback(host_part(host)):
            return f"Host {host!r}"
        origin = headers.get("origin")
        if origin is not None:
            text = origin.decode("latin-1")
            netloc = text.split("://", 1)[1] if "://" in text else ""
            if not netloc or not is_loopback(host_part(netloc)):
                return f"Origin {text!r}"
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v for k, v in scope.get("headers", [])}
        foreign = self._foreign(headers)
        if foreign is not None:
            await _reply(
                send,
                403,
                error_body(
                    f"refused: {foreign} is not this loopback server (DNS rebinding guard)",
                    "call the server as http://127.0.0.1:PORT or http://localhost:PORT, or "
                    "set TINYGEN_SERVER_TOKEN to serve other names",
                ),
                [],
            )
            return
        if self.tokens and scope.get("path") not in PUBLIC_PATHS:
            scheme, _, given = headers.get("authorization", b"").partition(b" ")
            if scheme.lower() != b"bearer" or not known_key(given.strip(), self.tokens):
                await _reply(
                    send,
                    401,
                    error_body("missing or wrong bearer token", AUTH_HINT),
                    [(b"www-authenticate", b"Bearer")],
                )
                return
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            await self._too_large(send)
            return
        body = bytearray()
        pending: Message | None = None
        while True:
            message = await receive()
            if message["type"] != "http.request":
                pending = message  # the client left: let the application see it
                break
            body += message.get("body", b"")
            if len(body) > self.max_body:
                await self._too_large(send)
                return
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed, pending
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            if pending is not None:
                message, pending = pending, None
                return message
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, send: Send) -> None:
        await _reply(
            send,
            413,
            error_body(
                f"the request body is larger than this server accepts ({self.max_body} bytes)",
                "send a shorter prompt",
            ),
            [(b"connection", b"close")],
        )


async def _reply(
    send: Send, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]]
) -> None:
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})


def known_key(given: bytes, tokens: list[bytes]) -> bool:
    """Whether ``given`` is one of the keys. compare_digest with every one: the time taken
    reveals neither how much of a key matched nor which key it was."""
    matches = [hmac.compare_digest(given, token) for token in tokens]
    return any(matches)


def client_key(authorization: str | None, token: str | None) -> str:
    """Who submits a job, as the store keeps it: the fingerprint of the bearer key (already
    checked by the gate), or ``anonymous`` on a server without keys."""
    if not split_tokens(token):
        return "anonymous"
    _, _, given = (authorization or "").partition(" ")
    return key_fingerprint(given.strip())


def bearer_dependencies(token: str | None) -> list[Any]:
    """Route dependencies declaring the bearer scheme (none without a token)."""
    if not split_tokens(token):
        return []
    expected = [t.encode("utf-8") for t in split_tokens(token)]
    bearer = HTTPBearer(auto_error=False, description="TINYGEN_SERVER_TOKEN")

    def authenticate(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> None:
        # RequestGate already refused wrong tokens; this documents the scheme in
        # /openapi.json and stays as a second check.
        given = (credentials.credentials if credentials else "").encode("utf-8")
        if not known_key(given, expected):
            raise ApiError(
                401,
                "missing or wrong bearer token",
                hint=AUTH_HINT,
                headers={"WWW-Authenticate": "Bearer"},
            )

    return [Depends(authenticate)]


__all__ = [
    "AUTH_HINT",
    "PUBLIC_PATHS",
    "RequestGate",
    "bearer_dependencies",
    "client_key",
    "host_part",
    "known_key",
]
