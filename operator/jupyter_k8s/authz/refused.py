"""A refusal the users' endpoints answer with (the CLI prints its message as is), and the
bearer-token identity those endpoints require."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .decide import Identity


class Refused(Exception):
    """An answer for the client: HTTP status, a short code for programs, words for people."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def response(self) -> web.Response:
        return web.json_response({"error": self.code, "message": self.message}, status=self.status)


async def bearer_identity(authorizer: Any, request: web.Request) -> Identity:
    """The user of the IdP token in `Authorization: Bearer` (verified by oauth2-proxy); cookies
    are not read, so a web page cannot ride a browser's session here. Else Refused (401)."""
    if not request.headers.get("Authorization", "").lower().startswith("bearer "):
        raise Refused(401, "unauthenticated", "sign in first: jk login <platform URL>")
    who: Identity | None = await authorizer.identity(request, cookies=False)
    if who is None:
        raise Refused(
            401, "unauthenticated", "your sign-in is not valid (expired?): jk login again"
        )
    return who
