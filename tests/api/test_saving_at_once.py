"""One message saved from many tabs at once: one record, and everyone else hears "duplicate"."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx2

from mailfiler.api.app import create_app
from tests.api.conftest import Api
from tests.conftest import serving


def test_32_saves_of_one_message_at_once_write_one_record(api: Api) -> None:
    headers = api.sign_in()
    ref = api.read("text-only.eml", headers)["message_ref"]
    app = create_app(api.org.service.settings, api.org.service)
    with serving(app) as url, ThreadPoolExecutor(32) as pool, httpx2.Client(timeout=60) as client:
        answers = list(
            pool.map(
                lambda _: client.post(
                    f"{url}/api/v1/messages/{ref}/interactions",
                    json={"contact_ids": ["101"]},
                    headers=headers,
                ),
                range(32),
            )
        )
    assert [a.status_code for a in answers] == [200] * 32, [a.text for a in answers][:3]
    statuses = sorted(a.json()["results"][0]["status"] for a in answers)
    assert statuses == ["duplicate"] * 31 + ["saved"]
    record_ids = {a.json()["results"][0]["record_id"] for a in answers}
    assert len(record_ids) == 1  # every answer names the one record written
    assert len(api.org.records("101")) == 1
