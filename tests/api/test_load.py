"""A message read alone is answered on the event loop; never while other requests wait."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from mailfiler.api.app import create_app
from mailfiler.api.routes import messages
from tests.api.conftest import Api
from tests.conftest import fixture_bytes


def _scope(token: str, body: bytes) -> dict[str, Any]:
    headers = [
        (b"host", b"test"),
        (b"authorization", f"Bearer {token}".encode()),
        (b"content-type", b"message/rfc822"),
        (b"content-length", str(len(body)).encode()),
    ]
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/api/v1/messages", "raw_path": b"/api/v1/messages",
        "query_string": b"", "root_path": "", "headers": headers,
        "client": ("127.0.0.1", 1), "server": ("test", 80), "state": {},
    }  # fmt: skip


async def _read(app: Any, token: str, body: bytes, held: asyncio.Event | None = None) -> int:
    """POST /messages over ASGI; ``held``: the body arrives only once it is set."""
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if delivered:
            await asyncio.Event().wait()  # no disconnect: wait for ever
        if held is not None:
            await held.wait()
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    status = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await app(_scope(token, body), receive, send)
    return status[0]


def test_reads_use_the_thread_pool_only_when_others_are_in_flight(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = api.sign_in()["Authorization"].split()[1]
    body = fixture_bytes("encoded-words.eml")
    app = create_app(api.org.service.settings, api.org.service)
    threads: list[threading.Thread] = []
    upload = messages._upload

    def watched(*args: Any) -> Any:
        threads.append(threading.current_thread())
        return upload(*args)

    monkeypatch.setattr(messages, "_upload", watched)

    async def scenario() -> None:
        loop_thread = threading.current_thread()
        assert await _read(app, token, body) == 201
        assert threads[-1] is loop_thread  # alone: no hop to the pool

        held = asyncio.Event()
        waiting = asyncio.create_task(_read(app, token, body, held))
        await asyncio.sleep(0.05)  # the first request is in flight, its body not yet in
        assert await _read(app, token, body) == 201
        assert threads[-1] is not loop_thread  # another request waits: the pool
        held.set()
        assert await waiting == 201

    asyncio.run(scenario())
    assert len(threads) == 3
