"""Refusing a NUL character in a request's path or query string.

No database column can hold a NUL (PostgreSQL refuses it outright), and no
contact ID, user name or search needs one: the request is a 400, not a fault.
Bodies are checked by their models (``schemas.Incoming``).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from mailfiler.api.errors import problem


class RefuseNul:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (
            "\x00" in scope["path"]
            or b"%00" in scope["query_string"]
            or b"\x00" in scope["query_string"]
        ):
            answer = problem(400, "a request's address cannot hold a NUL character", "bad-request")
            await answer(scope, receive, send)
            return
        await self.app(scope, receive, send)
