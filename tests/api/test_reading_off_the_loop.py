"""A message being read never holds up the server: reads run off the event loop."""

from __future__ import annotations

import threading

import httpx2

from mailfiler.api.app import create_app
from mailfiler.core.message import Message
from mailfiler.service import Service
from tests.api.conftest import PASSWORDS, Api
from tests.conftest import fixture_bytes, serving


def test_the_server_answers_others_while_a_message_is_being_read(api: Api) -> None:
    reading, release = threading.Event(), threading.Event()
    real = api.org.service

    def slow_reader(data: bytes) -> Message:
        reading.set()
        release.wait(30)  # a message that takes long to read
        return real.reader(data)

    service = Service(real.settings, real.database, reader=slow_reader)
    with serving(create_app(service.settings, service)) as url:
        signed = httpx2.post(
            f"{url}/api/v1/session",
            json={"cloud_id": api.org.cloud_id, "username": "jdoe", "password": PASSWORDS["jdoe"]},
        ).json()
        headers = {"Authorization": f"Bearer {signed['token']}", "Content-Type": "message/rfc822"}
        answers: list[int] = []
        poster = threading.Thread(
            target=lambda: answers.append(
                httpx2.post(
                    f"{url}/api/v1/messages",
                    content=fixture_bytes("encoded-words.eml"),
                    headers=headers,
                    timeout=60,
                ).status_code
            )
        )
        poster.start()
        assert reading.wait(30)
        # The read is under way and not finished: the server still answers.
        assert httpx2.get(f"{url}/healthz", timeout=5).status_code == 200
        assert (
            httpx2.get(
                f"{url}/api/v1/session",
                headers={"Authorization": headers["Authorization"]},
                timeout=5,
            ).status_code
            == 200
        )
        assert not answers
        release.set()
        poster.join(30)
        assert answers == [201]
