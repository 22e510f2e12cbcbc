"""A refusal the users' endpoints answer with (the CLI prints its message as is)."""

from __future__ import annotations

from aiohttp import web


class Refused(Exception):
    """An answer for the client: HTTP status, a short code for programs, words for people."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def response(self) -> web.Response:
        return web.json_response({"error": self.code, "message": self.message}, status=self.status)
