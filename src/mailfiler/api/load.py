"""How many requests this server process is answering at this moment.

Lets the hot route (reading a message) skip the thread pool when it is the
only request in the process: the hop there and back costs about half a
millisecond of a five-millisecond answer on a small machine. With anything
else in flight the pool is used, so one request never holds up another.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send


class Load:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.current = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})["load"] = self
        self.current += 1  # one event loop per process: no lock needed
        try:
            await self.app(scope, receive, send)
        finally:
            self.current -= 1


def alone(request: Request) -> bool:
    """Whether this is the only request the process is answering."""
    load: Load | None = getattr(request.state, "load", None)
    return load is not None and load.current == 1
