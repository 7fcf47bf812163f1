"""Uploads written to disk as they arrive: hang-ups, each user's quota, and bytes kept exactly."""

from __future__ import annotations

import base64
import glob
import logging
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient

from mailfiler.api.app import create_app
from mailfiler.service import Service, uploads
from tests.api import pending
from tests.api.conftest import PASSWORDS, Api
from tests.conftest import fixture_bytes, new_org, serving

RAW = "message/rfc822"


def _with_quota(service: Service, quota: int) -> Service:
    """Another server process on the same database and folder, with its own quota."""
    return Service(replace(service.settings, upload_quota_bytes=quota), service.database)


def _opened(service: Service, ref: str) -> uploads.Upload:
    with service.unit() as session:
        key = uploads.signing_key(session)
    org, user, _ = ref.split(".", 2)
    return uploads.find(key, int(org), int(user), ref)


def _user_folder(service: Service, ref: str) -> str:
    upload = _opened(service, ref)
    return service.incoming.user_folder(upload.organisation_id, upload.user_id)


def _arriving(folder: str) -> list[str]:
    return glob.glob(os.path.join(folder, ".*"))


def _until(condition: Callable[[], Any], what: str) -> Any:
    """Wait for something the server does on its own time (a generous bound, never a figure)."""
    for _ in range(600):
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def _served_and_logged(app: Any) -> Iterator[tuple[str, list[logging.LogRecord]]]:
    """The app on a real port, and every record it logs until it has stopped: its own, and
    uvicorn's (which do not reach the root logger)."""
    handler = _Records()
    loggers = [logging.getLogger(), logging.getLogger("uvicorn")]
    try:
        with serving(app) as base:
            for logger in loggers:  # once uvicorn has set up its loggers (and their handlers)
                logger.addHandler(handler)
            yield base, handler.records
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


def _token(base: str, api: Api, username: str = "jdoe") -> str:
    answer = httpx2.post(
        f"{base}/api/v1/session",
        json={"cloud_id": api.org.cloud_id, "username": username, "password": PASSWORDS[username]},
    )
    assert answer.status_code == 201, answer.text
    token: str = answer.json()["token"]
    return token


@contextmanager
def _half_sent(base: str, token: str, declared: int, folder: str) -> Iterator[None]:
    """An upload declaring ``declared`` bytes, of which a few have come and been written;
    the client hangs up at the end of the block."""
    head = (
        f"POST /api/v1/messages HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: {RAW}\r\nContent-Length: {declared}\r\n\r\n"
    ).encode()
    before = set(_arriving(folder))
    with socket.create_connection(("127.0.0.1", int(base.rsplit(":", 1)[1]))) as client:
        client.sendall(head + b"Subject: cut off\r\n\r\n" + b"x" * 300_000)
        _until(lambda: _counted(set(_arriving(folder)) - before), "the upload is counted")
        yield


def _counted(paths: set[str]) -> bool:
    """Whether an arriving file has been made as long as its request declared."""
    try:
        return any(os.path.getsize(path) > 0 for path in paths)
    except FileNotFoundError:
        return False


def _hang_ups(records: list[logging.LogRecord]) -> list[logging.LogRecord]:
    return [r for r in records if "hung up" in r.getMessage()]


def test_a_client_that_hangs_up_mid_upload_is_one_log_line_and_leaves_no_file(api: Api) -> None:
    service = api.org.service
    ref = api.read("encoded-words.eml", api.sign_in())["message_ref"]
    folder = _user_folder(service, ref)
    with _served_and_logged(create_app(service.settings, service)) as (base, records):
        token = _token(base, api)
        with _half_sent(base, token, 5_000_000, folder):
            pass
        _until(lambda: _hang_ups(records), "the hang-up is logged")
        assert _arriving(folder) == []  # removed before the line said so
    # The server has stopped: every request it had is over, and all it logged is here.
    logged = [r for r in records if r.levelno >= logging.WARNING]
    assert len(logged) == 1, [r.getMessage() for r in logged]
    [line] = logged
    assert line.exc_info is None and "\n" not in line.getMessage()
    assert "of 5000000 bytes" in line.getMessage()
    read_before = _opened(service, ref)
    assert pending.last_read(service, read_before) is not None
    kept_here = (
        []
        if pending.in_database(service)
        else [os.path.basename(service.incoming.path(read_before))]
    )
    assert os.listdir(folder) == kept_here


def test_a_users_quota_holds_what_they_read_in_the_last_day(api: Api) -> None:
    first, second = fixture_bytes("encoded-words.eml"), fixture_bytes("ambiguous.eml")
    quota = len(first) + len(second) - 1
    one = _with_quota(api.org.service, quota)
    other = _with_quota(api.org.service, quota)  # a second server process sharing the folder
    jdoe = {**api.sign_in(), "Content-Type": RAW}
    with (
        TestClient(create_app(one.settings, one)) as one_client,
        TestClient(create_app(other.settings, other)) as other_client,
    ):
        read = one_client.post("/api/v1/messages", content=first, headers=jdoe)
        assert read.status_code == 201, read.text
        refused = other_client.post("/api/v1/messages", content=second, headers=jdoe)
        assert refused.status_code == 429, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert 0 < int(refused.headers["Retry-After"]) <= 86_400
        detail = refused.json()["detail"]
        assert detail.startswith("The messages you read in the last day are kept for saving")
        assert f"your limit of {quota:,} bytes".replace(",", " ") in detail
        assert "read it again in" in detail and "MAILFILER_UPLOAD_QUOTA_BYTES" in detail
        assert _arriving(_user_folder(one, read.json()["message_ref"])) == []

        # Each user of each organisation has a quota of their own.
        admin = {**api.sign_in("admin"), "Content-Type": RAW}
        assert other_client.post("/api/v1/messages", content=second, headers=admin).is_success
        elsewhere = Api(api.client, new_org(api.org.service))
        someone = {**elsewhere.sign_in(), "Content-Type": RAW}
        assert other_client.post("/api/v1/messages", content=first, headers=someone).is_success
        assert (
            other_client.post("/api/v1/messages", content=second, headers=someone).status_code
            == 429
        )

        # A message read over a day ago is no longer open, and no longer counts.
        kept = _opened(one, read.json()["message_ref"])
        pending.age(one, kept, time.time() - 86_401)
        again = other_client.post("/api/v1/messages", content=second, headers=jdoe)
        assert again.status_code == 201, again.text


def test_a_message_larger_than_the_quota_itself_is_413(api: Api) -> None:
    message = fixture_bytes("encoded-words.eml")
    small = _with_quota(api.org.service, len(message) - 1)
    with TestClient(create_app(small.settings, small)) as client:
        answer = client.post(
            "/api/v1/messages", content=message, headers={**api.sign_in(), "Content-Type": RAW}
        )
    assert answer.status_code == 413
    assert "a user may have kept for saving" in answer.json()["detail"]


def test_an_upload_under_way_counts_against_the_quota(api: Api) -> None:
    message = fixture_bytes("encoded-words.eml")
    service = _with_quota(api.org.service, 1_000_000)
    ref = api.read("text-only.eml", api.sign_in())["message_ref"]
    folder = _user_folder(service, ref)
    with _served_and_logged(create_app(service.settings, service)) as (base, records):
        token = _token(base, api)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": RAW}
        with _half_sent(base, token, 1_000_000 - len(message) // 2, folder):
            refused = httpx2.post(f"{base}/api/v1/messages", content=message, headers=headers)
            assert refused.status_code == 429, refused.text
        _until(lambda: _hang_ups(records), "the hang-up is logged")
        read = httpx2.post(f"{base}/api/v1/messages", content=message, headers=headers)
        assert read.status_code == 201, read.text


def _attached(size: int) -> bytes:
    """A message with an attachment of ``size`` bytes, written as base64 lines."""
    payload = base64.encodebytes(os.urandom(size)).replace(b"\n", b"\r\n")
    return (
        b"From: Ann <ann.archer@members.example>\r\nTo: bob@members.example\r\n"
        b"Subject: pieces\r\nMessage-ID: <pieces@members.example>\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=part\r\n\r\n--part\r\n"
        b"Content-Type: text/plain\r\n\r\nSee attached.\r\n--part\r\n"
        b"Content-Type: application/octet-stream; name=data.bin\r\n"
        b"Content-Disposition: attachment; filename=data.bin\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + payload + b"\r\n--part--\r\n"
    )


def _pieces(data: bytes, size: int = 10_000) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.mark.parametrize("form", [False, True], ids=["raw", "form"])
def test_a_message_sent_in_pieces_is_kept_byte_for_byte(api: Api, form: bool) -> None:
    service = api.org.service
    message = _attached(700_000)  # several batches of the writer
    body, kind = message, RAW
    if form:
        body = (
            b'--cut\r\nContent-Disposition: form-data; name="file"; filename="a.eml"\r\n\r\n'
            + message
            + b'\r\n--cut\r\nContent-Disposition: form-data; name="note"\r\n\r\nhi\r\n--cut--\r\n'
        )
        kind = "multipart/form-data; boundary=cut"
    with serving(create_app(service.settings, service)) as base:
        headers = {"Authorization": f"Bearer {_token(base, api)}", "Content-Type": kind}
        # A generator: sent chunked, with no length declared.
        answer = httpx2.post(f"{base}/api/v1/messages", content=_pieces(body), headers=headers)
    assert answer.status_code == 201, answer.text
    review = answer.json()
    assert [(a["name"], a["size"]) for a in review["attachments"]] == [("data.bin", 700_000)]
    upload = _opened(service, review["message_ref"])
    assert service.incoming.get(upload) == message


@pytest.mark.parametrize(
    ("form", "reason"),
    [
        (
            b'--cut\r\nContent-Disposition: form-data; name="file"; filename="a.eml"\r\n\r\n'
            b"Subject: x\r\n\r\nhi\r\n",
            "before its closing boundary",
        ),
        (
            b'--cut\r\nContent-Disposition: form-data; name="note"\r\n\r\nhi\r\n--cut--\r\n',
            "a file field named 'file'",
        ),
        (
            b'--cut\r\nContent-Disposition: form-data; name="file"; filename="a.eml"\r\n\r\nx\r\n'
            b'--cut\r\nContent-Disposition: form-data; name="file"; filename="b.eml"\r\n\r\nx\r\n'
            b"--cut--\r\n",
            "more than one file",
        ),
    ],
    ids=["cut-short", "no-file", "two-files"],
)
def test_a_form_that_is_not_one_message_is_a_400_and_keeps_nothing(
    api: Api, form: bytes, reason: str
) -> None:
    headers = {**api.sign_in(), "Content-Type": "multipart/form-data; boundary=cut"}
    answer = api.client.post("/api/v1/messages", content=form, headers=headers)
    assert answer.status_code == 400 and reason in answer.json()["detail"], answer.text
    ref = api.read("text-only.eml", api.sign_in())["message_ref"]
    kept_here = 0 if pending.in_database(api.org.service) else 1  # only the message read
    assert len(os.listdir(_user_folder(api.org.service, ref))) == kept_here


def test_senders_that_stall_do_not_hold_up_everyone_elses_uploads(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mailfiler.api.routes import messages

    monkeypatch.setattr(messages, "STREAMING", 2)  # uploads read at a time, for this server
    service = api.org.service
    ref = api.read("text-only.eml", api.sign_in())["message_ref"]
    folder = _user_folder(service, ref)
    with serving(create_app(service.settings, service)) as base:
        token = _token(base, api)
        with _half_sent(base, token, 1_000_000, folder), _half_sent(base, token, 1_000_001, folder):
            # Both have stopped sending, more of them than there are turns: others go on.
            answer = httpx2.post(
                f"{base}/api/v1/messages",
                content=fixture_bytes("encoded-words.eml"),
                headers={"Authorization": f"Bearer {token}", "Content-Type": RAW},
                timeout=60,
            )
            assert answer.status_code == 201, answer.text


def test_a_user_signed_out_while_their_message_comes_is_refused_and_nothing_is_kept(
    api: Api,
) -> None:
    service = api.org.service
    message = _attached(700_000)  # several batches of the writer
    ref = api.read("text-only.eml", api.sign_in())["message_ref"]
    folder = _user_folder(service, ref)
    with serving(create_app(service.settings, service)) as base:
        token = _token(base, api)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": RAW}

        def signed_out_half_way() -> Iterator[bytes]:
            for number, piece in enumerate(_pieces(message, 100_000)):
                if number == 4:  # the first batch is written: the sign-in was good then
                    _until(lambda: _arriving(folder), "the upload is being written")
                    gone = httpx2.delete(f"{base}/api/v1/session", headers=headers)
                    assert gone.status_code == 204, gone.text
                yield piece

        answer = httpx2.post(
            f"{base}/api/v1/messages", content=signed_out_half_way(), headers=headers
        )
    assert answer.status_code == 401, answer.text
    assert _until(lambda: not _arriving(folder), "what came is discarded")
