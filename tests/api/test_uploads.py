"""Messages read and then saved by reference: signed references, no database row."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from mailfiler.api.app import create_app
from mailfiler.errors import Throttled
from mailfiler.service import Service, uploads
from mailfiler.storage.database import Database
from mailfiler.storage.tables import Base, SignInSession
from tests.api import pending
from tests.api.conftest import Api


@contextmanager
def another_server_process(service: Service) -> Iterator[TestClient]:
    """What a second worker of `mailfiler serve` is: the same database and blob folder,
    nothing in memory."""
    twin = Service(service.settings, Database(service.settings.database_url))
    try:
        with TestClient(create_app(service.settings, twin)) as client:
            yield client
    finally:
        twin.database.dispose()


def _save(client: TestClient, ref: str, headers: dict[str, str]) -> tuple[int, dict[str, str]]:
    answer = client.post(f"/api/v1/messages/{ref}/interactions", json={}, headers=headers)
    return answer.status_code, answer.json()


def _rows(api: Api) -> dict[str, int]:
    with api.org.service.unit() as session:
        return {
            table.name: session.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables
            if table is not SignInSession.__table__
        }


def test_a_message_read_by_one_server_process_is_saved_by_another(api: Api) -> None:
    headers = api.sign_in()
    before = _rows(api)
    ref = api.read("encoded-words.eml", headers)["message_ref"]
    if pending.in_database(api.org.service):  # the message itself, for every server
        assert pending.last_read(api.org.service, _opened(api, ref)[1]) is not None
        before.pop("pending_messages")
        after = _rows(api)
        after.pop("pending_messages")
        assert after == before  # and nothing else
    else:
        assert _rows(api) == before  # reading writes nothing to the database
    with another_server_process(api.org.service) as twin:
        status, body = _save(twin, ref, headers)
    assert status == 200
    assert {r["status"] for r in body["results"]} == {"saved"}
    assert {r.contact_id for r in api.org.records()} == {"101", "102", "103"}


def test_a_changed_or_someone_elses_reference_is_not_found(api: Api) -> None:
    jdoe = api.sign_in()
    ref = api.read("encoded-words.eml", jdoe)["message_ref"]
    org, user, rest = ref.split(".", 2)
    for changed in (f"{org}.{int(user) + 1}.{rest}", ref[:-2] + "AA", "nonsense"):
        status, body = _save(api.client, changed, jdoe)
        assert status == 404 and "read it again" in body["detail"], changed
    status, body = _save(api.client, ref, api.sign_in("admin"))
    assert status == 404 and "read it again" in body["detail"]
    assert api.org.records() == []


def test_a_reference_expires_after_a_day(api: Api) -> None:
    headers = api.sign_in()
    ref = api.read("encoded-words.eml", headers)["message_ref"]
    key, upload = _opened(api, ref)
    upload = replace(upload, read_at=int(time.time()) - 86_401)
    status, body = _save(api.client, uploads.reference(key, upload), headers)
    assert status == 404 and "read it again" in body["detail"]
    assert _save(api.client, ref, headers)[0] == 200


def test_damaged_bytes_ask_for_the_message_again(api: Api) -> None:
    headers = api.sign_in()
    ref = api.read("encoded-words.eml", headers)["message_ref"]
    service = api.org.service
    _, upload = _opened(api, ref)
    pending.damage(service, upload)  # a crash before the disk
    with another_server_process(service) as twin:
        status, body = _save(twin, ref, headers)
    assert status == 404 and "read it again" in body["detail"]
    again = api.read("encoded-words.eml", headers)["message_ref"]
    with another_server_process(service) as twin:
        status, body = _save(twin, again, headers)
    assert status == 200 and {r["status"] for r in body["results"]} == {"saved"}


def test_messages_nobody_saved_are_removed_after_a_day(api: Api) -> None:
    headers = api.sign_in()
    service = api.org.service
    old = api.read("encoded-words.eml", headers)["message_ref"]
    recent = api.read("ambiguous.eml", headers)["message_ref"]
    old_one, recent_one = _opened(api, old)[1], _opened(api, recent)[1]
    a_day_ago = time.time() - 86_401
    pending.age(service, old_one, a_day_ago)
    assert service.incoming.prune() >= 1
    assert pending.last_read(service, old_one) is None
    assert pending.last_read(service, recent_one) is not None
    # Reading a message again keeps it another day.
    api.read("ambiguous.eml", headers)
    pending.age(service, recent_one, a_day_ago)
    api.read("ambiguous.eml", headers)
    assert (pending.last_read(service, recent_one) or 0) > a_day_ago + 3600
    service.incoming.prune()
    assert pending.last_read(service, recent_one) is not None


def _opened(api: Api, ref: str) -> tuple[bytes, uploads.Upload]:
    """The installation's signing key, and the upload a reference names."""
    with api.org.service.unit() as session:
        key = uploads.signing_key(session)
    org, user, _ = ref.split(".", 2)
    return key, uploads.find(key, int(org), int(user), ref)


def test_the_parsed_message_cache_keeps_the_most_recent_few(api: Api) -> None:
    cache = uploads.MessageCache(most=2)
    message = api.org.read("encoded-words.eml")
    for ref in ("first", "second", "third"):
        cache.put(ref, message)
    assert cache.get("first") is None
    assert cache.get("second") is message and cache.get("third") is message


def test_a_refusal_says_when_the_oldest_messages_free_enough(tmp_path: Path) -> None:
    incoming = uploads.Incoming(tmp_path)
    with_quota = incoming.arrival(1, 2, quota=1000)
    with_quota.write(b"x" * 600)
    kept = os.path.join(with_quota.folder, uploads.kept_name(with_quota.keep(), 600))
    almost_a_day_ago = time.time() - 23 * 3600
    os.utime(kept, (almost_a_day_ago, almost_a_day_ago))
    with pytest.raises(Throttled) as refused:
        incoming.arrival(1, 2, quota=1000, declared=500)
    assert 0 < refused.value.retry_after <= 3600  # when the one read 23 hours ago is no longer kept
    assert "minutes" in str(refused.value)
    incoming.arrival(1, 3, quota=1000, declared=500).discard()  # another user's: not refused
    assert os.listdir(with_quota.folder) == [os.path.basename(kept)]  # the refused one is gone


def test_pruning_removes_what_a_crashed_process_left_arriving(tmp_path: Path) -> None:
    incoming = uploads.Incoming(tmp_path)
    left = incoming.arrival(1, 2, quota=1000)
    left.write(b"half a message")
    [arriving] = os.listdir(left.folder)
    a_day_ago = time.time() - 86_401
    os.utime(os.path.join(left.folder, arriving), (a_day_ago, a_day_ago))
    assert incoming.prune() == 1
    assert os.listdir(left.folder) == []
    left.discard()  # what the crashed process would have done


def test_a_reference_made_before_forms_were_kept_still_names_a_message_file() -> None:
    """References open when the server is updated go on working for their day: one of seven
    fields names a message's file; one for a message given by its fields says so."""
    key = b"k" * 32
    digest = "ab" * 32
    old = uploads.reference(key, uploads.Upload(1, 2, 1_800_000_000, "read", False, digest, 10))
    assert len(old.split(".")) == 8  # seven fields and the signature, as before
    opened = uploads.find(key, 1, 2, old, now=1_800_000_100)
    assert opened.form == "message" and opened.sha256 == digest
    fields = uploads.Upload(1, 2, 1_800_000_000, "compose", False, digest, 10, "fields")
    assert uploads.find(key, 1, 2, uploads.reference(key, fields), now=1_800_000_100) == fields
